"""The checks GX and Soda users bring (issue 10): exact ``mostly``, ``where:`` on any check, ISO
date and datetime bounds, and column metrics over the batch or the dataset, on both backends."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lake
from lake.contracts import Contract


def contract(columns: dict[str, Any], checks: list[dict[str, Any]] | None = None, **extra: Any) -> Contract:
    return Contract.model_validate({"dataset": "t", "columns": columns, "checks": checks or [], **extra})


def results(report: lake.ValidationReport) -> dict[str, Any]:
    return {r.name: r for r in report.results}


# --- 5. mostly is decided exactly ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "failing", "mostly", "sql"),
    [(5, 4, 0.2, "x > 0"), (10, 9, 0.1, "x IS NOT NULL")],
    ids=["4-of-5-fail-mostly-0.2", "9-nulls-in-10-mostly-0.1"],
)
def test_mostly_at_the_boundary_passes_as_the_issue_reports(
    repo: lake.Repository, rows: int, failing: int, mostly: float, sql: str
) -> None:
    """The bug as reported: 1 - 4/5 is 0.19999999999999996 in floating point, so 4 failures in 5
    rows failed ``mostly: 0.2``; 9 nulls in 10 failed ``mostly: 0.1``. Both hold exactly."""
    bad: Any = None if "NULL" in sql else -1
    table = pa.table({"x": pa.array([bad] * failing + [1] * (rows - failing), pa.int64())})
    main = repo.branch("main")
    main.set_contract("t", contract({"x": {"type": "int64"}}, [{"name": "c", "sql": sql, "mostly": mostly}]))
    result = main.write("t", table)
    check = results(result.validation["t"])["c"]
    assert (check.status, check.failed_rows, check.rows) == ("pass", failing, rows)
    one_more = pa.table({"x": pa.array([bad] * (failing + 1) + [1] * (rows - failing - 1), pa.int64())})
    with pytest.raises(lake.ContractViolationError):
        main.write("t", one_more, mode="overwrite")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.integers(1, 60),
    data=st.data(),
    mostly=st.decimals(min_value="0.01", max_value="1", places=2),
)
def test_mostly_is_the_exact_rule(rows: int, data: st.DataObject, mostly: Any) -> None:
    """For any (rows, failures, mostly): the check passes iff passing/rows >= mostly, in
    rational arithmetic on the decimal the contract wrote."""
    failing = data.draw(st.integers(0, rows))
    spec = contract({"x": {"type": "int64"}}, [{"name": "c", "sql": "x > 0", "mostly": float(mostly)}])
    table = pa.table({"x": pa.array([-1] * failing + [1] * (rows - failing), pa.int64())})
    report = lake.validate(table, spec)
    expected = failing == 0 or Fraction(rows - failing, rows) >= Fraction(str(mostly))
    assert (results(report)["c"].status == "pass") is expected


# --- 4. where: on any check ----------------------------------------------------------------------

ORDERS = pa.table(
    {
        "id": pa.array([1, 2, 3, 4], pa.int64()),
        "status": ["paid", "paid", "open", None],
        "amount": [10.0, 20.0, -5.0, -7.0],
        "code": ["A", "B", "B", "B"],
        "ts": pa.array(
            [dt.datetime(2024, 1, d, tzinfo=dt.UTC) for d in (1, 2, 3, 4)], pa.timestamp("us", "UTC")
        ),
    }
)
COLUMNS: dict[str, Any] = {
    "id": {"type": "int64", "nullable": False},
    "status": {"type": "string"},
    "amount": {"type": "float64"},
    "code": {"type": "string"},
    "ts": {"type": "timestamp[us, UTC]"},
}
PAID = "status = 'paid'"

# a check that fails on all of ORDERS and holds on the rows ``where`` selects
WHERE_CASES: list[tuple[str, dict[str, Any], list[dict[str, Any]], str]] = [
    ("column-min", {"amount": {"type": "float64", "min": 0, "where": PAID}}, [], "amount.min"),
    (
        "column-sql",
        {"amount": {"type": "float64", "checks": ["amount > 0"], "where": PAID}},
        [],
        "amount.check1",
    ),
    (
        "column-unique",
        {"code": {"type": "string", "unique": True, "where": "status <> 'open'"}},
        [],
        "code.unique",
    ),
    ("check-sql", {}, [{"name": "positive", "sql": "amount > 0", "where": PAID}], "positive"),
    ("check-unique", {}, [{"name": "one_code", "unique": ["code"], "where": PAID}], "one_code"),
    ("check-row_count", {}, [{"name": "paid_rows", "row_count": {"max": 2}, "where": PAID}], "paid_rows"),
    (
        "check-freshness",
        {},
        [{"name": "fresh", "freshness": {"column": "ts", "max_age": "1h"}, "where": "status = 'none'"}],
        "fresh",
    ),
    (
        "column-metric",
        {"amount": {"type": "float64", "metrics": {"min": {"min": 0}}, "where": PAID}},
        [],
        "amount.min",
    ),
    (
        "metric",
        {"amount": {"type": "float64", "metrics": {"sum": {"max": 0, "where": "status = 'open'"}}}},
        [],
        "amount.sum",
    ),
]


@pytest.mark.parametrize(("kind", "columns", "checks", "name"), WHERE_CASES, ids=[c[0] for c in WHERE_CASES])
def test_where_runs_each_check_kind_on_the_rows_it_selects(
    repo: lake.Repository, kind: str, columns: dict[str, Any], checks: list[dict[str, Any]], name: str
) -> None:
    main = repo.branch("main")
    if kind == "check-freshness":  # no row selected: nothing is fresh, the check fails
        main.set_contract("t", contract(COLUMNS, checks))
        with pytest.raises(lake.ContractViolationError) as info:
            main.write("t", ORDERS)
        assert name in {r.name for r in info.value.reports[0].failures}
        return
    loose = {**COLUMNS, **{c: {k: v for k, v in s.items() if k != "where"} for c, s in columns.items()}}
    unfiltered = [{k: v for k, v in c.items() if k != "where"} for c in checks]
    if kind == "check-row_count":
        unfiltered = [{"name": "paid_rows", "row_count": {"max": 2}}]
    if kind == "metric":
        loose = {**COLUMNS, "amount": {"type": "float64", "metrics": {"sum": {"max": 0}}}}
    main.set_contract("t", contract(loose, unfiltered))
    with pytest.raises(lake.ContractViolationError) as info:
        main.write("t", ORDERS)  # without where: the check fails on the whole data
    assert name in {r.name for r in info.value.reports[0].failures}
    main.set_contract("t", contract({**COLUMNS, **columns}, checks))
    result = main.write("t", ORDERS)
    check = results(result.validation["t"])[name]
    assert check.status == "pass", result.validation["t"].to_text()
    assert "where" in check.threshold or "where" in check.message


def test_where_counts_mostly_over_the_selected_rows(repo: lake.Repository) -> None:
    spec = contract(COLUMNS, [{"name": "c", "sql": "amount > 15", "where": PAID, "mostly": 0.5}])
    main = repo.branch("main")
    main.set_contract("t", spec)
    check = results(main.write("t", ORDERS).validation["t"])["c"]
    assert (check.status, check.failed_rows, check.rows) == ("pass", 1, 2)


def test_where_holds_across_the_rows_the_dataset_keeps(repo: lake.Repository) -> None:
    """A where: unique check compares the batch's selected rows with the dataset's selected rows."""
    spec = contract(COLUMNS, [{"name": "one_code", "unique": ["code"], "where": PAID}])
    main = repo.branch("main")
    main.set_contract("t", spec)
    main.write("t", ORDERS.slice(0, 1))  # paid A
    main.write("t", ORDERS.slice(2, 1))  # open B: not selected
    with pytest.raises(lake.ContractViolationError) as info:
        main.write(
            "t",
            pa.table({"id": [9], "status": ["paid"], "amount": [1.0], "code": ["A"], "ts": ORDERS["ts"][:1]}),
        )
    [failed] = info.value.reports[0].failures
    assert failed.name == "one_code" and "already in the dataset" in failed.message


def test_where_sql_is_sandboxed_and_errors_name_the_line() -> None:
    text = """dataset: t
columns:
  amount:
    type: float64
    min: 0
    where: amount > (SELECT 1)
"""
    with pytest.raises(lake.ContractError) as info:
        Contract.from_text(text, "c.yaml")
    assert "c.yaml:6: columns.amount.where" in str(info.value)
    text = """dataset: t
columns:
  amount: {type: float64}
checks:
  - {name: c, sql: amount > 0, where: nope = 1}
"""
    with pytest.raises(lake.ContractError) as info:
        Contract.from_text(text, "c.yaml")
    assert "c.yaml:5: checks.0.where: where: 'nope = 1' names an unknown column 'nope'" in str(info.value)


# --- 4. dates and datetimes ----------------------------------------------------------------------


def test_date_bounds_take_iso_dates(repo: lake.Repository) -> None:
    text = """dataset: t
columns:
  day: {type: date32, min: 2024-01-01, max: '2024-12-31'}
"""
    spec = Contract.from_text(text)
    assert spec.columns["day"].min == dt.date(2024, 1, 1)
    main = repo.branch("main")
    main.set_contract("t", spec)
    main.write("t", pa.table({"day": [dt.date(2024, 1, 1), dt.date(2024, 12, 31)]}))
    with pytest.raises(lake.ContractViolationError) as info:
        main.write("t", pa.table({"day": [dt.date(2023, 12, 31), dt.date(2025, 1, 1)]}))
    failed = {r.name: r for r in info.value.reports[0].failures}
    assert set(failed) == {"day.min", "day.max"} and failed["day.min"].threshold == ">= 2024-01-01"
    assert failed["day.min"].samples == ({"day": "2023-12-31"},)


def test_timestamp_bounds_honour_timezones(repo: lake.Repository) -> None:
    """08:00+02:00 is 06:00 UTC: 06:30 UTC is after it, 05:30 UTC before."""
    text = """dataset: t
columns:
  ts: {type: 'timestamp[us, UTC]', min: '2024-03-01T08:00:00+02:00'}
  local: {type: 'timestamp[us]', max: 2024-03-01T12:00:00Z}
"""
    main = repo.branch("main")
    main.set_contract("t", Contract.from_text(text))
    ok = pa.table(
        {
            "ts": pa.array([dt.datetime(2024, 3, 1, 6, 30, tzinfo=dt.UTC)], pa.timestamp("us", "UTC")),
            "local": pa.array([dt.datetime(2024, 3, 1, 12)], pa.timestamp("us")),
        }
    )
    main.write("t", ok)
    bad = pa.table(
        {
            "ts": pa.array([dt.datetime(2024, 3, 1, 5, 30, tzinfo=dt.UTC)], pa.timestamp("us", "UTC")),
            "local": pa.array([dt.datetime(2024, 3, 1, 12, 0, 1)], pa.timestamp("us")),
        }
    )
    with pytest.raises(lake.ContractViolationError) as info:
        main.write("t", bad)
    assert {r.name for r in info.value.reports[0].failures} == {"ts.min", "local.max"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "date32", "min": 5}, "must be an ISO date"),
        ({"type": "date32", "min": "2024-01-01T00:00:00"}, "must be an ISO date"),
        ({"type": "int64", "min": "2024-01-01"}, "must be a number"),
        ({"type": "timestamp[us, UTC]", "max": "yesterday"}, "is not a number, an ISO date"),
        ({"type": "string", "min": 1}, "applies to numeric, date and timestamp columns"),
        ({"type": "date32", "min": "2024-02-01", "max": "2024-01-01"}, "is above max"),
    ],
)
def test_bad_bounds_are_refused_with_the_line(spec: dict[str, Any], message: str) -> None:
    import yaml

    text = yaml.safe_dump({"dataset": "t", "columns": {"c": spec}})
    with pytest.raises(lake.ContractError) as info:
        Contract.from_text(text, "c.yaml")
    assert message in str(info.value) and "c.yaml:" in str(info.value)


def test_freshness_keeps_working_beside_timestamp_bounds(repo: lake.Repository) -> None:
    now = dt.datetime.now(dt.UTC)
    spec = contract(
        {"ts": {"type": "timestamp[us, UTC]", "min": "2020-01-01T00:00:00Z"}},
        [{"name": "fresh", "freshness": {"column": "ts", "max_age": "1h"}}],
    )
    main = repo.branch("main")
    main.set_contract("t", spec)
    main.write("t", pa.table({"ts": pa.array([now], pa.timestamp("us", "UTC"))}))
    with pytest.raises(lake.ContractViolationError, match="fresh"):
        main.write(
            "t",
            pa.table({"ts": pa.array([now - dt.timedelta(hours=2)], pa.timestamp("us", "UTC"))}),
            mode="overwrite",
        )


# --- lake contract diff classifies the new keys ---------------------------------------------------

BASE: dict[str, Any] = {
    "amount": {
        "type": "float64",
        "metrics": {"mean": {"min": 0, "max": 500}, "quantile": {"p": 0.99, "max": 5000, "scope": "batch"}},
    },
    "customer_id": {"type": "int64"},
    "day": {"type": "date32", "min": "2024-01-01"},
}


def _with(path: list[str], value: Any) -> dict[str, Any]:
    import copy

    cols = copy.deepcopy(BASE)
    node = cols
    for key in path[:-1]:
        node = node.setdefault(key, {})
    if value is None:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return cols


DIFF_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "metric-max-tightened",
        _with(["amount", "metrics", "mean", "max"], 400),
        "columns.amount.metrics.mean.max",
        "breaking",
    ),
    (
        "metric-max-loosened",
        _with(["amount", "metrics", "mean", "max"], 900),
        "columns.amount.metrics.mean.max",
        "compatible",
    ),
    (
        "metric-min-added",
        _with(["amount", "metrics", "quantile", "min"], 1),
        "columns.amount.metrics.quantile.min",
        "breaking",
    ),
    (
        "metric-added",
        _with(["amount", "metrics", "stddev"], {"max": 9}),
        "columns.amount.metrics.stddev",
        "breaking",
    ),
    (
        "metric-added-warn",
        _with(["amount", "metrics", "stddev"], {"max": 9, "severity": "warn"}),
        "columns.amount.metrics.stddev",
        "warning",
    ),
    (
        "metric-removed",
        _with(["amount", "metrics", "mean"], None),
        "columns.amount.metrics.mean",
        "compatible",
    ),
    (
        "quantile-p",
        _with(["amount", "metrics", "quantile", "p"], 0.5),
        "columns.amount.metrics.quantile.p",
        "breaking",
    ),
    (
        "metric-scope",
        _with(["amount", "metrics", "mean", "scope"], "batch"),
        "columns.amount.metrics.mean.scope",
        "breaking",
    ),
    (
        "reference-added",
        _with(["customer_id", "references"], {"dataset": "customers", "column": "id"}),
        "columns.customer_id.references",
        "breaking",
    ),
    ("where-added", _with(["amount", "where"], "amount > 0"), "columns.amount.where", "compatible"),
    ("date-min-tightened", _with(["day", "min"], "2024-06-01"), "columns.day.min", "breaking"),
    ("date-min-loosened", _with(["day", "min"], "2023-06-01"), "columns.day.min", "compatible"),
]


@pytest.mark.parametrize(("case", "columns", "path", "level"), DIFF_CASES, ids=[c[0] for c in DIFF_CASES])
def test_contract_diff_classifies_the_new_keys(
    tmp_path: Any,
    capsys: pytest.CaptureFixture[str],
    case: str,
    columns: dict[str, Any],
    path: str,
    level: str,
) -> None:
    import json

    from lake.cli.app import main as cli_main

    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(contract(BASE).to_yaml())
    new.write_text(contract(columns).to_yaml())
    code = cli_main(["contract", "diff", str(old), str(new), "--json"])
    out = json.loads(capsys.readouterr().out)
    got = {c["path"]: c["level"] for c in out["changes"]}
    assert got == {path: level}, out
    assert code == (1 if level == "breaking" else 0)


def test_contract_diff_sees_a_reference_removed_and_a_check_where_added() -> None:
    from lake.contracts import diff_contracts

    ref = _with(["customer_id", "references"], {"dataset": "customers", "column": "id"})
    assert [(c.path, c.level) for c in diff_contracts(contract(ref), contract(BASE)).changes] == [
        ("columns.customer_id.references", "compatible")
    ]
    before = contract(BASE, [{"name": "pos", "sql": "amount > 0"}])
    after = contract(BASE, [{"name": "pos", "sql": "amount > 0", "where": "day > '2024-01-01'"}])
    assert [(c.path, c.level) for c in diff_contracts(before, after).changes] == [
        ("checks.pos.where", "compatible")
    ]
    assert [(c.path, c.level) for c in diff_contracts(after, before).changes] == [
        ("checks.pos.where", "breaking")
    ]


# --- 2. metrics ----------------------------------------------------------------------------------

NUMS = pa.table(
    {
        "x": pa.array([1.0, 2.0, 2.0, 7.0, None], pa.float64()),
        "s": pa.array(["a", "bb", "bb", "cccc", None], pa.string()),
    }
)
# metric, column, its exact value on NUMS, a bound it holds and one it breaks
METRIC_CASES: list[tuple[str, str, float, dict[str, Any], dict[str, Any]]] = [
    ("mean", "x", 3.0, {"min": 3, "max": 3}, {"max": 2.9}),
    ("stddev", "x", float(pl.Series([1.0, 2.0, 2.0, 7.0]).std()), {"max": 2.75}, {"max": 2.7}),
    ("min", "x", 1.0, {"min": 1}, {"min": 1.5}),
    ("max", "x", 7.0, {"max": 7}, {"max": 6}),
    ("sum", "x", 12.0, {"min": 12, "max": 12}, {"min": 13}),
    ("quantile", "x", 2.0, {"p": 0.5, "max": 2}, {"p": 0.5, "max": 1.9}),
    ("distinct_count", "x", 3, {"max": 3}, {"max": 2}),
    ("unique_ratio", "x", 0.75, {"min": 0.75}, {"min": 0.8}),
    ("missing_count", "x", 1, {"max": 1}, {"max": 0}),
    ("missing_percent", "x", 20.0, {"max": 20}, {"max": 19.9}),
    ("duplicate_count", "s", 1, {"max": 1}, {"max": 0}),
    ("duplicate_percent", "s", 25.0, {"max": 25}, {"max": 24}),
    ("avg_length", "s", 2.25, {"min": 2.25, "max": 2.25}, {"min": 2.5}),
]


def _metric_contract(metric: str, column: str, bound: dict[str, Any], scope: str = "batch") -> Contract:
    cols: dict[str, Any] = {"x": {"type": "float64"}, "s": {"type": "string"}}
    cols[column] = {**cols[column], "metrics": {metric: {**bound, "scope": scope}}}
    return contract(cols)


@pytest.mark.parametrize(
    ("metric", "column", "value", "holds", "breaks"), METRIC_CASES, ids=[c[0] for c in METRIC_CASES]
)
def test_each_metric_is_measured_exactly_over_the_batch(
    repo: lake.Repository,
    metric: str,
    column: str,
    value: float,
    holds: dict[str, Any],
    breaks: dict[str, Any],
) -> None:
    main = repo.branch("main")
    main.set_contract("t", _metric_contract(metric, column, holds))
    result = results(main.write("t", NUMS).validation["t"])[f"{column}.{metric}"]
    assert result.status == "pass" and result.exact
    assert result.value == pytest.approx(value, rel=1e-12)
    main.set_contract("u", _metric_contract(metric, column, breaks).with_dataset("u"))
    with pytest.raises(lake.ContractViolationError) as info:
        main.write("u", NUMS)
    [failed] = info.value.reports[0].failures
    assert failed.name == f"{column}.{metric}" and failed.kind == "metric"
    assert "exact" in failed.message and f"{column}.{metric}" in info.value.message


def test_a_dataset_metric_judges_the_dataset_after_the_write(repo: lake.Repository) -> None:
    """Each batch's mean is within bounds on its own; the dataset's mean after the second is not."""
    text = """dataset: t
columns:
  amount:
    type: float64
    metrics:
      mean: {min: 0, max: 500}
      quantile: {p: 0.99, max: 5000, scope: batch}
      missing_percent: {max: 5}
"""
    main = repo.branch("main")
    main.set_contract("t", Contract.from_text(text))
    main.write("t", pa.table({"amount": [100.0] * 1000}))
    main.write("t", pa.table({"amount": [400.0] * 1000}))  # the dataset's mean: 250
    with pytest.raises(lake.ContractViolationError) as info:
        main.write("t", pa.table({"amount": [499.0] * 98 + [None] * 2 + [4000.0] * 1900}))
    failed = {r.name: r for r in info.value.reports[0].failures}
    # batch mean 3,882 and the dataset's 2,053: mean fails over the dataset; the batch's p99
    # (4,000) holds; missing_percent over the dataset is 2 / 4,000 = 0.05%: holds
    assert set(failed) == {"amount.mean"}
    assert failed["amount.mean"].value == pytest.approx((100_000 + 400_000 + 499 * 98 + 4000 * 1900) / 3998)
    assert failed["amount.mean"].rows == 4000
    assert "over the dataset" in failed["amount.mean"].message


def test_dataset_quantiles_and_distinct_counts_are_estimated_with_their_error_stated(
    repo: lake.Repository,
) -> None:
    main = repo.branch("main")
    spec = contract(
        {
            "x": {
                "type": "float64",
                "metrics": {
                    "quantile": {"p": 0.5, "min": 0},
                    "distinct_count": {"min": 1},
                    "mean": {"min": 0},
                },
            }
        }
    )
    main.set_contract("t", spec)
    main.write("t", pa.table({"x": [float(i) for i in range(50_000)]}))
    report = main.write("t", pa.table({"x": [float(i) for i in range(50_000, 60_000)]})).validation["t"]
    got = results(report)
    assert got["x.mean"].exact and got["x.mean"].value == pytest.approx(29_999.5)
    for name, truth in (("x.quantile", 30_000.0), ("x.distinct_count", 60_000)):
        r = got[name]
        assert not r.exact and r.error, r
        assert r.value == pytest.approx(truth, rel=0.05)
        assert "approximate" in r.message


# --- the new keys round-trip through YAML --------------------------------------------------------

_bounds = st.fixed_dictionaries(
    {},
    optional={
        "scope": st.sampled_from(["dataset", "batch"]),
        "severity": st.sampled_from(["error", "warn"]),
        "where": st.sampled_from(["x > 0", "s = 'a'", "x IS NOT NULL AND s <> 'b'"]),
    },
).flatmap(
    lambda extra: st.one_of(
        st.fixed_dictionaries({"min": st.floats(-1e6, 0, allow_nan=False)}),
        st.fixed_dictionaries({"max": st.integers(0, 10**6)}),
        st.fixed_dictionaries({"min": st.just(0), "max": st.floats(1, 1e9, allow_nan=False)}),
    ).map(lambda b: {**b, **extra})
)
_moments = st.datetimes(
    min_value=dt.datetime(1970, 1, 2),
    max_value=dt.datetime(2200, 1, 1),
    timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30))]),
)


@settings(max_examples=60, deadline=None)
@given(
    metrics=st.dictionaries(
        st.sampled_from(["mean", "stddev", "sum", "missing_percent", "distinct_count", "min"]),
        st.one_of(_bounds, st.lists(_bounds, min_size=2, max_size=3)),
        max_size=4,
    ),
    quantiles=st.lists(st.floats(0, 1), max_size=2),
    day=st.dates(min_value=dt.date(1900, 1, 1)),
    moment=_moments,
    where=st.one_of(st.none(), st.just("x > 1")),
    reference=st.booleans(),
    drift=st.fixed_dictionaries(
        {},
        optional={
            "share_factor": st.floats(1.01, 10),
            "null_rate_rise": st.floats(0.001, 1),
            "severity": st.just("warn"),
        },
    ),
)
def test_the_new_keys_round_trip_through_yaml(
    metrics: dict[str, Any],
    quantiles: list[float],
    day: dt.date,
    moment: dt.datetime,
    where: str | None,
    reference: bool,
    drift: dict[str, Any],
) -> None:
    x: dict[str, Any] = {"type": "float64", "metrics": dict(metrics)}
    if quantiles:
        x["metrics"]["quantile"] = [{"p": p, "max": 10} for p in quantiles]
    if where:
        x["where"] = where
    s: dict[str, Any] = {"type": "string"}
    if reference:
        s["references"] = {"dataset": "other", "column": "code"}
    raw = {
        "dataset": "d",
        "columns": {
            "x": x,
            "s": s,
            "day": {"type": "date32", "min": day.isoformat()},
            "at": {"type": "timestamp[us, UTC]", "max": moment.isoformat()},
        },
        "checks": [{"name": "c", "sql": "x > 0", "where": "s = 'a'", "mostly": 0.3}],
        "drift": {"columns": {"x": drift}},
    }
    spec = Contract.model_validate(raw)
    again = Contract.from_text(spec.to_yaml())
    assert again == spec and again.hash == spec.hash
    assert again.columns["day"].min == day and again.columns["at"].max == moment
    assert Contract.from_text(again.to_yaml()).to_yaml() == spec.to_yaml()


# --- uniqueness decided by its shortcuts agrees with a count ---------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    a=st.lists(st.one_of(st.none(), st.integers(0, 20)), min_size=0, max_size=40),
    b=st.lists(st.integers(0, 3), min_size=40, max_size=40),
    order=st.sampled_from(["as-drawn", "ascending", "descending"]),
)
def test_unique_verdicts_agree_with_counting_whatever_the_order(
    a: list[int | None], b: list[int], order: str
) -> None:
    """A sorted key column without neighbours alike is distinct (the shortcut the validated write
    takes); whatever the order, the verdict is the one counting gives."""
    rows = list(zip(a, b[: len(a)], strict=True))
    if order != "as-drawn":
        rows.sort(key=lambda r: (r[0] is None, r[0] or 0, r[1]), reverse=order == "descending")
    table = pa.table(
        {"a": pa.array([r[0] for r in rows], pa.int64()), "b": pa.array([r[1] for r in rows], pa.int64())}
    )
    spec = contract(
        {"a": {"type": "int64", "unique": True}, "b": {"type": "int64"}},
        [{"name": "ab", "unique": ["a", "b"]}],
    )
    got = results(lake.validate(table, spec))
    present = [r for r in rows if r[0] is not None]
    assert (got["a.unique"].status == "pass") is (len({r[0] for r in present}) == len(present))
    assert (got["ab"].status == "pass") is (len(set(present)) == len(present))


def test_a_nan_metric_breaks_its_bounds() -> None:
    """A NaN among the values makes the mean NaN; comparisons with NaN are false, so it must not
    slip through the bounds as if it were inside them."""
    spec = contract({"x": {"type": "float64", "metrics": {"mean": {"min": 0, "max": 10}}}})
    report = lake.validate(pa.table({"x": [1.0, float("nan")]}), spec)
    assert [r.name for r in report.failures] == ["x.mean"]
