"""Imports cost what a command uses (style habit 20), and the layers hold at run time too:
``lake --help`` and ``lake --version`` load no data library, and the contract spec loads none of
the code that runs it. Each check runs in a fresh interpreter, since this one has loaded all."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import lake
from lake.cli.app import main

HEAVY = (
    "polars",
    "pyarrow",
    "pandas",
    "scipy",
    "sqlglot",
    "deltalake",
    "pandera",
    "boto3",
    "lake.repository",
)


def loaded_after(code: str, watch: tuple[str, ...]) -> list[str]:
    """Which of ``watch`` are in sys.modules after ``code`` runs in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in {watch!r} if m in sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["branch", "--help"]])
def test_help_and_version_load_no_data_library(argv: list[str]) -> None:
    code = (
        "import contextlib, io\nfrom lake.cli.app import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()):\n    assert main({argv!r}) == 0"
    )
    assert loaded_after(code, HEAVY) == []


def test_version_prints_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"lake {lake.__version__}\n"


def test_the_contract_spec_loads_none_of_what_runs_it() -> None:
    code = (
        'import lake.contracts\nlake.contracts.Contract.from_text("dataset: d\\ncolumns: {a: {type: int64}}")'
    )
    assert loaded_after(code, ("lake.validation", "pandera", "scipy", "lake.repository")) == []


def test_every_error_is_importable_from_lake_errors_and_its_old_home() -> None:
    code = """
import lake.errors as e
from lake.contracts import ContractError
from lake.merge.plan import MergeConflictError
from lake.storage import PreconditionFailed
from lake.table.layers import VersionTaken
from lake.validation.gate_report import GateFailedError
from lake.validation.report import ContractViolationError
assert ContractError is e.ContractError and MergeConflictError is e.MergeConflictError
assert PreconditionFailed is e.PreconditionFailed and VersionTaken is e.VersionTaken
assert GateFailedError is e.GateFailedError and ContractViolationError is e.ContractViolationError
"""
    assert loaded_after(code, ()) == []
