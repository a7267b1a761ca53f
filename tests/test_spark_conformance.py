"""The contract conformance cases through both engines (issue 14): every check kind, with good
data and bad, rejected and quarantined, written once by the local engine and once by Spark's
executors (`lake.spark.write`). The two must agree exactly: whether the write commits, each
check's status, failing rows and rows checked, how many rows went aside, which rows (with the
checks each breaks), and what the dataset holds after. The checks' semantics do not depend on the
storage, so the whole table runs on local disk and the cases that read, rewrite and set aside
files (keys across partitions and kept ones; quarantine of each kind that sets rows aside) run
on S3 too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pytest
from test_contract_checks import COLUMNS, METRIC_CASES, NUMS, ORDERS, WHERE_CASES, _metric_contract
from test_contract_checks import contract as where_contract
from test_contract_enforcement import CASES

import lake
import lake.spark
from lake.contracts import Contract

pytestmark = pytest.mark.spark


@dataclass(frozen=True)
class Outcome:
    committed: bool
    checks: dict[str, tuple[str, int, int]]  # name: (status, failed rows, rows checked)
    quarantined: int
    aside: list[tuple[Any, ...]]  # the rows set aside, as strings, with their checks
    rows: list[tuple[Any, ...]]  # what the dataset holds after


def _sorted(table: pa.Table | None, drop: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    if table is None:
        return []
    names = [n for n in table.column_names if n not in drop]
    return sorted((tuple(repr(r[n]) for n in names) for r in table.to_pylist()), key=str)


def _write(
    engine: str, repo: lake.Repository, spark: Any, branch: str, data: pa.Table, on_violation: str
) -> Outcome:
    try:
        if engine == "local":
            result = repo.branch(branch).write("t", data, on_violation=on_violation)  # type: ignore[arg-type]
        else:
            frame = spark.createDataFrame(data).repartition(2)
            result = lake.spark.write(frame, repo, "t", branch=branch, on_violation=on_violation)  # type: ignore[arg-type]
        report, committed = result.validation["t"], True
    except lake.ContractViolationError as refused:
        [report], committed = refused.reports, False
    names = {d.name for d in repo.datasets(branch)}
    aside = repo.read("t__quarantine", branch) if "t__quarantine" in names else None
    rows = repo.read("t", branch) if "t" in names else None
    return Outcome(
        committed,
        {r.name: (r.status, r.failed_rows, r.rows) for r in report.results},
        report.quarantined,
        _sorted(aside, drop=("_lake_txn",)),
        _sorted(rows),
    )


def _both(repo: lake.Repository, spark: Any, spec: Contract, data: pa.Table, on_violation: str) -> Outcome:
    repo.branch("main").set_contract("t", spec)
    repo.create_branch("local")
    repo.create_branch("spark")
    local = _write("local", repo, spark, "local", data, on_violation)
    distributed = _write("spark", repo, spark, "spark", data, on_violation)
    assert distributed == local
    return local


@pytest.mark.parametrize(("kind", "spec", "good", "bad", "check"), CASES, ids=[c[0] for c in CASES])
def test_good_data_is_admitted_alike(
    local_repo: lake.Repository,
    spark: Any,
    kind: str,
    spec: Contract,
    good: pa.Table,
    bad: pa.Table,
    check: str,
) -> None:
    outcome = _both(local_repo, spark, spec, good, "reject")
    assert outcome.committed and outcome.checks[check][0] == "pass"


@pytest.mark.parametrize("on_violation", ["reject", "quarantine"])
@pytest.mark.parametrize(("kind", "spec", "good", "bad", "check"), CASES, ids=[c[0] for c in CASES])
def test_bad_data_is_judged_alike(
    local_repo: lake.Repository,
    spark: Any,
    kind: str,
    spec: Contract,
    good: pa.Table,
    bad: pa.Table,
    check: str,
    on_violation: str,
) -> None:
    outcome = _both(local_repo, spark, spec, bad, on_violation)
    assert outcome.checks[check][0] == "fail"
    assert outcome.committed == (on_violation == "quarantine" and outcome.quarantined > 0)


ASIDE = [
    c for c in CASES if c[0] in ("not_null", "unique", "mostly", "primary key", "type", "dataset sql check")
]


@pytest.mark.parametrize(("kind", "spec", "good", "bad", "check"), ASIDE, ids=[c[0] for c in ASIDE])
def test_rows_set_aside_are_the_same_on_either_backend(
    repo: lake.Repository, spark: Any, kind: str, spec: Contract, good: pa.Table, bad: pa.Table, check: str
) -> None:
    outcome = _both(repo, spark, spec, bad, "quarantine")
    assert outcome.committed and outcome.quarantined > 0 and outcome.checks[check][0] == "fail"


KEYED = where_contract({"id": {"type": "int64"}, "x": {"type": "float64", "min": 0}}, primary_key=["id"])


@pytest.mark.parametrize("on_violation", ["reject", "quarantine"])
def test_keys_repeated_across_partitions_and_kept_ones_are_judged_alike(
    repo: lake.Repository, spark: Any, on_violation: str
) -> None:
    """A key repeated within the load (in different partitions), one the dataset keeps already,
    and a row breaking a rule whose key also repeats: counted, and set aside, alike."""
    repo.branch("main").set_contract("t", KEYED)
    repo.branch("main").write("t", pa.table({"id": [1, 2, 3], "x": [1.0, 1.0, 1.0]}))
    ids = [10, 11, 12, 13, 2, 14, 13, 15, 16, 16]
    xs = [1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0, -2.0, 1.0]
    outcome = _both(repo, spark, KEYED, pa.table({"id": ids, "x": xs}), on_violation)
    assert outcome.checks["primary_key"] == ("fail", 5, 10)
    assert outcome.checks["x.min"] == ("fail", 2, 10)


@pytest.mark.parametrize(("kind", "columns", "checks", "name"), WHERE_CASES, ids=[c[0] for c in WHERE_CASES])
def test_where_is_judged_alike(
    local_repo: lake.Repository,
    spark: Any,
    kind: str,
    columns: dict[str, Any],
    checks: list[dict[str, Any]],
    name: str,
) -> None:
    spec = where_contract({**COLUMNS, **columns}, checks)
    outcome = _both(local_repo, spark, spec, ORDERS, "reject")
    holds = kind != "check-freshness"  # (it selects no row: nothing is fresh)
    assert outcome.committed == holds and outcome.checks[name][0] == ("pass" if holds else "fail")


@pytest.mark.parametrize(
    ("metric", "column", "value", "holds", "breaks"), METRIC_CASES, ids=[c[0] for c in METRIC_CASES]
)
def test_metrics_are_judged_alike(
    local_repo: lake.Repository,
    spark: Any,
    metric: str,
    column: str,
    value: float,
    holds: dict[str, Any],
    breaks: dict[str, Any],
) -> None:
    outcome = _both(local_repo, spark, _metric_contract(metric, column, breaks), NUMS, "reject")
    assert not outcome.committed and outcome.checks[f"{column}.{metric}"][0] == "fail"
