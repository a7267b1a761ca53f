"""Validate without a repository (issue 10, point 6): ``lake.validate`` on pyarrow, pandas and
polars data, and ``lake validate FILE --contract C.yaml`` on parquet, CSV and JSON lines, with
text, JSON and JUnit output and exit codes 0, 1 and 2, outside any repository."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lake
from lake.cli.app import main

CONTRACT = """dataset: orders
primary_key: [order_id]
columns:
  order_id: {type: int64, nullable: false}
  amount: {type: float64, min: 0}
  currency: {type: string, in: [EUR, USD]}
  customer_id: {type: int64, references: {dataset: customers, column: customer_id}}
checks:
  - {name: some_rows, row_count: {min: 1}}
"""
GOOD = {
    "order_id": [1, 2, 3],
    "amount": [1.5, 0.0, 9.0],
    "currency": ["EUR", "USD", "EUR"],
    "customer_id": [7, 7, 8],
}
BAD = {
    "order_id": [1, 1, 3],
    "amount": [1.5, -2.0, 9.0],
    "currency": ["EUR", "JPY", None],
    "customer_id": [7, 7, 8],
}


@pytest.fixture
def contract_file(tmp_path: Path) -> Path:
    path = tmp_path / "orders.yaml"
    path.write_text(CONTRACT)
    return path


@pytest.mark.parametrize("kind", ["arrow", "pandas", "polars", "lazy", "reader"])
def test_lake_validate_takes_every_kind_of_frame(kind: str, contract_file: Path) -> None:
    def frame(data: dict[str, list[Any]]) -> Any:
        table = pa.table(data)
        return {
            "arrow": table,
            "pandas": table.to_pandas(),
            "polars": pl.from_arrow(table),
            "lazy": pl.from_arrow(table).lazy(),  # type: ignore[union-attr]
            "reader": table.to_reader(),
        }[kind]

    good = lake.validate(frame(GOOD), contract_file)
    assert good.ok and good.rows == 3
    [note] = [r for r in good.results if r.kind == "references"]
    assert note.status == "warn" and "not checked" in note.message
    bad = lake.validate(frame(BAD), lake.Contract.from_yaml(contract_file))
    assert not bad.ok
    assert {r.name for r in bad.failures} == {"primary_key", "amount.min", "currency.in"}


def test_lake_validate_takes_yaml_text_and_reports_contract_errors_with_the_line() -> None:
    assert lake.validate(pa.table(GOOD), CONTRACT).ok
    with pytest.raises(lake.ContractError, match=re.escape("<contract>:4: columns.order_id.typ")):
        lake.validate(pa.table(GOOD), CONTRACT.replace("{type: int64, nullable", "{typ: int64, nullable"))


def _write(path: Path, data: dict[str, list[Any]]) -> Path:
    table = pa.table(data)
    if path.suffix == ".parquet":
        pq.write_table(table, path)
    elif path.suffix == ".csv":
        pl.from_arrow(table).write_csv(path)  # type: ignore[union-attr]
    else:
        pl.from_arrow(table).write_ndjson(path)  # type: ignore[union-attr]
    return path


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_the_cli_checks_parquet_csv_and_json_lines_outside_a_repository(
    suffix: str,
    tmp_path: Path,
    contract_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # no repository here
    good = _write(tmp_path / f"good{suffix}", GOOD)
    bad = _write(tmp_path / f"bad{suffix}", BAD)
    assert main(["validate", str(good), "--contract", str(contract_file)]) == 0
    assert "passed" in capsys.readouterr().out
    assert main(["validate", str(bad), "--contract", str(contract_file)]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "amount.min" in out and "currency.in" in out
    assert main(["validate", str(bad), "--contract", str(contract_file), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and {r["name"] for r in report["results"] if r["status"] == "fail"} == {
        "primary_key",
        "amount.min",
        "currency.in",
    }


def test_junit_output_is_a_test_suite_with_a_case_per_check(
    tmp_path: Path, contract_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _write(tmp_path / "bad.parquet", BAD)
    assert main(["validate", str(bad), "--contract", str(contract_file), "--format", "junit"]) == 1
    root = ET.fromstring(capsys.readouterr().out)
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert int(suite.get("tests", "0")) == len(cases) and int(suite.get("failures", "0")) == 3
    failure = cases["amount.min"].find("failure")
    assert failure is not None and "1 of 3 rows" in failure.get("message", "")
    assert '"amount": -2.0' in (failure.text or "")  # the sample row
    assert cases["order_id.type"].find("failure") is None
    warned = cases["customer_id.references"].find("system-out")
    assert warned is not None and "not checked" in (warned.text or "")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["dataset"] == "orders" and props["rows"] == "3"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["validate", "{missing}", "--contract", "{contract}"], "no such file"),
        (["validate", "{data}", "--contract", "{missing}"], "cannot read the file"),
        (["validate", "{data}", "--contract", "{broken}"], "broken.yaml:3"),
        (["validate", "{data}", "--contract", "{contract}", "--format", "xml"], "unknown --format"),
        (["validate", "{text}", "--contract", "{contract}"], "cannot tell the format"),
        (["validate", "{text}", "--contract", "{contract}", "--input-format", "parquet"], "cannot read"),
        (["validate", "{data}"], "--contract"),
    ],
)
def test_bad_input_exits_2_and_says_what(
    args: list[str], needle: str, tmp_path: Path, contract_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("dataset: orders\ncolumns:\n  id: {type: nosuch}\n")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    paths = {
        "missing": str(tmp_path / "nope.parquet"),
        "contract": str(contract_file),
        "data": str(_write(tmp_path / "d.parquet", GOOD)),
        "broken": str(broken),
        "text": str(text),
    }
    assert main([a.format(**paths) for a in args]) == 2
    captured = capsys.readouterr()
    assert needle in captured.out + captured.err


rows = st.lists(
    st.tuples(
        st.integers(0, 5),
        st.one_of(st.none(), st.floats(-5, 5)),
        st.sampled_from(["EUR", "USD", "JPY", None]),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=rows)
def test_lake_validate_agrees_with_a_write_to_a_repository(
    tmp_path_factory: pytest.TempPathFactory, data: list[Any]
) -> None:
    """Whatever the rows, lake.validate and a write to an empty dataset agree check by check."""
    spec = lake.Contract.from_text(
        CONTRACT.replace(
            "  customer_id: {type: int64, references: {dataset: customers, column: customer_id}}\n", ""
        )
    )
    table = pa.table(
        {
            "order_id": pa.array([r[0] for r in data], pa.int64()),
            "amount": pa.array([r[1] for r in data], pa.float64()),
            "currency": pa.array([r[2] for r in data], pa.string()),
        }
    )
    alone = {r.name: r.status for r in lake.validate(table, spec).results}
    repo = lake.Repository.init(str(tmp_path_factory.mktemp("agree")))
    main_branch = repo.branch("main")
    main_branch.set_contract("orders", spec)
    try:
        written = main_branch.write("orders", table).validation["orders"]
    except lake.ContractViolationError as exc:
        [written] = exc.reports
    assert {r.name: r.status for r in written.results} == alone
