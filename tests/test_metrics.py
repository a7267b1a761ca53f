"""Metrics over the dataset without rescanning it (issue 10, point 2): summaries merged from
per-file ones equal the exact values where the statistic merges, sketches hold their stated
bounds, each file is summarized once, gc keeps only the summaries of live files, and the gate
judges a dataset metric on the would-be merged result."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lake
from lake.contracts import Contract
from lake.validation.metrics import ColumnSummary, measure_series, measure_summary

EXACT = ["mean", "stddev", "min", "max", "sum", "missing_count", "missing_percent"]


def _split(series: pl.Series, cuts: list[int]) -> ColumnSummary:
    edges = sorted({0, series.len(), *(c % (series.len() + 1) for c in cuts)})
    if len(edges) == 1:
        return ColumnSummary.of(series)
    parts = [ColumnSummary.of(series.slice(a, b - a)) for a, b in itertools.pairwise(edges)]
    merged = parts[0]
    for part in parts[1:]:
        merged = ColumnSummary.from_json(merged.merge(part).to_json())  # through JSON, as stored
    return merged


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9 * max(1.0, abs(b)))
    return bool(a == b)


values = st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False)), min_size=0, max_size=200)


@settings(max_examples=200, deadline=None)
@given(data=values, cuts=st.lists(st.integers(0, 400), max_size=6))
def test_merged_summaries_equal_the_exact_metrics(data: list[float | None], cuts: list[int]) -> None:
    series = pl.Series("x", data, dtype=pl.Float64)
    merged = _split(series, cuts)
    for metric in EXACT:
        exact = measure_series(metric, series).value
        got = measure_summary(metric, merged)
        assert got.exact and _close(got.value, exact), (metric, got.value, exact)


@settings(max_examples=100, deadline=None)
@given(
    data=st.lists(st.one_of(st.none(), st.text(max_size=6)), max_size=100),
    cuts=st.lists(st.integers(0, 200), max_size=4),
)
def test_string_summaries_merge_exactly(data: list[str | None], cuts: list[int]) -> None:
    series = pl.Series("s", data, dtype=pl.String)
    merged = _split(series, cuts)
    for metric in ("avg_length", "missing_count", "min", "max", "distinct_count"):
        exact = measure_series(metric, series).value
        assert _close(measure_summary(metric, merged).value, exact), metric


@pytest.mark.parametrize(
    "series",
    [
        pl.Series("i", [3, None, 1, 2**40], dtype=pl.Int64),
        pl.Series("b", [True, False, None, True]),
        pl.Series("d", [dt.date(2024, 1, 2), None, dt.date(2023, 5, 1)]),
        pl.Series("t", [dt.datetime(2024, 1, 1, 5), dt.datetime(2024, 1, 1, 3)]).dt.replace_time_zone("UTC"),
        pl.Series("n", [None, None], dtype=pl.Float64),
        pl.Series("e", [], dtype=pl.Int32),
    ],
    ids=["int", "bool", "date", "timestamp-utc", "all-null", "empty"],
)
def test_every_type_summarizes_and_round_trips(series: pl.Series) -> None:
    merged = _split(series, [1, 2])
    for metric in ("min", "max", "missing_count", "missing_percent", "distinct_count"):
        assert _close(measure_summary(metric, merged).value, measure_series(metric, series).value), metric
    if series.dtype.is_numeric() or series.dtype == pl.Boolean:
        assert _close(measure_summary("sum", merged).value, measure_series("sum", series).value)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sketch_estimates_fall_within_their_stated_bounds(seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = pl.Series("x", rng.lognormal(3, 1, 200_000)).round(2)
    merged = _split(data, [50_000, 120_000, 199_999])
    for p in (0.01, 0.5, 0.99):
        est = measure_summary("quantile", merged, p)
        assert not est.exact and "rank error" in est.error
        rank = float((data < est.value).mean())  # type: ignore[operator]
        assert abs(rank - p) <= merged.kll.normalized_rank_error(False), (p, rank)
    distinct = measure_summary("distinct_count", merged)
    truth = data.n_unique()
    low, high = merged.hll.get_lower_bound(2), merged.hll.get_upper_bound(2)
    assert low <= truth <= high and not distinct.exact and "HLL" in distinct.error
    assert abs(distinct.value - truth) / truth < 0.05


def _summaries(repo: lake.Repository) -> list[str]:
    store = repo._store  # the repository's object store: the summaries it keeps
    return sorted(k for k in store.list("_lake/summaries/") if k.endswith(".json"))


def _contract(**metrics: Any) -> Contract:
    return Contract.model_validate(
        {"dataset": "t", "columns": {"x": {"type": "float64", "metrics": metrics}}}
    )


def test_each_file_is_summarized_once_and_summaries_outlive_the_process(
    repo: lake.Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    main = repo.branch("main")
    main.set_contract("t", _contract(mean={"min": 0}))
    for i in range(3):
        main.write("t", pa.table({"x": [float(i)] * 10}))
    assert len(_summaries(repo)) == 2  # the first two writes' files, summarized by the 2nd and 3rd
    from lake.stores import summaries

    reads: list[str] = []
    real = summaries.read_files

    def counting(layers: Any, dataset: str, refs: Any, schema: pa.Schema) -> pa.Table:
        reads.extend(r.path for r in refs)
        return real(layers, dataset, refs, schema)

    monkeypatch.setattr(summaries, "read_files", counting)
    again = lake.Repository.open(repo.uri)
    report = again.branch("main").write("t", pa.table({"x": [10.0] * 10})).validation["t"]
    [mean] = [r for r in report.results if r.name == "x.mean"]
    assert mean.value == pytest.approx((0 + 10 + 20 + 100) / 40) and mean.exact
    assert "from per-file summaries" in mean.message
    assert len(reads) == 1  # only the third write's file was new to the summaries
    assert len(_summaries(again)) == 3


def test_gc_deletes_the_summaries_of_files_it_deletes(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.set_contract("t", _contract(sum={"min": 0}))
    main.write("t", pa.table({"x": [1.0]}))
    main.write("t", pa.table({"x": [2.0]}))
    [on_main] = _summaries(repo)  # of main's first file
    side = repo.create_branch("side", "main")
    side.write("t", pa.table({"x": [3.0]}))
    side.write("t", pa.table({"x": [4.0]}))  # summarizes main's second file and side's first
    assert len(_summaries(repo)) == 3
    repo.delete_branch("side")
    repo.gc(older_than=dt.timedelta(0), grace=dt.timedelta(0))
    assert len(_summaries(repo)) == 2 and on_main in _summaries(repo)  # main's files are live


def test_the_gate_judges_a_dataset_metric_on_the_merged_result(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.set_contract("t", _contract(mean={"max": 100}))
    main.write("t", pa.table({"x": [50.0] * 100}))
    feature = repo.create_branch("feature", "main")
    feature.write("t", pa.table({"x": [140.0] * 40}))  # the branch's mean, 75.7, holds on its own
    main.write("t", pa.table({"x": [150.0] * 60}))  # so does main's, 87.5
    report = repo.gate("feature", into="main")  # merged: (5000 + 5600 + 9000) / 200 = 98
    [mean] = [c for c in report.checks if c.name == "x.mean"]
    assert mean.status == "pass" and "98" in mean.message
    feature.write("t", pa.table({"x": [200.0] * 10}))  # merged: 21,600 / 210 = 102.9
    report = repo.gate("feature", into="main")
    [mean] = [c for c in report.checks if c.name == "x.mean"]
    assert mean.status == "fail" and "102.857" in mean.message and not report.passed
    with pytest.raises(lake.GateFailedError):
        repo.merge("feature", into="main")


def test_batch_scope_metrics_judge_the_rows_a_merge_brings(repo: lake.Repository) -> None:
    """The target's contract judges the rows the merge brings, as one batch: branches written
    before the contract existed are held to it at the gate."""
    main = repo.branch("main")
    main.write("t", pa.table({"x": [5.0] * 10}))
    good = repo.create_branch("good", "main")
    good.write("t", pa.table({"x": [7.0] * 19 + [None]}))  # 5% missing
    bad = repo.create_branch("bad", "main")
    bad.write("t", pa.table({"x": [7.0] * 8 + [None] * 2}))
    bad.write("t", pa.table({"x": [8.0] * 10}))  # the merge brings 20 rows, 2 missing: 10%
    main.set_contract("t", _contract(missing_percent={"max": 5, "scope": "batch"}))
    [ok] = [c for c in repo.gate("good", into="main").checks if c.name == "x.missing_percent"]
    assert ok.status == "pass" and "5 over the batch" in ok.message
    [missing] = [c for c in repo.gate("bad", into="main").checks if c.name == "x.missing_percent"]
    assert missing.status == "fail" and "10 over the batch" in missing.message


def test_metric_failures_say_the_value_the_bound_and_whether_exact(tmp_path: Path) -> None:
    report = lake.validate(
        pa.table({"x": [1.0, 2.0, 30.0]}), _contract(mean={"max": 10}, quantile={"p": 0.5, "max": 1})
    )
    text = report.to_text()
    assert "x.mean" in text and "mean 11 over the dataset (exact)" in text and "breaks 'mean <= 10" in text
    assert [r.to_dict()["value"] for r in report.failures] == [11.0, 2.0]
