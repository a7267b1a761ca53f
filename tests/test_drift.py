"""Drift at the gate (issue 10, points 1 and 7): material shifts block by default, thresholds are
settable per column, sampling noise never blocks, and the fast statistics equal scipy's."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial import distance

import lake
from lake.contracts import Contract
from lake.validation.drift import column_drift, wasserstein_sorted

CATEGORIES = np.array(["A", "B", "C", "D", "E", "F"])
SHARES = np.array([0.40, 0.25, 0.15, 0.09, 0.06, 0.05])


def doubled(which: int) -> np.ndarray:
    """SHARES with category ``which``'s share doubled, taken from the others in proportion."""
    out = SHARES * (1 - 2 * SHARES[which]) / (1 - SHARES[which])
    out[which] = 2 * SHARES[which]
    return out


def load(rows: int, seed: int, *, shares: np.ndarray = SHARES, null_rate: float = 0.02) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "id": pa.array(np.arange(rows, dtype=np.int64) + seed * 10_000_000),
            "category": pa.array(CATEGORIES[rng.choice(len(CATEGORIES), rows, p=shares)]),
            "amount": pa.array(rng.normal(100, 20, rows), mask=rng.random(rows) < null_rate),
        }
    )


def contract(drift: dict[str, object] | None = None) -> Contract:
    raw: dict[str, object] = {
        "dataset": "orders",
        "primary_key": ["id"],
        "columns": {"id": {"type": "int64"}, "category": {"type": "string"}, "amount": {"type": "float64"}},
    }
    if drift:
        raw["drift"] = drift
    return Contract.model_validate(raw)


def _gate(repo: lake.Repository, name: str, rows: pa.Table) -> tuple[dict[str, Any], lake.GateReport]:
    """The drift checks of the gate of a new branch ``name`` that writes ``rows``, and the report."""
    branch = repo.create_branch(name, "main")
    branch.write("orders", rows)
    report = repo.gate(name, into="main")
    return {c.name: c for c in report.checks if c.category == "drift"}, report


@pytest.fixture(scope="module")
def million() -> pa.Table:
    return load(1_000_000, 1)


def test_the_material_shifts_of_the_issue_fail_the_gate(repo: lake.Repository, million: pa.Table) -> None:
    """As reported: against a 1,000,000-row main, a 200,000-row branch drawn from main's
    distribution but for a category of ~9% whose share doubles, or a null rate rising from 2% to
    7%, was merged (the first only warned of, the second at most a warning). Both fail now."""
    main = repo.branch("main")
    main.set_contract("orders", contract())
    main.write("orders", million)
    doubling = load(200_000, 9, shares=doubled(3))
    share = pc.mean(pc.equal(doubling["category"], "D")).as_py()
    assert share < 2 * pc.mean(pc.equal(million["category"], "D")).as_py()  # just under 2x: as drawn
    checks, report = _gate(repo, "category", doubling)
    assert not report.passed
    assert checks["category"].status == "fail" and "D 9.0% -> 1" in checks["category"].message
    checks, report = _gate(repo, "nulls", load(200_000, 3, null_rate=0.07))
    assert not report.passed
    nulls = checks["amount.null_rate"]
    assert nulls.status == "fail" and "null rate rose from 2.0%" in nulls.message
    with pytest.raises(lake.GateFailedError):
        repo.merge("nulls", into="main")


def test_protected_main_judges_from_its_profile_the_same_way(
    repo: lake.Repository, million: pa.Table
) -> None:
    main = repo.branch("main")
    main.set_contract("orders", contract())
    main.write("orders", million)
    repo.protect("main")
    for name, rows, check in (
        ("category", load(200_000, 2, shares=doubled(3)), "category"),
        ("nulls", load(200_000, 3, null_rate=0.07), "amount.null_rate"),
    ):
        checks, _ = _gate(repo, name, rows)
        assert checks[check].status == "fail", checks[check]
    _, report = _gate(repo, "same", load(200_000, 4))
    assert report.passed, [c for c in report.checks if c.status == "fail"]


def test_twenty_loads_from_mains_own_distribution_all_pass(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.set_contract("orders", contract())
    main.write("orders", load(300_000, 1))
    for i in range(20):
        _, report = _gate(repo, f"load-{i}", load(60_000, 100 + i))
        assert report.passed, [(c.name, c.message, c.value) for c in report.checks if c.status != "pass"]


def test_thresholds_are_set_per_column_and_severity_warn_demotes(repo: lake.Repository) -> None:
    main = repo.branch("main")
    loose = {
        "columns": {"category": {"share_factor": 3}, "amount": {"null_rate_rise": 0.2, "null_rate_factor": 5}}
    }
    main.set_contract("orders", contract(loose))
    main.write("orders", load(200_000, 1))
    checks, _ = _gate(repo, "category", load(50_000, 2, shares=doubled(3)))
    assert checks["category"].status == "pass"  # a doubling is under the column's 3x
    checks, _ = _gate(repo, "nulls", load(50_000, 3, null_rate=0.07))
    assert checks["amount.null_rate"].status == "pass"  # 5 points < 20; 3.5x < 5x
    main.set_contract("orders", contract({"columns": {"amount": {"severity": "warn"}}}))
    checks, report = _gate(repo, "nulls-warned", load(50_000, 5, null_rate=0.3))
    assert checks["amount.null_rate"].status == "warn" and report.passed


floats = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60)


@settings(max_examples=500, deadline=None)
@given(u=floats, v=floats, ties=st.integers(0, 3))
def test_wasserstein_from_sorted_samples_equals_scipys(u: list[float], v: list[float], ties: int) -> None:
    u = u + u[:ties]  # repeated values, on both sides
    v = v + u[:ties]
    ours = wasserstein_sorted(np.sort(np.array(u)), np.sort(np.array(v)))
    theirs = stats.wasserstein_distance(u, v)
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(
    ref=st.lists(st.sampled_from("abcdef"), min_size=30, max_size=200),
    cur=st.lists(st.sampled_from("abcdefg"), min_size=30, max_size=200),
    u=st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=30, max_size=100),
    v=st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=30, max_size=100),
)
def test_the_gates_statistics_equal_scipys_on_the_same_samples(
    ref: list[str], cur: list[str], u: list[float], v: list[float]
) -> None:
    js = column_drift("c", pl.Series(ref), pl.Series(cur), "auto", None)
    labels = sorted(set(ref) | set(cur))
    rp = [ref.count(k) / len(ref) for k in labels]
    cp = [cur.count(k) / len(cur) for k in labels]
    assert js.value == pytest.approx(float(distance.jensenshannon(rp, cp)), rel=1e-9, abs=1e-12)
    ws = column_drift("x", pl.Series(u), pl.Series(v), "auto", None)
    sd = float(np.std(u))
    expected = stats.wasserstein_distance(u, v) / (sd if sd > 0 else 1.0)
    assert ws.value == pytest.approx(expected, rel=1e-9, abs=1e-9)
