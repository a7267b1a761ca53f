"""Column metrics: measured exactly on a column (:func:`measure_series`), or from a mergeable
:class:`ColumnSummary` (:func:`measure_summary`), which is how a dataset-scope metric avoids
rescanning the dataset: the summaries of the files it keeps merge with the batch's.

A summary keeps what merges exactly: row, null and value counts, the sum (an exact integer for
integer and boolean columns, a Decimal for decimals), the mean and the sum of squared deviations
(merged by Chan, Golub and LeVeque's parallel formula), the extremes and the total string length;
and two Apache DataSketches sketches for what does not: KLL for quantiles of numbers and HLL for
distinct counts. A metric from a sketch says so, with the sketch's own error bound.

Conventions, those of pandas, Great Expectations and Soda:

* ``stddev`` is the **sample** standard deviation (``ddof=1``, divided by n - 1); one value has
  none (None).
* ``quantile`` interpolates **linearly** between the two closest order statistics (numpy's
  default, ``method="linear"``: the value at virtual index ``p * (n - 1)``).
* percents are 0-100; ``distinct_count``, ``unique_ratio`` (distinct / non-null values) and the
  duplicates (non-null values less distinct ones) count non-null values only.
* ``avg_length`` is in characters (Unicode code points), of the non-null strings.
* NaN is a value, not a missing one (as in polars and the row checks): ``mean``, ``stddev`` and
  ``sum`` of a column holding NaN are NaN; ``min``, ``max`` and ``quantile`` order the other
  values (as polars' min/max and the KLL sketch do).
* ``min``/``max`` of dates are dates, of timestamps datetimes (UTC-aware for a column with a
  timezone, naive without); of numbers and strings the values. Other types have none.
* A column of no rows measures None for every metric; one of only nulls measures its
  ``missing_*`` and None for the rest.

Distinct counts hash a canonical form of each value, so that every file's sketch of a column
agrees: integers, booleans and integral floats as 64-bit integers (``5`` and ``5.0`` are one
value), other floats as doubles, dates as days and timestamps as microseconds since the epoch
(the Delta resolution), times as nanoseconds, decimals and strings as text."""

from __future__ import annotations

import base64
import datetime as dt
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import datasketches as dsk
import numpy as np
import polars as pl

from lake.contracts.model import METRICS

KLL_K = 400  # KLL accuracy: about 0.68% normalized rank error (99% confidence), a few KB a column
HLL_LG_K = 12  # HLL with 4,096 buckets: about 1.6% relative standard error, 2.5 KB at most
HLL_SDS = 2  # HLL bounds are stated at two standard deviations (about 95.4% confidence)

_DISTINCT = frozenset({"distinct_count", "unique_ratio", "duplicate_count", "duplicate_percent"})
_EMPTY_STRING = -1  # hashed for "" (DataSketches ignores empty strings): 8 0xFF bytes, never UTF-8
_INT64 = 2.0**63


@dataclass(frozen=True)
class Measured:
    """A metric's value (None: no values to measure), whether it is exact, and where it is not,
    the sketch's bound."""

    value: Any
    exact: bool
    error: str = ""


@dataclass
class ColumnSummary:
    """A mergeable summary of one column's values (see the module's docstring).

    ``kind`` is ``number`` (integers, floats, decimals, booleans), ``string``, ``date``,
    ``datetime``, ``time``, ``other``, or ``null`` (a column a file does not have: only its row
    count is known)."""

    kind: str
    rows: int = 0
    nulls: int = 0
    total: int | float | Decimal = 0  # sum of the values: exact for integers, booleans, decimals
    mean: float = 0.0
    m2: float = 0.0  # sum of squared deviations from the mean
    low: Any = None  # min, as measure_series gives it
    high: Any = None  # max
    length: int = 0  # total string length, in characters
    tz: str | None = None  # datetimes: the column's timezone
    kll: Any = field(default=None, repr=False)  # kll_doubles_sketch of the (non-NaN) numbers
    hll: Any = field(default=None, repr=False)  # hll_sketch of the distinct values

    @property
    def count(self) -> int:
        """Non-null values."""
        return self.rows - self.nulls

    @classmethod
    def nulls_of(cls, rows: int) -> ColumnSummary:
        """``rows`` nulls of a column a file does not have."""
        return cls("null", rows=rows, nulls=rows)

    @classmethod
    def of(cls, series: pl.Series) -> ColumnSummary:
        kind, tz = _kind(series.dtype)
        out = cls(kind, rows=series.len(), nulls=series.null_count(), tz=tz)
        values = series.drop_nulls()
        out.hll = dsk.hll_sketch(HLL_LG_K)
        if kind == "number":
            out.kll = dsk.kll_doubles_sketch(KLL_K)
        if not values.len():
            return out
        if kind == "number":
            out.total, out.mean, out.m2 = _moments(values)
            floats = values.cast(pl.Float64).to_numpy()
            out.kll.update(np.array(floats, dtype=np.float64, copy=True))  # writable, contiguous
        out.low, out.high = _extreme(kind, values, "min"), _extreme(kind, values, "max")
        if kind == "string":
            out.length = int(values.cast(pl.String).str.len_chars().sum())
        _feed(out.hll, values.unique())
        return out

    def merge(self, other: ColumnSummary) -> ColumnSummary:
        """The summary of both sets of rows (a new object; neither is changed)."""
        return merge_summaries([self, other])

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rows": self.rows,
            "nulls": self.nulls,
            "total": _value_to_json(self.total),
            "mean": _value_to_json(self.mean),
            "m2": _value_to_json(self.m2),
            "low": _value_to_json(self.low),
            "high": _value_to_json(self.high),
            "length": self.length,
            "tz": self.tz,
            "kll": base64.b64encode(self.kll.serialize()).decode() if self.kll is not None else None,
            "hll": base64.b64encode(self.hll.serialize_compact()).decode() if self.hll is not None else None,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ColumnSummary:
        """The summary :meth:`to_json` gave. Raises ValueError (or KeyError, TypeError) on
        anything else."""
        kll, hll = raw["kll"], raw["hll"]
        out = cls(
            str(raw["kind"]),
            int(raw["rows"]),
            int(raw["nulls"]),
            _value_from_json(raw["total"]),
            float(_value_from_json(raw["mean"])),
            float(_value_from_json(raw["m2"])),
            _value_from_json(raw["low"]),
            _value_from_json(raw["high"]),
            int(raw["length"]),
            raw["tz"],
        )
        try:
            out.kll = dsk.kll_doubles_sketch.deserialize(base64.b64decode(kll)) if kll else None
            out.hll = dsk.hll_sketch.deserialize(base64.b64decode(hll)) if hll else None
        except RuntimeError as exc:  # DataSketches' own complaint about the bytes
            raise ValueError(f"a sketch of the summary does not deserialize: {exc}") from exc
        return out


def merge_summaries(parts: Iterable[ColumnSummary]) -> ColumnSummary:
    """The summary of all of ``parts``' rows, in one pass (one KLL merge and one HLL union).
    Raises ValueError when two parts with values are of different kinds."""
    parts = list(parts)
    if not parts:
        return ColumnSummary("null")
    kinds = {p.kind for p in parts if p.count}
    if len(kinds) > 1:
        raise ValueError(f"cannot merge summaries of {' and '.join(sorted(kinds))} values")
    typed = [p for p in parts if p.kind != "null"]
    out = ColumnSummary(
        kinds.pop() if kinds else (typed[0].kind if typed else "null"),
        tz=next((p.tz for p in typed if p.tz), None),
    )
    kll = dsk.kll_doubles_sketch(KLL_K) if any(p.kll is not None for p in parts) else None
    union = dsk.hll_union(HLL_LG_K)
    hll = False
    for p in parts:
        a, b = out.count, p.count
        out.rows += p.rows
        out.nulls += p.nulls
        if b:
            out.total = _add(out.total, p.total)
            delta = p.mean - out.mean
            out.mean = out.mean + delta * b / (a + b) if a else p.mean
            out.m2 = out.m2 + p.m2 + delta * delta * a * b / (a + b) if a else p.m2
            out.low = _pick(min, out.low, p.low)
            out.high = _pick(max, out.high, p.high)
            out.length += p.length
        if p.kll is not None and kll is not None:
            kll.merge(p.kll)
        if p.hll is not None:
            union.update(p.hll)
            hll = True
    out.kll = kll
    out.hll = union.get_result() if hll or out.kind != "null" else None
    return out


def measure_series(metric: str, series: pl.Series, p: float | None = None) -> Measured:
    """``metric`` of ``series``, exactly (the conventions are the module's)."""
    _known(metric, p)
    kind, _ = _kind(series.dtype)
    rows = series.len()
    if not rows:
        return Measured(None, True)
    if metric == "missing_count":
        return Measured(series.null_count(), True)
    if metric == "missing_percent":
        return Measured(100.0 * series.null_count() / rows, True)
    values = series.drop_nulls()
    n = values.len()
    if not n:
        return Measured(None, True)
    if metric in _DISTINCT:
        return Measured(_distinct_metric(metric, _n_distinct(values), n), True)
    if metric == "avg_length":
        if kind != "string":
            return Measured(None, True)
        return Measured(int(values.cast(pl.String).str.len_chars().sum()) / n, True)
    if metric in ("min", "max"):
        return Measured(_extreme(kind, values, metric), True)
    if kind != "number":
        return Measured(None, True)
    total, mean, m2 = _moments(values)
    if metric == "sum":
        return Measured(total, True)
    if metric == "mean":
        return Measured(mean, True)
    if metric == "stddev":
        return Measured(_stddev(m2, n), True)
    assert p is not None
    numbers = values.cast(pl.Float64).to_numpy()
    numbers = numbers[~np.isnan(numbers)]
    return Measured(float(np.quantile(numbers, p)) if numbers.size else None, True)


def measure_summary(metric: str, summary: ColumnSummary, p: float | None = None) -> Measured:
    """``metric`` from a (merged) summary: exact where the summary keeps it exactly (sums, counts,
    means, deviations, extremes, lengths, the missing values; a quantile while the KLL sketch
    still holds every value, and the 0 and 1 quantiles always), else the sketch's estimate with
    its bound: KLL for quantiles, HLL for distinct counts and what derives from them."""
    _known(metric, p)
    n = summary.count
    if not summary.rows:
        return Measured(None, True)
    if metric == "missing_count":
        return Measured(summary.nulls, True)
    if metric == "missing_percent":
        return Measured(100.0 * summary.nulls / summary.rows, True)
    if not n:
        return Measured(None, True)
    if metric in ("min", "max"):
        return Measured(summary.low if metric == "min" else summary.high, True)
    if metric == "avg_length":
        return Measured(summary.length / n if summary.kind == "string" else None, True)
    if metric in _DISTINCT:
        return _distinct_estimate(metric, summary)
    if summary.kind != "number":
        return Measured(None, True)
    if metric == "sum":
        return Measured(summary.total, True)
    if metric == "mean":
        return Measured(_mean(summary.total, n, summary.mean), True)
    if metric == "stddev":
        return Measured(_stddev(summary.m2, n), True)
    assert p is not None
    return _quantile_estimate(summary.kll, p)


def _known(metric: str, p: float | None) -> None:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}: one of {', '.join(METRICS)}")
    if metric == "quantile" and (p is None or not 0 <= p <= 1):
        raise ValueError(f"a quantile needs p in [0, 1], not {p!r}")


def _quantile_estimate(kll: Any, p: float) -> Measured:
    if kll is None or kll.is_empty():
        return Measured(None, True)  # no numbers but NaN
    if not kll.is_estimation_mode():  # the sketch still holds every value: exact
        n = kll.n
        items = np.array([kll.get_quantile((i + 0.5) / n, True) for i in range(n)], dtype=np.float64)
        return Measured(float(np.quantile(items, p)), True)
    if p in (0.0, 1.0):  # the sketch keeps the extremes exactly
        return Measured(float(kll.get_min_value() if p == 0 else kll.get_max_value()), True)
    eps = kll.normalized_rank_error(False)
    # the true quantile's rank is p, and the sketch ranks every value within eps of its true rank
    # (the extremes it keeps exactly: the top and bottom retained items stand for many values)
    low = float(kll.get_min_value() if p - eps <= 0 else kll.get_quantile(p - eps))
    high = float(kll.get_max_value() if p + eps >= 1 else kll.get_quantile(p + eps, True))
    error = (
        f"KLL sketch (k={kll.k}, {kll.n:,} values): rank error +-{eps:.2%} (99% confidence), "
        f"so between {low:.6g} and {high:.6g}"
    )
    return Measured(float(kll.get_quantile(p)), False, error)


def _distinct_estimate(metric: str, summary: ColumnSummary) -> Measured:
    hll, n = summary.hll, summary.count
    if hll is None:
        raise ValueError("the summary has no distinct-count sketch")
    estimate = max(1, min(round(hll.get_estimate()), n))
    low = max(1, min(math.floor(hll.get_lower_bound(HLL_SDS)), n))
    high = max(1, min(math.ceil(hll.get_upper_bound(HLL_SDS)), n))
    value = _distinct_metric(metric, estimate, n)
    a, b = sorted((_distinct_metric(metric, low, n), _distinct_metric(metric, high, n)))
    relative = max(
        abs(dsk.hll_sketch.get_rel_err(up, True, hll.lg_config_k, HLL_SDS)) for up in (True, False)
    )
    shown = f"{a:.6g} and {b:.6g}" if isinstance(a, float) else f"{a:,} and {b:,}"
    error = (
        f"HLL sketch (lg_k={hll.lg_config_k}): {estimate:,} distinct values estimated, relative "
        f"error +-{relative:.1%} (2 standard deviations, about 95% confidence), so between {shown}"
    )
    return Measured(value, False, error)


def _distinct_metric(metric: str, distinct: int, n: int) -> float | int:
    if metric == "distinct_count":
        return distinct
    if metric == "unique_ratio":
        return distinct / n
    if metric == "duplicate_count":
        return n - distinct
    return 100.0 * (n - distinct) / n


def _n_distinct(values: pl.Series) -> int:
    """Distinct values as the sketches see them: integral floats are their integers."""
    if values.dtype.is_float():
        floats = values.to_numpy()
        nan = np.isnan(floats)
        return int(np.unique(floats[~nan]).size + bool(nan.any()))  # -0.0 == 0.0, NaN one value
    return values.n_unique()


def _moments(values: pl.Series) -> tuple[int | float | Decimal, float, float]:
    """Sum, mean and sum of squared deviations of non-null numbers (two passes)."""
    n = values.len()
    if values.dtype == pl.Boolean or values.dtype.is_integer():
        low, high = values.min(), values.max()
        assert isinstance(low, int) and isinstance(high, int)  # bools are ints
        wide = max(abs(low), abs(high)) * n >= 2**63  # the 64-bit sum could overflow
        total: int | float | Decimal = int(values.cast(pl.Int128 if wide else pl.Int64).sum())
    elif isinstance(values.dtype, pl.Decimal):
        total = Decimal(values.sum())
    else:
        total = float(values.sum())
    floats = values.cast(pl.Float64)
    mean = _mean(total, n, float(floats.mean()))  # type: ignore[arg-type]
    m2 = float(((floats - mean) ** 2).sum())
    return total, mean, m2


def _add(a: int | float | Decimal, b: int | float | Decimal) -> int | float | Decimal:
    """Two sums: exact while both are (a decimal and a float add as floats)."""
    if {type(a), type(b)} == {Decimal, float}:
        return float(a) + float(b)
    return a + b  # type: ignore[operator]


def _mean(total: int | float | Decimal, n: int, mean: float) -> float:
    """The mean: the exact sum over the count (correctly rounded) where the sum is exact."""
    if isinstance(total, int):
        return total / n
    if isinstance(total, Decimal):
        return float(total / n)
    return mean


def _stddev(m2: float, n: int) -> float | None:
    if n < 2:
        return None
    return math.sqrt(max(m2, 0.0) / (n - 1)) if not math.isnan(m2) else math.nan


def _kind(dtype: pl.DataType) -> tuple[str, str | None]:
    if dtype.is_numeric() or dtype == pl.Boolean:
        return "number", None
    if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum):
        return "string", None
    if dtype == pl.Date:
        return "date", None
    if isinstance(dtype, pl.Datetime):
        return "datetime", dtype.time_zone
    if dtype == pl.Time:
        return "time", None
    if dtype == pl.Null:
        return "null", None
    return "other", None


def _extreme(kind: str, values: pl.Series, which: str) -> Any:
    """min or max of non-null values, in the column's own terms (see the module's docstring)."""
    if kind not in ("number", "string", "date", "datetime", "time"):
        return None
    if kind == "string":
        values = values.cast(pl.String)
    value = values.min() if which == "min" else values.max()
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC)
    return value


def _feed(hll: Any, values: pl.Series) -> None:
    """Each (distinct) value into the HLL sketch, by its canonical form (module docstring)."""
    dtype = values.dtype
    if dtype == pl.Boolean or dtype.is_integer():
        if dtype == pl.UInt64:
            values = values.reinterpret(signed=True)
        _update(hll, values.cast(pl.Int64).to_numpy().tolist())
    elif dtype.is_float():
        floats = values.cast(pl.Float64).to_numpy()
        integral = np.isfinite(floats) & (floats == np.trunc(floats)) & (np.abs(floats) < _INT64)
        _update(hll, floats[integral].astype(np.int64).tolist())
        _update(hll, floats[~integral].tolist())  # the sketch makes -0.0 and every NaN one value each
    elif isinstance(dtype, pl.Decimal):
        _update(hll, [format(d.normalize(), "f") for d in values.to_list()])
    elif dtype == pl.Date:
        _update(hll, values.cast(pl.Int32).to_numpy().tolist())
    elif isinstance(dtype, pl.Datetime):
        _update(hll, values.dt.epoch("us").to_numpy().tolist())
    elif dtype == pl.Time:
        _update(hll, values.cast(pl.Int64).to_numpy().tolist())
    elif dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum):
        _update(hll, [s or _EMPTY_STRING for s in values.cast(pl.String).to_list()])
    else:
        _update(hll, [repr(o) for o in values.to_list()])


def _update(hll: Any, items: list[Any]) -> None:
    deque(map(hll.update, items), maxlen=0)  # the sketch takes one value a call: no Python loop


def _pick(choose: Any, a: Any, b: Any) -> Any:
    """``choose`` of two extremes, where None is none and NaN loses (as in polars' min/max)."""
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b if b is not None else a
    if b is None or (isinstance(b, float) and math.isnan(b)):
        return a
    return choose(a, b)


def _value_to_json(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"time": value.isoformat()}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": repr(value)}  # nan, inf, -inf: standard JSON has none
    return value


def _value_from_json(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    [(tag, text)] = value.items()
    parse = {
        "datetime": dt.datetime.fromisoformat,
        "date": dt.date.fromisoformat,
        "time": dt.time.fromisoformat,
        "decimal": Decimal,
        "float": float,
    }[tag]
    return parse(text)
