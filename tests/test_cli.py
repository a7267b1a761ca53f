"""The `lake` command: every command's help, JSON output, exit codes, and errors without tracebacks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import Lake

from lake.cli.app import main


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {}
    t = pa.table({"order_id": [1, 2, 3], "amount": [10.0, 20.0, 30.0]})
    out["parquet"] = tmp_path / "orders.parquet"
    pq.write_table(t, out["parquet"])
    out["csv"] = tmp_path / "more.csv"
    out["csv"].write_text("order_id,amount\n4,40.0\n5,50.0\n")
    out["json"] = tmp_path / "fix.jsonl"
    out["json"].write_text('{"order_id": 2, "amount": 99.0}\n{"order_id": 6, "amount": 60.0}\n')
    return out


def test_the_whole_story_through_the_cli(cli: Lake, files: dict[str, Path]) -> None:
    first = cli.json("write", "orders", str(files["parquet"]), "-m", "initial load")
    assert first["datasets"]["orders"]["rows_added"] == 3  # type: ignore[index]
    cli("tag", "create", "v1")
    cli("branch", "create", "feature")
    cli("write", "orders", str(files["csv"]), "--branch", "feature")
    cli("upsert", "orders", str(files["json"]), "--key", "order_id", "--branch", "feature")
    cli("delete", "orders", "--where", "order_id = 1", "--branch", "feature")
    rows = [
        json.loads(line)
        for line in cli("read", "orders", "--ref", "feature", "--format", "json").splitlines()
    ]
    assert sorted(r["order_id"] for r in rows) == [2, 3, 4, 5, 6]
    assert {r["order_id"]: r["amount"] for r in rows}[2] == 99.0
    diff = cli.json("diff", "main", "feature")
    [d] = diff["datasets"]  # type: ignore[index]
    assert d["dataset"] == "orders" and d["rows_added"] - d["rows_removed"] == 2
    log = cli.json("log", "--ref", "feature")
    assert [c["message"] for c in log][:1] == ["delete from orders where order_id = 1"]  # type: ignore[index]
    assert len(cli.json("log", "--ref", "feature", "--dataset", "orders")) == 4  # type: ignore[arg-type]
    shown = cli.json("show", "v1")
    assert shown["message"] == "initial load"  # type: ignore[index]
    old = cli("read", "orders", "--ref", "v1", "--format", "csv")
    assert old.splitlines()[0] == '"order_id","amount"' and len(old.splitlines()) == 4
    assert [b["name"] for b in cli.json("branch", "list")] == ["feature", "main"]  # type: ignore[union-attr,index]
    assert [t["name"] for t in cli.json("tag", "list")] == ["v1"]  # type: ignore[union-attr,index]
    [ds] = cli.json("datasets", "--ref", "feature")  # type: ignore[misc]
    assert ds["rows"] == 5
    reverted = cli.json("revert", log[0]["id"], "--branch", "feature")  # type: ignore[index]
    assert reverted["changed"]  # type: ignore[index]
    cli("branch", "delete", "feature")
    cli("tag", "delete", "v1")


def test_human_output_is_tables(cli: Lake, files: dict[str, Path]) -> None:
    cli("write", "orders", str(files["parquet"]))
    for args in (("log",), ("datasets",), ("read", "orders"), ("show", "main"), ("branch", "list")):
        assert "┃" in cli(*args) or "│" in cli(*args)


def test_read_to_a_parquet_file(cli: Lake, files: dict[str, Path], tmp_path: Path) -> None:
    cli("write", "orders", str(files["parquet"]))
    target = tmp_path / "out.parquet"
    cli("read", "orders", "--format", "parquet", "--output", str(target), "--limit", "2")
    assert pq.read_table(target).num_rows == 2


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("branch", "create", "a..b"), 2, "'..'"),
        (("branch", "delete", "main"), 1, "cannot be deleted"),
        (("read", "nope"), 2, "no dataset 'nope'"),
        (("log", "--ref", "nowhere"), 2, "nowhere"),
        (("write", "orders", "/no/such/file.parquet"), 2, "no such file"),
        (("write", "orders", "data.txt"), 2, "no such file"),
        (("read", "orders", "--format", "parquet"), 2, "no dataset"),
        (("diff", "main"), 2, "Missing argument"),
        (("delete", "orders", "--where", "x = 1"), 2, "no dataset 'orders'"),
    ],
)
def test_errors_are_one_sentence_and_an_exit_code(
    cli: Lake, args: tuple[str, ...], code: int, says: str
) -> None:
    assert says in cli(*args, code=code)


def test_json_errors_are_data(cli: Lake) -> None:
    out = cli("read", "nope", "--json", code=2)
    payload = json.loads(out[: out.index("}") + 1])
    assert payload["error"] == "DatasetNotFoundError"


def test_opening_a_non_repository_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["log", "--repo", str(tmp_path / "void")]) == 2
    assert f"{tmp_path / 'void'} is not a lakegate repository" in capsys.readouterr().err


COMMANDS = [
    ["init"],
    ["write"],
    ["delete"],
    ["upsert"],
    ["read"],
    ["log"],
    ["show"],
    ["datasets"],
    ["diff"],
    ["revert"],
    ["merge"],
    ["gate"],
    ["branch", "create"],
    ["branch", "list"],
    ["branch", "delete"],
    ["tag", "create"],
    ["tag", "list"],
    ["tag", "delete"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_and_json(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--help"]) == 0
    assert "--json" in capsys.readouterr().out


def test_console_script_exit_codes_and_no_traceback(tmp_path: Path) -> None:
    exe = shutil.which("lake", path=os.path.dirname(os.sys.executable)) or "lake"  # type: ignore[attr-defined]
    env = {**os.environ, "LAKE_REPO": str(tmp_path / "r")}
    ok = subprocess.run([exe, "init"], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([exe, "branch", "create", "-bad"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    refused = subprocess.run([exe, "branch", "delete", "main"], env=env, capture_output=True, text=True)
    assert refused.returncode == 1 and "cannot be deleted" in refused.stderr
    debug = subprocess.run(
        [exe, "--debug", "branch", "delete", "main"], env=env, capture_output=True, text=True
    )
    assert debug.returncode == 1 and "Traceback" in debug.stderr


FIXTURES = Path(__file__).parent / "fixtures"


def test_contract_commands(cli: Lake, tmp_path: Path) -> None:
    orders = FIXTURES / "orders.yaml"
    cli("contract", "set", "orders", str(orders))
    shown = cli("contract", "show", "orders")
    assert "primary_key: [order_id]" in shown
    assert "kind: DataContract" in cli("contract", "show", "orders", "--odcs")
    good = tmp_path / "good.csv"
    good.write_text(
        "order_id,customer_id,amount,currency,email,created_at\n1,10,5.0,EUR,a@b.c,2026-11-22T10:00:00Z\n"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "order_id,customer_id,amount,currency,email,created_at\n"
        "2,11,5.0,EUR,a@b.c,2026-11-22T10:00:00Z\n3,12,-5.0,XXX,bad,2026-11-22T10:00:00Z\n"
    )
    cli("write", "orders", str(good))
    refused = cli("write", "orders", str(bad), code=1)
    assert "amount.min" in refused and "sample rows breaking amount.min" in refused
    assert "nothing was committed" in refused
    payload = json.loads(cli("write", "orders", str(bad), "--json", code=1))
    assert {r["name"] for r in payload["reports"][0]["results"] if r["status"] == "fail"} >= {"amount.min"}
    cli("write", "orders", str(bad), "--quarantine")
    assert cli.json("read", "orders__quarantine")["order_id"] == "3"  # type: ignore[index]
    checked = cli.json("contract", "check", "orders")
    assert checked["ok"] is True  # type: ignore[index]
    drafted = cli("contract", "infer", "orders")
    assert drafted.startswith("dataset: orders")
    odcs = tmp_path / "orders.odcs.yaml"
    odcs.write_text(cli("contract", "export-odcs", str(orders)))
    back = tmp_path / "back.yaml"
    back.write_text(cli("contract", "import-odcs", str(odcs)))
    assert "no changes" in cli("contract", "diff", str(orders), str(back))
    cli("contract", "diff", str(orders), str(FIXTURES / "orders_v2.yaml"), code=1)
    cli("branch", "protect", "main", "--require-contracts")
    free = tmp_path / "free.csv"
    free.write_text("a\n1\n")
    assert "requires a contract" in cli("write", "free", str(free), code=1)
    cli("branch", "unprotect", "main")
    cli("write", "free", str(free))


def test_a_bad_contract_file_names_the_line(cli: Lake, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("dataset: orders\ncolumns:\n  id: {type: int64, nulable: false}\n")
    out = cli("contract", "set", "orders", str(broken), code=2)
    assert f"{broken}:3: columns.id.nulable: unknown key 'nulable' (did you mean 'nullable'?)" in out


def test_merge_command(cli: Lake, files: dict[str, Path]) -> None:
    cli("write", "orders", str(files["parquet"]))
    cli("branch", "create", "a")
    cli("write", "orders", str(files["csv"]), "--branch", "a")
    dry = cli.json("merge", "a", "--dry-run")
    assert dry["dry_run"] and dry["commit"] is None  # type: ignore[index]
    merged = cli.json("merge", "a", "--into", "main")
    assert merged["kind"] == "fast-forward" and merged["datasets"]["orders"]["rows_added"] == 2  # type: ignore[index]
    assert "nothing to merge" in cli("merge", "a")
    cli("branch", "protect", "main")
    assert "protected" in cli("write", "orders", str(files["csv"]), code=1)
    assert "cannot be deleted" in cli("branch", "delete", "main", code=1)


def test_gate_command_formats_and_exit_codes(
    cli: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    spec = tmp_path / "c.yaml"
    spec.write_text("dataset: m\nprimary_key: [id]\ncolumns:\n  id: {type: int64}\n  x: {type: float64}\n")
    cli("contract", "set", "m", str(spec))
    rng = np.random.default_rng(0)
    base = tmp_path / "base.parquet"
    pq.write_table(pa.table({"id": np.arange(5000), "x": rng.normal(0, 1, 5000)}), base)
    cli("write", "m", str(base))
    good, bad = tmp_path / "good.parquet", tmp_path / "bad.parquet"
    pq.write_table(pa.table({"id": np.arange(5000, 10000), "x": rng.normal(0, 1, 5000)}), good)
    pq.write_table(pa.table({"id": np.arange(10000, 15000), "x": rng.normal(5, 1, 5000)}), bad)
    cli("branch", "create", "ok")
    cli("write", "m", str(good), "--branch", "ok")
    cli("branch", "create", "drifted")
    cli("write", "m", str(bad), "--branch", "drifted")
    assert "passed" in cli("gate", "ok")
    assert "BLOCKED" in cli("gate", "drifted", code=1)
    junit = tmp_path / "gate.xml"
    cli("gate", "drifted", "--format", "junit", "--output", str(junit), code=1)
    assert junit.read_text().startswith("<?xml")
    assert "::error title=lake gate m::drift/x" in cli("gate", "drifted", "--format", "github", code=1)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    cli("gate", "ok", "--format", "github", "--summary")
    assert summary.read_text().startswith("### ✅ lake gate ok -> main")
    payload = cli.json("gate", "drifted", code=1)
    assert payload["verdict"] == "fail"  # type: ignore[index]
    refused = cli("merge", "drifted", code=1)
    assert "the gate blocked merging drifted into main" in refused
    cli("merge", "drifted", "--force", "--reason", "new sensor calibration")
    [last] = cli.json("log", "--limit", "1")  # type: ignore[misc]
    assert last["metadata"]["lake.override"]["reason"] == "new sensor calibration"
    assert "new sensor calibration" in cli("show", "main")
