"""Drift statistics between a reference sample (the target's data) and the rows a branch adds or
changes. Defaults are effect sizes, as Evidently uses for large samples: Wasserstein distance
normed by the reference's standard deviation for numbers, Jensen-Shannon distance for
categories, each with threshold 0.1. PSI, KS and chi-square are available per column.

Two material shifts fail whatever the statistic says (:class:`ShiftRules`, per column in the
contract's ``drift`` section): a category holding at least 5% of the reference whose share
doubles or halves, and a null rate that rises by five points or doubles from at least 1%. A
shift is judged with the sampling error of both shares: it must reach the factor (or rise)
within 5% of it *and* be a real change (beyond four standard errors), so a true doubling fails
every time and sampling noise never does.

The statistics are computed at the speed of a sort: Wasserstein from the two sorted samples by
one pass over their quantile functions (:func:`wasserstein_sorted`, equal to scipy's
``wasserstein_distance`` on the same samples), Jensen-Shannon from category counts (scipy's)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

DEFAULT_THRESHOLDS = {"wasserstein": 0.1, "jensenshannon": 0.1, "psi": 0.1, "ks": 0.05, "chisquare": 0.05}
MIN_ROWS = 30  # below this on either side a distribution says nothing; drift is skipped
BINS = 20
TOLERANCE = 0.05  # a shift within 5% of its factor (or rise) counts as reaching it
Z = 4.0  # a shift is real beyond this many standard errors of the difference of the shares


@dataclass(frozen=True)
class ShiftRules:
    """The material shifts that fail a column whatever its statistic says."""

    share_floor: float = 0.05
    share_factor: float = 2.0
    null_rate_rise: float = 0.05
    null_rate_factor: float = 2.0
    null_rate_floor: float = 0.01


@dataclass(frozen=True)
class Histogram:
    edges: tuple[float, ...] = ()  # numeric: bin edges; categorical: empty
    labels: tuple[str, ...] = ()  # categorical: category names
    reference: tuple[float, ...] = ()  # shares, summing to 1
    current: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "edges": list(self.edges),
            "labels": list(self.labels),
            "reference": list(self.reference),
            "current": list(self.current),
        }


@dataclass(frozen=True)
class DriftResult:
    column: str
    method: str
    status: str  # pass | fail | skip
    value: float | None
    threshold: float | None
    reason: str = ""
    reference_summary: dict[str, Any] = field(default_factory=dict)
    current_summary: dict[str, Any] = field(default_factory=dict)
    histogram: Histogram | None = None
    flagged_categories: tuple[str, ...] = ()


def _summary(s: pl.Series) -> dict[str, Any]:
    """Rows and null rate."""
    return {"rows": s.len(), "null_rate": round(s.null_count() / s.len(), 6) if s.len() else 0.0}


def _numeric_summary(ordered: np.ndarray) -> dict[str, Any]:
    """Mean, std and quartiles of an already sorted array (quantiles by position, no re-sort)."""
    if not len(ordered):
        return {}
    idx = [round(q * (len(ordered) - 1)) for q in (0.0, 0.25, 0.5, 0.75, 1.0)]
    return {
        "mean": float(ordered.mean()),
        "std": float(ordered.std()),
        "quantiles": [float(ordered[i]) for i in idx],
    }


def is_numeric(dtype: pl.DataType) -> bool:
    return dtype.is_numeric() and dtype != pl.Boolean


def wasserstein_sorted(u: np.ndarray, v: np.ndarray) -> float:
    """``scipy.stats.wasserstein_distance(u, v)`` for sorted ``u`` and ``v``, in one pass over their
    quantile functions: W1 is the integral over t in (0, 1] of |u(t) - v(t)|, and both are step
    functions that change only at i/n and j/m. The breakpoints merge by integer arithmetic (i*m
    against j*n), with no search; equal sizes need only the mean of |u_i - v_i|."""
    n, m = len(u), len(v)
    if n == m:
        return float(np.abs(u - v).mean())
    i = np.arange(1, n + 1, dtype=np.int64)
    j = np.arange(1, m + 1, dtype=np.int64)
    at = np.empty(n + m, np.int64)  # the breakpoints t = at / (n * m), in order
    at[i - 1 + (i * m - 1) // n] = i * m
    at[j - 1 + (j * n) // m] = j * n  # a tie i/n == j/m: u's first, then a zero-length step
    lengths = np.diff(at, prepend=0).astype(np.float64)
    steps = np.abs(u[-(-at // m) - 1] - v[-(-at // n) - 1])
    return float(np.dot(lengths, steps) / (n * m))


def _histogram(r: np.ndarray, c: np.ndarray) -> Histogram:
    """Shares of both sorted samples in the reference's BINS equal bins (np.histogram's bins,
    the last one closed; current values outside fall into the end bins)."""
    edges = np.linspace(r[0], r[-1], BINS + 1) if r[0] < r[-1] else np.array([r[0] - 0.5, r[0] + 0.5])

    def shares(x: np.ndarray) -> np.ndarray:
        cuts = np.searchsorted(x, edges[1:-1], side="left")
        counts = np.diff(np.concatenate([[0], cuts, [len(x)]]))
        return counts / max(len(x), 1)

    return Histogram(
        edges=tuple(float(e) for e in edges),
        reference=tuple(float(x) for x in shares(r)),
        current=tuple(float(x) for x in shares(c)),
    )


def _material(a: float, b: float, n: int, m: int, factor: float) -> bool:
    """Whether a share ``a`` (of ``n`` rows) moving to ``b`` (of ``m``) grows or shrinks by
    ``factor``: within TOLERANCE of it, and beyond Z standard errors of sampling noise."""
    reached = b >= a * factor * (1 - TOLERANCE) or b <= a / (factor * (1 - TOLERANCE))
    se = np.sqrt(a * (1 - a) / max(n, 1) + b * (1 - b) / max(m, 1))
    return bool(reached and abs(b - a) > Z * se)


def shifted_categories(
    ref: Mapping[str, float], cur: Mapping[str, float], n: int, m: int, rules: ShiftRules
) -> tuple[str, ...]:
    """The categories holding at least ``share_floor`` of the reference whose share grew or
    shrank by ``share_factor`` (``ref`` and ``cur`` are shares; ``n`` and ``m`` the non-null rows)."""
    return tuple(
        k
        for k, a in sorted(ref.items())
        if a >= rules.share_floor and _material(a, cur.get(k, 0.0), n, m, rules.share_factor)
    )


def null_rate_shift(ref_nulls: int, ref_rows: int, cur_nulls: int, cur_rows: int, rules: ShiftRules) -> str:
    """Why the null rate moved materially (a rise by ``null_rate_rise``, or by ``null_rate_factor``
    from at least ``null_rate_floor``), or "" when it did not."""
    if not ref_rows or not cur_rows:
        return ""
    a, b = ref_nulls / ref_rows, cur_nulls / cur_rows
    se = np.sqrt(a * (1 - a) / ref_rows + b * (1 - b) / cur_rows)
    if b - a <= Z * se:
        return ""
    if b - a >= rules.null_rate_rise * (1 - TOLERANCE):
        points = f"{rules.null_rate_rise * 100:g} points"
        return f"null rate rose from {a:.1%} to {b:.1%} (a rise of {points} fails)"
    if a >= rules.null_rate_floor and b >= a * rules.null_rate_factor * (1 - TOLERANCE):
        return f"null rate grew from {a:.1%} to {b:.1%} ({b / a:.1f}x; {rules.null_rate_factor:g}x fails)"
    return ""


def category_counts(series: pl.Series) -> dict[str, int]:
    """Non-null values as strings, with their counts."""
    vc = series.drop_nulls().cast(pl.String).value_counts()
    return dict(zip(vc[vc.columns[0]].to_list(), vc["count"].to_list(), strict=True))


def column_drift(
    column: str,
    reference: pl.Series,
    current: pl.Series,
    method: str,
    threshold: float | None,
    rules: ShiftRules | None = None,
    *,
    reference_counts: Mapping[str, int] | None = None,
) -> DriftResult:
    """The drift of ``current`` from ``reference``. For categories, ``reference_counts`` (a
    profile's) stands for the reference sample when given."""
    rules = rules or ShiftRules()
    numeric = is_numeric(current.dtype if reference_counts is not None else reference.dtype)
    if method == "auto":
        method = "wasserstein" if numeric else "jensenshannon"
    limit = threshold if threshold is not None else DEFAULT_THRESHOLDS.get(method)
    as_numbers = numeric and method in ("wasserstein", "psi", "ks") and reference_counts is None
    ref_sum, cur_sum = _summary(reference), _summary(current)
    ref_n = (
        sum(reference_counts.values())
        if reference_counts is not None
        else reference.len() - reference.null_count()
    )
    cur_n = current.len() - current.null_count()
    if ref_n < MIN_ROWS or cur_n < MIN_ROWS:
        why = f"fewer than {MIN_ROWS} non-null rows on a side"
        return DriftResult(column, method, "skip", None, limit, why, ref_sum, cur_sum)
    if as_numbers:
        r = reference.drop_nulls().cast(pl.Float64).sort().to_numpy()
        c = current.drop_nulls().cast(pl.Float64).sort().to_numpy()
        ref_sum.update(_numeric_summary(r))
        cur_sum.update(_numeric_summary(c))
        hist = _histogram(r, c)
        if method == "wasserstein":
            sd = float(np.std(r))
            value = wasserstein_sorted(r, c) / (sd if sd > 0 else 1.0)
            drifted = value >= limit  # type: ignore[operator]
        elif method == "psi":
            n_r = np.array(hist.reference) * len(r)
            n_c = np.array(hist.current) * len(c)
            value = _psi(n_r, n_c)
            drifted = value >= limit  # type: ignore[operator]
        else:
            from scipy import stats  # half a second to import: only when a column needs it

            value = float(stats.ks_2samp(r, c).pvalue)
            drifted = value < limit  # type: ignore[operator]
        status = "fail" if drifted else "pass"
        return DriftResult(column, method, status, value, limit, "", ref_sum, cur_sum, hist)
    # categories
    rmap = dict(reference_counts) if reference_counts is not None else category_counts(reference)
    cmap = category_counts(current)
    labels = sorted(set(rmap) | set(cmap))
    rv = np.array([rmap.get(k, 0) for k in labels], dtype=float)
    cv = np.array([cmap.get(k, 0) for k in labels], dtype=float)
    rp, cp = rv / rv.sum(), cv / cv.sum()
    for summary, counts in ((ref_sum, rmap), (cur_sum, cmap)):
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        summary.update({"top": dict(top), "distinct": len(counts)})
    hist = Histogram(
        labels=tuple(labels), reference=tuple(float(x) for x in rp), current=tuple(float(x) for x in cp)
    )
    if method == "chisquare":
        from scipy import stats

        expected = rp * cv.sum()
        mask = expected > 0
        value = float(
            stats.chisquare(cv[mask], expected[mask] * cv[mask].sum() / expected[mask].sum()).pvalue
        )
        drifted = value < limit  # type: ignore[operator]
    elif method == "psi":
        value = _psi(rv, cv)
        drifted = value >= limit  # type: ignore[operator]
    else:
        from scipy.spatial import distance

        method = "jensenshannon"
        value = float(distance.jensenshannon(rp, cp))
        drifted = value >= limit  # type: ignore[operator]
    flagged = shifted_categories(
        dict(zip(labels, rp, strict=True)),
        dict(zip(labels, cp, strict=True)),
        int(rv.sum()),
        int(cv.sum()),
        rules,
    )
    moves = [f"{k} {rmap.get(k, 0) / rv.sum():.1%} -> {cmap.get(k, 0) / cv.sum():.1%}" for k in flagged]
    factor = f"{rules.share_factor:g}x"
    reason = f"share moved by {factor} or more: {', '.join(moves)}" if flagged else ""
    status = "fail" if drifted or flagged else "pass"
    return DriftResult(column, method, status, value, limit, reason, ref_sum, cur_sum, hist, flagged)


def _psi(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    eps = 1e-4
    r = np.clip(ref_counts / max(ref_counts.sum(), 1), eps, None)
    c = np.clip(cur_counts / max(cur_counts.sum(), 1), eps, None)
    return float(np.sum((c - r) * np.log(c / r)))


def identifier_reason(name: str, series: pl.Series, keys: Sequence[str]) -> str | None:
    """Why a column is an identifier (not drift-checked in auto mode), or None."""
    if name in keys:
        return "primary key or unique column: new ids always differ"
    v = series.drop_nulls()
    if v.dtype == pl.String and v.len() >= MIN_ROWS and v.n_unique() / v.len() > 0.9:
        return "near-unique strings (an identifier, such as an email)"
    return None
