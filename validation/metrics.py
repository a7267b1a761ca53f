"""Column metrics: measured exactly on a column (:func:`measure_series`), or from a mergeable
:class:`ColumnSummary` (:func:`measure_summary`), which is how a dataset-scope metric avoids
rescanning the dataset: the summaries of the files it keeps merge with the batch's.

A summary keeps what merges exactly: row, null and value counts, the sum, the mean and the sum
of squared deviations (merged by Chan, Golub and LeVeque's parallel formula), the extremes and
the total string length; and two Apache DataSketches sketches for what does not: KLL for
quantiles of numbers and HLL for distinct counts. A metric from a sketch says so, with the
sketch's own error bound.

Conventions, those of pandas, Great Expectations and Soda: ``stddev`` is the sample standard
deviation (n - 1); ``quantile`` interpolates linearly between the closest ranks (numpy's
default); percents are 0-100; ``distinct_count``, ``unique_ratio`` and the duplicates count
non-null values only."""

from __future__ import annotations

import base64
import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import datasketches as dsk
import numpy as np
import polars as pl

KLL_K = 200  # KLL accuracy: about 1.3% normalized rank error (99% confidence), a few KB
HLL_LG_K = 12  # HLL with 4,096 buckets: about 1.6% relative standard error, 2.5 KB at most
CONFIDENCE_SDS = 2  # HLL bounds are stated at two standard deviations (95.4%)

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Measured:
    value: Any  # None: no values to measure
    exact: bool = True
    error: str = ""  # where approximate, the sketch's bound


@dataclass
class ColumnSummary:
    """A mergeable summary of one column's values (see the module's docstring)."""

    kind: str  # "number" | "string" | "date" | "datetime" | "other"
    rows: int = 0
    nulls: int = 0
    total: float | int = 0  # sum of the values (an exact int for integer columns)
    mean: float = 0.0
    m2: float = 0.0  # sum of squared deviations from the mean
    low: Any = None
    high: Any = None
    length: int = 0  # total string length, in characters
    tz: str | None = None  # datetimes: the column's timezone
    kll: Any = field(default=None, repr=False)
    hll: Any = field(default=None, repr=False)

    @property
    def count(self) -> int:
        return self.rows - self.nulls

    @classmethod
    def of(cls, series: pl.Series) -> ColumnSummary:
        kind, tz = _kind(series.dtype)
        out = cls(kind, rows=series.len(), nulls=series.null_count(), tz=tz)
        values = series.drop_nulls()
        out.hll = dsk.hll_sketch(HLL_LG_K)
        if not values.len():
            return out
        if kind == "number":
            floats = values.cast(pl.Float64)
            out.total = (
                int(values.sum())
                if values.dtype.is_integer() or values.dtype == pl.Boolean
                else float(floats.sum())
            )
            out.mean = float(floats.mean())  # type: ignore[arg-type]
            out.m2 = float(((floats - out.mean) ** 2).sum())
            out.kll = dsk.kll_doubles_sketch(KLL_K)
            out.kll.update(np.array(floats.to_numpy(), dtype=np.float64, copy=True))
        if kind in ("number", "date", "datetime", "string"):
            out.low, out.high = values.min(), values.max()
        if kind == "string":
            out.length = int(values.str.len_chars().sum())
        _feed(out.hll, values.unique())
        return out

    def merge(self, other: ColumnSummary) -> ColumnSummary:
        """The summary of both sets of rows (a new object; neither is changed)."""
        a, b = self.count, other.count
        out = ColumnSummary(self.kind if self.count or self.rows else other.kind, tz=self.tz or other.tz)
        out.rows, out.nulls = self.rows + other.rows, self.nulls + other.nulls
        out.total = self.total + other.total
        if a + b:
            delta = other.mean - self.mean
            out.mean = self.mean + delta * b / (a + b)
            out.m2 = self.m2 + other.m2 + delta * delta * a * b / (a + b)
        out.low = _pick(min, self.low, other.low)
        out.high = _pick(max, self.high, other.high)
        out.length = self.length + other.length
        out.kll = _merged_kll(self.kll, other.kll)
        union = dsk.hll_union(HLL_LG_K)
        for sketch in (self.hll, other.hll):
            if sketch is not None:
                union.update(sketch)
        out.hll = union.get_result()
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rows": self.rows,
            "nulls": self.nulls,
            "total": self.total,
            "mean": self.mean,
            "m2": self.m2,
            "low": _to_json(self.low),
            "high": _to_json(self.high),
            "length": self.length,
            "tz": self.tz,
            "kll": base64.b64encode(self.kll.serialize()).decode() if self.kll is not None else None,
            "hll": base64.b64encode(self.hll.serialize_compact()).decode() if self.hll is not None else None,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ColumnSummary:
        kll = raw.get("kll")
        hll = raw.get("hll")
        return cls(
            raw["kind"],
            raw["rows"],
            raw["nulls"],
            raw["total"],
            raw["mean"],
            raw["m2"],
            _from_json(raw["low"]),
            _from_json(raw["high"]),
            raw["length"],
            raw.get("tz"),
            dsk.kll_doubles_sketch.deserialize(base64.b64decode(kll)) if kll else None,
            dsk.hll_sketch.deserialize(base64.b64decode(hll)) if hll else None,
        )


def measure_series(metric: str, series: pl.Series, p: float | None = None) -> Measured:
    """``metric`` of ``series``, exactly."""
    rows = series.len()
    values = series.drop_nulls()
    n = values.len()
    if metric == "missing_count":
        return Measured(series.null_count())
    if metric == "missing_percent":
        return Measured(100.0 * series.null_count() / rows if rows else None)
    if not n:
        return Measured(None)
    if metric in ("distinct_count", "unique_ratio", "duplicate_count", "duplicate_percent"):
        distinct = values.n_unique()
        return Measured(_distinct_metric(metric, distinct, n))
    if metric == "avg_length":
        return Measured(float(values.str.len_chars().mean()))  # type: ignore[arg-type]
    if metric in ("min", "max"):
        return Measured(values.min() if metric == "min" else values.max())
    floats = values.cast(pl.Float64)
    if metric == "sum":
        return Measured(int(values.sum()) if values.dtype.is_integer() else float(floats.sum()))
    if metric == "mean":
        return Measured(float(floats.mean()))  # type: ignore[arg-type]
    if metric == "stddev":
        return Measured(float(floats.std(ddof=1)) if n > 1 else None)  # type: ignore[arg-type]
    if metric == "quantile":
        assert p is not None
        return Measured(float(np.quantile(floats.to_numpy(), p)))
    raise ValueError(f"unknown metric {metric!r}")


def measure_summary(metric: str, summary: ColumnSummary, p: float | None = None) -> Measured:
    """``metric`` from a (merged) summary: exact where the summary keeps it exactly, else the
    sketch's estimate with its bound."""
    n = summary.count
    if metric == "missing_count":
        return Measured(summary.nulls)
    if metric == "missing_percent":
        return Measured(100.0 * summary.nulls / summary.rows if summary.rows else None)
    if not n:
        return Measured(None)
    if metric == "sum":
        return Measured(summary.total)
    if metric == "mean":
        return Measured(summary.mean)
    if metric == "stddev":
        return Measured(math.sqrt(summary.m2 / (n - 1)) if n > 1 else None)
    if metric in ("min", "max"):
        return Measured(summary.low if metric == "min" else summary.high)
    if metric == "avg_length":
        return Measured(summary.length / n)
    if metric == "quantile":
        assert p is not None and summary.kll is not None
        rank_error = summary.kll.normalized_rank_error(False)
        value = float(summary.kll.get_quantile(p))
        low = float(summary.kll.get_quantile(max(0.0, p - rank_error)))
        high = float(summary.kll.get_quantile(min(1.0, p + rank_error)))
        bound = (
            f"KLL sketch, rank error +-{rank_error:.2%} (99% confidence): between {low:.6g} and {high:.6g}"
        )
        return Measured(value, exact=False, error=bound)
    if metric in ("distinct_count", "unique_ratio", "duplicate_count", "duplicate_percent"):
        hll = summary.hll
        estimate = min(round(hll.get_estimate()), n)
        lower = min(hll.get_lower_bound(CONFIDENCE_SDS), n)
        upper = min(hll.get_upper_bound(CONFIDENCE_SDS), n)
        relative = (upper - lower) / 2 / estimate if estimate else 0.0
        bound = (
            f"HLL sketch, distinct values between {lower:.0f} and {upper:.0f} "
            f"(+-{relative:.1%}, 95% confidence)"
        )
        return Measured(_distinct_metric(metric, estimate, n), exact=False, error=bound)
    raise ValueError(f"unknown metric {metric!r}")


def _distinct_metric(metric: str, distinct: int, n: int) -> float | int:
    if metric == "distinct_count":
        return distinct
    if metric == "unique_ratio":
        return distinct / n
    if metric == "duplicate_count":
        return n - distinct
    return 100.0 * (n - distinct) / n


def _kind(dtype: pl.DataType) -> tuple[str, str | None]:
    if dtype.is_numeric() or dtype == pl.Boolean:
        return "number", None
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Categorical | pl.Enum):
        return "string", None
    if dtype == pl.Date:
        return "date", None
    if isinstance(dtype, pl.Datetime):
        return "datetime", dtype.time_zone
    return "other", None


def _feed(hll: Any, values: pl.Series) -> None:
    """Each distinct value into the HLL sketch, by a canonical form every type has."""
    if values.dtype.is_integer() or values.dtype == pl.Boolean:
        for v in values.cast(pl.Int64).to_list():
            hll.update(int(v))
    elif values.dtype.is_float():
        for v in values.to_list():
            hll.update(float(v))
    else:
        for v in values.cast(pl.String).to_list():
            hll.update("=" + str(v))  # the sketch ignores the empty string: prefix every value


def _pick(choose: Any, a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return choose(a, b)


def _merged_kll(a: Any, b: Any) -> Any:
    if a is None and b is None:
        return None
    out = dsk.kll_doubles_sketch(KLL_K)
    for sketch in (a, b):
        if sketch is not None:
            out.merge(sketch)
    return out


def _to_json(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if "datetime" in value:
            return dt.datetime.fromisoformat(value["datetime"])
        return dt.date.fromisoformat(value["date"])
    return value
