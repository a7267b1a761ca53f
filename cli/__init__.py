"""The `lake` command: a thin typer adapter over the `lake` Python API (installed as lake.cli)."""
