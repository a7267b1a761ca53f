"""The math of column metrics (issue 10, point 2): a column's summary, split at any points into
files and merged (through JSON, as stored), gives exactly what measuring the whole column gives
for every metric the summary keeps exactly; the sketches' estimates fall within the bounds they
state; and the per-file summaries of a repository are computed once per file, on both backends."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import re
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lake
from lake.stores import summaries as summaries_module
from lake.stores.summaries import SUMMARIES, SummarizedRows, SummaryStore, summary_key
from lake.table.views import FileRef, KeptRows
from lake.validation.metrics import (
    KLL_K,
    METRICS,
    ColumnSummary,
    Measured,
    measure_series,
    measure_summary,
    merge_summaries,
)

EXACT = ("mean", "stddev", "min", "max", "sum", "missing_count", "missing_percent", "avg_length")
DISTINCT = ("distinct_count", "unique_ratio", "duplicate_count", "duplicate_percent")
PS = (0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 1.0)


def _through_json(summary: ColumnSummary) -> ColumnSummary:
    return ColumnSummary.from_json(json.loads(json.dumps(summary.to_json())))


def _split(series: pl.Series, cuts: list[int]) -> ColumnSummary:
    """The summaries of ``series`` cut into files at ``cuts``, each stored and read back, merged
    pairwise (as a dataset grows file by file, again through JSON) ."""
    edges = sorted({0, series.len(), *(c % (series.len() + 1) for c in cuts)})
    parts = [_through_json(ColumnSummary.of(series.slice(a, b - a))) for a, b in itertools.pairwise(edges)]
    if not parts:
        return _through_json(ColumnSummary.of(series))
    merged = parts[0]
    for part in parts[1:]:
        merged = _through_json(merged.merge(part))
    return merged


def _scale(series: pl.Series) -> float:
    """The magnitude the float tolerance is relative to: the sum of the absolute values."""
    if not (series.dtype.is_numeric() or series.dtype == pl.Boolean) or series.dtype == pl.Boolean:
        return 1.0
    return max(1.0, float(series.drop_nulls().cast(pl.Float64).abs().sum()))


def _same(got: Any, want: Any, scale: float) -> bool:
    if got is None or want is None:
        return got is None and want is None
    if isinstance(got, float) or isinstance(want, float):
        if math.isnan(float(got)) or math.isnan(float(want)):
            return math.isnan(float(got)) and math.isnan(float(want))
        return math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-9 * scale)
    return bool(got == want) and type(got) is type(want)


def _assert_exact(series: pl.Series, merged: ColumnSummary) -> None:
    scale = _scale(series)
    for metric in EXACT:
        want = measure_series(metric, series)
        got = measure_summary(metric, merged)
        assert want.exact and got.exact, metric
        assert _same(got.value, want.value, scale), (metric, got.value, want.value)


floats = st.floats(-1e6, 1e6, allow_nan=False)
columns = st.one_of(
    st.lists(st.one_of(st.none(), floats), max_size=300).map(lambda v: pl.Series("x", v, dtype=pl.Float64)),
    st.lists(st.one_of(st.none(), st.integers(-(2**62), 2**62)), max_size=300).map(
        lambda v: pl.Series("x", v, dtype=pl.Int64)
    ),
    st.lists(st.one_of(st.none(), st.integers(-5, 5)), max_size=300).map(
        lambda v: pl.Series("x", v, dtype=pl.Int32)
    ),
    st.lists(st.one_of(st.none(), st.booleans()), max_size=300).map(
        lambda v: pl.Series("x", v, dtype=pl.Boolean)
    ),
    st.lists(st.one_of(st.none(), st.text(max_size=8)), max_size=300).map(
        lambda v: pl.Series("x", v, dtype=pl.String)
    ),
    st.lists(st.one_of(st.none(), st.dates()), max_size=300).map(lambda v: pl.Series("x", v, dtype=pl.Date)),
    st.lists(
        st.one_of(st.none(), st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2200, 1, 1))), max_size=300
    ).map(lambda v: pl.Series("x", v, dtype=pl.Datetime("us")).dt.replace_time_zone("Europe/Paris")),
)


@settings(max_examples=300, deadline=None)
@given(series=columns, cuts=st.lists(st.integers(0, 600), max_size=6))
def test_merged_summaries_give_the_exact_metrics(series: pl.Series, cuts: list[int]) -> None:
    merged = _split(series, cuts)
    assert (merged.rows, merged.nulls) == (series.len(), series.null_count())
    _assert_exact(series, merged)
    if series.dtype.is_numeric() or series.dtype == pl.Boolean:
        for p in PS:  # the KLL sketch still holds every value at these sizes: exact
            got, want = measure_summary("quantile", merged, p), measure_series("quantile", series, p)
            assert got.exact and _same(got.value, want.value, _scale(series)), (p, got, want)
    for metric in DISTINCT:  # HLL: within the stated bound (tight at these sizes)
        got, want = measure_summary(metric, merged), measure_series(metric, series)
        assert want.exact and not (got.exact and got.value is not None)
        if want.value is not None:
            low, high = _stated(got)
            assert low - 1e-9 <= want.value <= high + 1e-9, (metric, got, want)


def _stated(measured: Measured) -> tuple[float, float]:
    """The range an approximate metric's error text states ("... so between A and B")."""
    m = re.search(r"between (\S+) and (\S+)$", measured.error)
    assert m, measured.error
    low, high = (float(x.replace(",", "")) for x in m.groups())
    return low * (1 - 1e-5 if low > 0 else 1 + 1e-5), high * (1 + 1e-5 if high > 0 else 1 - 1e-5)


@pytest.mark.parametrize("seed", [7, 11, 2024])
def test_sketch_estimates_fall_within_their_stated_bounds(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 200_000
    values = np.round(rng.lognormal(3, 1, n), 2)
    values[rng.random(n) < 0.03] = np.nan
    series = pl.Series("x", values).fill_nan(None)
    cuts = sorted(rng.integers(0, n, 5).tolist())
    merged = _split(series, cuts)
    assert merged.kll.is_estimation_mode()
    numbers = series.drop_nulls().to_numpy()
    for p in (0.001, 0.01, 0.25, 0.5, 0.75, 0.99, 0.999):
        got = measure_summary("quantile", merged, p)
        assert not got.exact and "KLL" in got.error and "99% confidence" in got.error
        assert f"+-{merged.kll.normalized_rank_error(False):.2%}" in got.error
        truth = float(np.quantile(numbers, p))
        low, high = _stated(got)
        assert low <= truth <= high, (p, truth, got.error)
        assert abs(float((numbers < got.value).mean()) - p) <= merged.kll.normalized_rank_error(False)
    for p in (0.0, 1.0):  # the extremes the sketch keeps exactly
        got = measure_summary("quantile", merged, p)
        assert got.exact and got.value == float(np.quantile(numbers, p))
    for metric in DISTINCT:
        got, want = measure_summary(metric, merged), measure_series(metric, series)
        assert not got.exact and "HLL" in got.error and "2 standard deviations" in got.error
        low, high = _stated(got)
        assert low <= want.value <= high, (metric, want.value, got.error)
    relative = abs(measure_summary("distinct_count", merged).value / series.drop_nulls().n_unique() - 1)
    stated = max(abs(merged.hll.get_rel_err(up, True, 12, 2)) for up in (True, False))
    assert relative <= stated and f"+-{stated:.1%}" in measure_summary("distinct_count", merged).error
    _assert_exact(series, merged)  # the exact ones stay exact at any size


def test_string_summaries_estimate_distinct_values_within_bounds() -> None:
    rng = np.random.default_rng(5)
    words = pl.Series("w", [f"w{i}" for i in rng.integers(0, 60_000, 200_000)] + ["", None])
    merged = _split(words, [70_000, 140_000])
    got, want = measure_summary("distinct_count", merged), measure_series("distinct_count", words)
    low, high = _stated(got)
    assert not got.exact and low <= want.value <= high
    _assert_exact(words, merged)


def _utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("series", "low", "high"),
    [
        (pl.Series("i", [3, None, 1, 2**62, 2**62], dtype=pl.Int64), 1, 2**62),
        (pl.Series("u", [2**64 - 1, 2**64 - 1, 0], dtype=pl.UInt64), 0, 2**64 - 1),
        (pl.Series("f", [0.5, None, -2.25, 1e300]), -2.25, 1e300),
        (pl.Series("b", [True, False, None, True]), False, True),
        (pl.Series("s", ["héllo", "", None, "z", "héllo"]), "", "z"),
        (pl.Series("c", ["b", "a", None, "b"], dtype=pl.Categorical), "a", "b"),
        (
            pl.Series("d", [dt.date(2024, 1, 2), None, dt.date(1969, 5, 1)]),
            dt.date(1969, 5, 1),
            dt.date(2024, 1, 2),
        ),
        (
            pl.Series("t", [dt.datetime(2024, 1, 1, 5), dt.datetime(2024, 1, 1, 3)]).dt.replace_time_zone(
                "America/New_York"
            ),
            _utc(2024, 1, 1, 8),
            _utc(2024, 1, 1, 10),
        ),
        (
            pl.Series("n", [dt.datetime(2024, 1, 1, 5), None]),
            dt.datetime(2024, 1, 1, 5),
            dt.datetime(2024, 1, 1, 5),
        ),
        (pl.Series("m", [Decimal("1.10"), Decimal("2.25"), None]), Decimal("1.10"), Decimal("2.25")),
        (pl.Series("z", [None, None], dtype=pl.Float64), None, None),
        (pl.Series("e", [], dtype=pl.Int32), None, None),
    ],
    ids=[
        "int",
        "uint64",
        "float",
        "bool",
        "string",
        "categorical",
        "date",
        "timestamp-tz",
        "timestamp",
        "decimal",
        "all-null",
        "empty",
    ],
)
def test_every_type_summarizes_merges_and_round_trips(series: pl.Series, low: Any, high: Any) -> None:
    for cuts in ([], [1], [1, 2], [0, 3, 3]):
        merged = _split(series, cuts)
        _assert_exact(series, merged)
        assert measure_summary("min", merged).value == low and measure_summary("max", merged).value == high
        if isinstance(low, dt.datetime) and low.tzinfo is not None:  # UTC-aware for a column with a zone
            assert measure_summary("min", merged).value.utcoffset() == dt.timedelta(0)
        again = _through_json(merged)
        assert again.to_json() == merged.to_json()
        for metric in DISTINCT:
            want = measure_series(metric, series).value
            assert _same(measure_summary(metric, merged).value, want, 1.0), metric  # exact at these sizes
    if not series.len():  # no rows: every metric is None
        for metric in METRICS:
            p = 0.5 if metric == "quantile" else None
            assert measure_series(metric, series, p) == Measured(None, True)
            assert measure_summary(metric, _split(series, []), p) == Measured(None, True)


def test_sums_are_exact_past_64_bits_and_means_correctly_rounded() -> None:
    series = pl.Series("i", [2**62] * 5 + [3], dtype=pl.Int64)
    merged = _split(series, [2, 4])
    assert measure_series("sum", series).value == measure_summary("sum", merged).value == 5 * 2**62 + 3
    assert measure_summary("mean", merged).value == (5 * 2**62 + 3) / 6
    money = pl.Series("m", [Decimal("0.10")] * 3)
    assert measure_summary("sum", _split(money, [1])).value == Decimal("0.30")


def test_nan_is_a_value_and_propagates_to_the_moments() -> None:
    series = pl.Series("f", [1.0, float("nan"), None, 3.0, float("nan")])
    merged = _split(series, [1, 2])
    _assert_exact(series, merged)
    assert math.isnan(measure_summary("mean", merged).value)
    assert measure_summary("min", merged).value == 1.0 and measure_summary("max", merged).value == 3.0
    assert measure_summary("missing_count", merged).value == 1
    assert (
        measure_summary("quantile", merged, 0.5)
        == measure_series("quantile", series, 0.5)
        == Measured(2.0, True)
    )
    assert measure_series("distinct_count", series).value == 3  # 1, 3 and NaN
    assert measure_summary("distinct_count", merged).value == 3


def test_integral_floats_count_as_their_integers_across_files() -> None:
    """A column retyped from integers to floats: 5 and 5.0 are one distinct value."""
    merged = ColumnSummary.of(pl.Series([5, 6, 7])).merge(ColumnSummary.of(pl.Series([5.0, 6.5])))
    assert measure_summary("distinct_count", merged).value == 4
    assert measure_summary("sum", merged).value == 29.5


def test_summaries_of_different_kinds_do_not_merge() -> None:
    with pytest.raises(ValueError, match="cannot merge"):
        ColumnSummary.of(pl.Series([1])).merge(ColumnSummary.of(pl.Series(["a"])))
    nulls = ColumnSummary.nulls_of(4)  # a file without the column merges with any
    merged = merge_summaries([nulls, ColumnSummary.of(pl.Series(["a", "bb"]))])
    assert (merged.kind, merged.rows, merged.nulls, measure_summary("avg_length", merged).value) == (
        "string",
        6,
        4,
        1.5,
    )


def test_unknown_metrics_and_bad_quantiles_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown metric 'median'"):
        measure_series("median", pl.Series([1]))
    with pytest.raises(ValueError, match="p in"):
        measure_summary("quantile", ColumnSummary.of(pl.Series([1])), None)


def test_stddev_is_the_sample_one_and_quantiles_interpolate_like_numpy() -> None:
    values = [1.0, 2.0, 4.0, 7.0]
    series = pl.Series(values)
    assert measure_series("stddev", series).value == pytest.approx(float(np.std(values, ddof=1)), rel=1e-12)
    assert measure_series("quantile", series, 0.3).value == pytest.approx(float(np.quantile(values, 0.3)))
    assert measure_series("stddev", pl.Series([1.0])).value is None
    assert KLL_K >= 200


# -- per-file summaries in a repository -------------------------------------------------------------


def _files(repo: lake.Repository, dataset: str, ref: str = "main") -> list[FileRef]:
    return sorted(repo._view(dataset, ref).files.values(), key=lambda r: r.path)


def _stored(repo: lake.Repository) -> list[str]:
    return sorted(k for k in repo._store.list(SUMMARIES) if k.endswith(".json"))


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    real = summaries_module.read_file

    def counting(layers: Any, dataset: str, ref: FileRef, schema: pa.Schema | None) -> pa.Table:
        reads.append(ref.path)
        return real(layers, dataset, ref, schema)

    monkeypatch.setattr(summaries_module, "read_file", counting)
    return reads


def _orders(seed: int, n: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "amount": pa.array(np.round(rng.normal(100, 30, n), 2)),
            "customer": pa.array([f"c{i}" if i % 7 else None for i in rng.integers(0, 50, n)]),
            "at": pa.array(
                [_utc(2024, 1, 1) + dt.timedelta(minutes=int(m)) for m in rng.integers(0, 10_000, n)],
                pa.timestamp("us", "UTC"),
            ),
        }
    )


def test_each_file_is_summarized_once_and_the_summaries_survive_a_reopen(
    repo: lake.Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    main = repo.branch("main")
    for seed in range(3):
        main.write("orders", _orders(seed, 200))
    refs = _files(repo, "orders")
    assert len(refs) == 3
    reads = _counting(monkeypatch)
    columns = ["amount", "customer", "at"]
    first = SummaryStore(repo._store, repo._layers).summaries("orders", refs, columns)
    assert sorted(reads) == [r.path for r in refs]  # one read per file
    assert _stored(repo) == sorted(summary_key("orders", r.path) for r in refs)
    assert all(k.startswith(f"{SUMMARIES}orders/") for k in _stored(repo))

    again = lake.Repository.open(repo.uri)
    second = SummaryStore(again._store, again._layers).summaries("orders", _files(again, "orders"), columns)
    assert len(reads) == 3  # nothing read again: every file has its summary
    whole = pl.from_arrow(repo.read("orders"))
    assert isinstance(whole, pl.DataFrame)
    for column in columns:
        assert first[column].to_json().keys() == second[column].to_json().keys()
        _assert_exact(whole[column], second[column])

    main.write("orders", _orders(9, 50))  # a new file: only it is read
    SummaryStore(again._store, again._layers).summaries("orders", _files(again, "orders"), ["amount"])
    assert len(reads) == 4


def test_a_file_summarized_as_it_is_written_is_never_read(
    repo: lake.Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = _orders(1, 300)
    repo.branch("main").write("orders", table)
    [ref] = _files(repo, "orders")
    store = SummaryStore(repo._store, repo._layers)
    put = store.put_for("orders", ref.path, table)
    reads = _counting(monkeypatch)
    got = store.summaries("orders", [ref], ["amount", "at"])
    assert reads == [] and got["amount"].to_json()["total"] == put["amount"].to_json()["total"]
    assert measure_summary("max", got["at"]).value == max(table.column("at").to_pylist())


def test_an_unreadable_summary_is_computed_again(
    repo: lake.Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.branch("main").write("orders", _orders(2, 100))
    [ref] = _files(repo, "orders")
    key = summary_key("orders", ref.path)
    repo._store.put(key, b'{"format": 1, "rows": 100, "columns": {"amount": {"kind": "num')
    reads = _counting(monkeypatch)
    got = SummaryStore(repo._store, repo._layers).summaries("orders", [ref], ["amount"])
    assert reads == [ref.path] and got["amount"].rows == 100
    blob = repo._store.get(key)
    assert blob is not None and json.loads(blob.data)["rows"] == 100  # stored again, readable now


def test_summarized_rows_answer_for_the_kept_files_and_columns_they_lack(
    repo: lake.Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    main = repo.branch("main")
    main.write("orders", _orders(3, 100))
    main.write("orders", _orders(4, 60))
    view = repo._view("orders", "main")
    refs = _files(repo, "orders")
    kept = SummarizedRows(KeptRows(view, refs[:1]), SummaryStore(repo._store, repo._layers), ["amount"])
    assert kept.rows == sum(r.file.rows for r in refs[1:])
    reads = _counting(monkeypatch)
    amount = kept.summary("amount")
    assert amount is not None and amount.rows == kept.rows and reads == [refs[1].path]
    frame = kept.scan(["amount"]).collect()
    _assert_exact(frame["amount"], amount)
    assert kept.summary("missing") is None
    assert kept.column_max("amount") == frame["amount"].max()
    empty = SummaryStore(repo._store, repo._layers).summaries("orders", [], ["amount"], view.schema)
    assert empty["amount"].rows == 0 and measure_summary("mean", empty["amount"]).value is None
    nulls = SummaryStore(repo._store, repo._layers).summaries("orders", refs, ["amount", "later"])
    assert nulls["later"].rows == nulls["later"].nulls == nulls["amount"].rows  # a column no file has


def test_gc_keeps_the_summaries_of_live_files_and_deletes_those_of_deleted_ones(
    repo: lake.Repository,
) -> None:
    main = repo.branch("main")
    main.write("orders", _orders(5, 50))
    side = repo.create_branch("side", "main")
    side.write("orders", _orders(6, 50))
    store = SummaryStore(repo._store, repo._layers)
    side_refs = _files(repo, "orders", "side")
    store.summaries("orders", side_refs, ["amount"])  # main's file and side's own
    [main_ref] = _files(repo, "orders")
    assert len(_stored(repo)) == 2
    repo.delete_branch("side")
    repo.gc(older_than=dt.timedelta(0), grace=dt.timedelta(0))
    assert _stored(repo) == [summary_key("orders", main_ref.path)]
