"""Metric checks: a statistic of one column (mean, a quantile, the distinct count, ...) kept
within bounds, over the rows one write or merge brings (``scope: batch``) or over the dataset as
it will be after it (``scope: dataset``, the default).

A dataset-scope metric never rescans the dataset when the statistic merges: the batch's exact
summary is merged with the kept rows' summary (per-file summaries the lake stores, see
:mod:`lake.stores.summaries`), exact for sums, counts, means, deviations, extremes and lengths,
approximate for quantiles (KLL) and distinct counts (HLL), and the result says which, with the
sketch's error bound. A metric with a ``where:`` reads the selected rows (exact)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from lake.contracts.model import instant

from .compiled import CompiledCheck
from .metrics import ColumnSummary, Measured, measure_series, measure_summary
from .report import CheckResult, Status

if TYPE_CHECKING:
    from .others import OtherRows


def measure_check(check: CompiledCheck, table: pa.Table, others: OtherRows | None) -> CheckResult:
    """Measure ``check``'s metric and judge it against its bounds."""
    assert check.metric is not None and check.bound is not None and check.column is not None
    column, bound = check.column, check.bound
    batch = _selected(table, check)
    kept_rows = others.rows if others is not None else 0
    if bound.scope == "batch" or others is None or not kept_rows:
        measured, rows, how = measure_series(check.metric, batch, bound.p), batch.len(), ""
    elif check.where is not None:
        names = list(dict.fromkeys([column, *check.where.meta.root_names()]))
        kept = others.scan(names).filter(check.selects).select(column).collect()[column]
        whole = pl.concat([batch, kept.cast(batch.dtype)])
        measured, rows, how = measure_series(check.metric, whole, bound.p), whole.len(), "read"
    else:
        summary = others.summary(column)
        if summary is None:  # no summaries kept here: read the column (exact)
            kept = others.scan([column]).collect()[column]
            whole = pl.concat([batch, kept.cast(batch.dtype)])
            measured, rows, how = measure_series(check.metric, whole, bound.p), whole.len(), "read"
        else:
            merged = ColumnSummary.of(batch).merge(summary)
            measured = measure_summary(check.metric, merged, bound.p)
            rows, how = batch.len() + kept_rows, "summaries"
    broken = _outside(measured.value, bound.min, bound.max)
    status: Status = "pass" if not broken else ("fail" if check.severity == "error" else "warn")
    return CheckResult(
        check.name,
        "metric",
        column,
        status,
        check.severity,
        check.threshold,
        0,
        rows,
        message=_message(check, measured, how),
        value=_plain(measured.value),
        exact=measured.exact,
        error=measured.error,
    )


def _selected(table: pa.Table, check: CompiledCheck) -> pl.Series:
    assert check.column is not None
    names = [check.column, *(check.where.meta.root_names() if check.where is not None else [])]
    frame = pl.from_arrow(table.select(list(dict.fromkeys(names))))
    assert isinstance(frame, pl.DataFrame)
    if check.where is not None:
        frame = frame.filter(check.selects)
    return frame[check.column]


def _outside(value: Any, low: Any, high: Any) -> bool:
    """True when ``value`` breaks a bound. A metric of no rows (None) breaks none: a bound on the
    row count is ``row_count``'s business. NaN breaks every bound: it is not within any."""
    if value is None:
        return False
    if isinstance(value, float) and value != value:
        return low is not None or high is not None
    value = instant(value)
    if low is not None and value < instant(low):
        return True
    return high is not None and value > instant(high)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def _message(check: CompiledCheck, measured: Measured, how: str) -> str:
    assert check.bound is not None
    shown = _plain(measured.value)
    if isinstance(shown, float):
        shown = f"{shown:.6g}"
    over = "the batch" if check.bound.scope == "batch" else "the dataset"
    if check.where_sql:
        over += f" where {check.where_sql}"
    exactness = "exact" if measured.exact else f"approximate: {measured.error}"
    source = {"summaries": ", from per-file summaries", "read": ", from a read of the column"}.get(how, "")
    return f"{check.metric} {shown} over {over} ({exactness}{source})"
