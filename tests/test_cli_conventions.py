"""The CLI behaves like the tools people know (issue 13, part 3): `lake log main`, `--debug` and
`--no-color` anywhere on the line, NO_COLOR, shell completion, and exit codes that say who is
at fault (0 ok, 1 the data's verdict, 2 bad usage or input, 3 could not run)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import Lake

from lake.cli.app import main

LAKE = shutil.which("lake", path=os.path.dirname(sys.executable)) or "lake"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LAKE, *args], env={**os.environ, **(env or {})}, capture_output=True, text=True)


def test_log_takes_the_ref_as_an_argument(cli: Lake) -> None:
    assert cli("log", "main", "--json") == cli("log", "--ref", "main", "--json")
    assert "two refs given" in cli("log", "main", "--ref", "other", code=2)


def test_debug_is_accepted_anywhere_on_the_line(cli: Lake, capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--debug", "log", "nowhere"], ["log", "nowhere", "--debug"], ["log", "--debug", "nowhere"]):
        capsys.readouterr()
        assert main([*args, "--repo", cli.uri]) == 2
        assert "Traceback" in capsys.readouterr().err
    assert main(["log", "nowhere", "--repo", cli.uri]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_no_color_and_NO_COLOR_turn_colors_off(tmp_path: Path) -> None:
    env = {"LAKE_REPO": str(tmp_path / "r"), "FORCE_COLOR": "1", "NO_COLOR": ""}
    assert _run("init", env=env).returncode == 0
    colored = _run("log", "nowhere", env=env)
    assert colored.returncode == 2 and "\x1b[1;31m" in colored.stderr  # bold red "error:"
    for args, extra in (
        (("log", "nowhere", "--no-color"), {}),
        (("--no-color", "log", "nowhere"), {}),
        (("log", "nowhere"), {"NO_COLOR": "1"}),
    ):
        plain = _run(*args, env={**env, **extra})
        assert plain.returncode == 2 and "31m" not in plain.stderr and "error:" in plain.stderr


def test_shell_completion_is_offered() -> None:
    shown = _run("--show-completion", "bash", env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert shown.returncode == 0 and "_lake_completion" in shown.stdout
    assert "--install-completion" in _run("--help").stdout


def test_version() -> None:
    got = _run("--version")
    assert got.returncode == 0 and got.stdout.startswith("lake ")


@pytest.fixture
def with_data(cli: Lake, tmp_path: Path) -> Path:
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"id": [1, 2], "amount": [1.0, -1.0]}), path)
    contract = tmp_path / "c.yaml"
    contract.write_text("dataset: orders\ncolumns:\n  id: {type: int64}\n  amount: {type: float64, min: 0}\n")
    cli("contract", "set", "orders", str(contract))
    return path


@pytest.mark.parametrize(
    ("args", "code"),
    [
        pytest.param(("log", "--no-such-option"), 2, id="unknown option"),
        pytest.param(("read", "nope"), 2, id="unknown dataset"),
        pytest.param(("log", "--ref", "nowhere"), 2, id="unknown ref"),
        pytest.param(("branch", "create", "a..b"), 2, id="bad name"),
        pytest.param(("write", "orders", "/no/such.parquet"), 2, id="bad file"),
        pytest.param(("write", "orders", "{data}"), 1, id="contract failure"),
        pytest.param(("branch", "delete", "main"), 1, id="refused"),
    ],
)
def test_exit_codes_say_who_is_at_fault(cli: Lake, with_data: Path, args: tuple[str, ...], code: int) -> None:
    cli(*(str(with_data) if a == "{data}" else a for a in args), code=code)


def test_an_output_file_that_cannot_be_written_is_bad_input(cli: Lake, tmp_path: Path) -> None:
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"id": [1, 2]}), path)
    cli("write", "orders", str(path))
    out = cli("read", "orders", "-f", "csv", "-o", str(tmp_path / "no" / "such" / "out.csv"), code=2)
    assert "cannot write" in out
    out = cli("gate", "main", "--format", "json", "--output", str(tmp_path / "no" / "gate.json"), code=2)
    assert "cannot write" in out


def test_bad_yaml_and_not_a_repository_are_bad_input(cli: Lake, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: [unclosed\n")
    assert "bad.yaml" in cli("contract", "set", "orders", str(bad), code=2)
    assert main(["log", "--repo", str(tmp_path / "void")]) == 2


def test_storage_that_cannot_be_reached_could_not_run(tmp_path: Path) -> None:
    env = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens on the discard port
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
        "LAKE_STORAGE_MAX_RETRIES": "0",
        "LAKE_STORAGE_CONNECT_TIMEOUT": "1",
        "LAKE_STORAGE_RETRY_TIMEOUT": "2",
    }
    got = _run("log", "--repo", "s3://nowhere-bucket/lake", env=env)
    assert got.returncode == 3 and "Traceback" not in got.stderr
