"""The gate on a branch judged by Spark's executors (issue 14): `lake.spark.gate` gives the verdict
the local gate gives, check for check. Quality (every check's status and failing rows, keys
repeated across the branch's files or clashing with main's), volume and schema are the same
exactly; drift, judged from the parts' merged sketches, reaches the same verdicts on a good load
and on a drifted one. On both backends."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from test_gate import N, contract, orders

import lake
import lake.spark

pytestmark = pytest.mark.spark


def _verdicts(report: lake.GateReport, *categories: str) -> dict[tuple[str, str], tuple[str, str]]:
    return {
        (c.category, c.name): (c.status, c.value)
        for c in report.checks
        if not categories or c.category in categories
    }


@pytest.fixture
def target(repo: lake.Repository) -> lake.Repository:
    main = repo.branch("main")
    main.set_contract(
        "orders",
        contract(checks=[{"name": "enough", "row_count": {"min": 10}}], volume={"max_rows_added": 10 * N}),
    )
    main.write("orders", orders(0, seed=1))
    repo.protect("main", protected=True)
    return repo


def _branch(repo: lake.Repository, name: str, *loads: pa.Table) -> None:
    b = repo.create_branch(name)
    for load in loads:
        b.write("orders", load)


@pytest.mark.parametrize(
    ("case", "loads", "verdict"),
    [
        ("good", [orders(N, seed=2), orders(2 * N, seed=3)], "pass"),
        ("drifted", [orders(N, seed=2, scale=8.0), orders(2 * N, seed=3, scale=8.0)], "fail"),
    ],
    ids=["good", "drifted"],
)
def test_the_spark_gate_gives_the_local_verdict(
    spark: Any, target: lake.Repository, case: str, loads: list[pa.Table], verdict: str
) -> None:
    _branch(target, "daily", *loads)
    local = target.gate("daily")
    distributed = lake.spark.gate(spark, target, "daily")
    assert local.verdict == distributed.verdict == verdict
    exact = ("quality", "volume", "schema", "merge", "contract")
    assert _verdicts(distributed, *exact) == _verdicts(local, *exact)
    drift = {k: v[0] for k, v in _verdicts(distributed, "drift").items()}
    assert drift == {k: v[0] for k, v in _verdicts(local, "drift").items()}


def test_the_spark_gate_finds_repeated_and_clashing_keys_and_failing_rows(
    spark: Any, target: lake.Repository
) -> None:
    """The branch loosened its own contract (which the gate does not trust): keys repeated across
    its files, one that main holds already, and rows breaking main's rules are found alike."""
    b = target.create_branch("daily")
    b.set_contract(
        "orders",
        contract(
            primary_key=[],
            columns={"id": {"type": "int64"}, "amount": {"type": "float64"}, "currency": {"type": "string"}},
        ),
    )
    b.write("orders", orders(N, seed=2))
    b.write("orders", orders(N + 10, 20, seed=3))  # ids N+10..N+29 twice
    b.write("orders", pa.table({"id": [5, 7000], "amount": [1.0, -3.0], "currency": ["EUR", "XXX"]}))
    local = target.gate("daily")
    distributed = lake.spark.gate(spark, target, "daily")
    quality = _verdicts(local, "quality")
    assert quality[("quality", "primary_key")] == ("fail", f"41 of {N + 22} rows")
    assert quality[("quality", "amount.min")][0] == quality[("quality", "currency.in")][0] == "fail"
    assert _verdicts(distributed, "quality") == quality
    assert local.verdict == distributed.verdict == "fail"
