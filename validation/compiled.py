"""A contract compiled to checks: each row-level rule is one polars expression that is True
where a row passes. The same expressions feed the lake's one-pass validation (:mod:`.engine`) and
the pandera schema (:mod:`.pandera_schema`), so the two can never disagree about what a rule
means. The contract says what must hold (lake.contracts); this is how it is checked."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any, Literal

import polars as pl
import pyarrow as pa

from lake.contracts.model import (
    CheckSpec,
    ColumnSpec,
    Contract,
    Freshness,
    MetricBound,
    RowCount,
    Severity,
    instant,
)

Kind = Literal[
    "not_null",
    "min",
    "max",
    "in",
    "not_in",
    "pattern",
    "min_length",
    "max_length",
    "sql",
    "unique",
    "row_count",
    "freshness",
    "metric",
]


@dataclass(frozen=True)
class CompiledCheck:
    name: str
    kind: Kind
    column: str | None
    threshold: str
    severity: Severity = "error"
    mostly: float = 1.0
    passes: pl.Expr | None = None  # row-level: True where the row passes
    unique_on: tuple[str, ...] = ()  # unique: the columns that must be unique together
    row_count: RowCount | None = None
    freshness: Freshness | None = None
    where: pl.Expr | None = None  # the rows the check runs on (SQL WHERE: null selects nothing)
    where_sql: str | None = None
    metric: str | None = None  # metric: its name, and the bounds it must keep
    bound: MetricBound | None = None

    @property
    def row_level(self) -> bool:
        return self.passes is not None

    @property
    def selects(self) -> pl.Expr:
        """True on the rows the check runs on."""
        return pl.lit(True) if self.where is None else self.where.fill_null(False)


def _where(check: CompiledCheck, sql: str | None) -> CompiledCheck:
    """``check`` restricted to the rows ``sql`` selects: a row rule passes on the others."""
    if sql is None:
        return check
    where = pl.sql_expr(sql)
    passes = None if check.passes is None else (~where.fill_null(False)) | check.passes
    label = f"{check.threshold} where {sql}"
    return replace(check, where=where, where_sql=sql, passes=passes, threshold=label)


def bound_literal(value: Any, dtype: pa.DataType) -> Any:
    """A contract bound as a literal comparable with a column of ``dtype``: dates as dates,
    datetimes in the column's timezone (a naive bound is read as UTC, a date as its midnight
    UTC; a column without a timezone compares in UTC), numbers as they are."""
    if not isinstance(value, dt.date) or not pa.types.is_timestamp(dtype):
        return value
    aware = instant(value)
    zone = dtype.tz
    if zone is None:
        return pl.lit(aware.astimezone(dt.UTC).replace(tzinfo=None), pl.Datetime(dtype.unit))
    return pl.lit(aware.astimezone(dt.UTC), pl.Datetime(dtype.unit, "UTC")).dt.convert_time_zone(zone)


def _row(
    name: str, kind: Kind, column: str | None, threshold: str, expr: pl.Expr, **kw: Any
) -> CompiledCheck:
    return CompiledCheck(name, kind, column, threshold, passes=expr, **kw)


def compile_checks(contract: Contract) -> list[CompiledCheck]:
    out: list[CompiledCheck] = []
    for name, spec in contract.columns.items():
        out += [_where(c, spec.where) for c in _column_checks(name, spec)]
    if contract.primary_key:
        pk = tuple(contract.primary_key)
        for c in pk:
            if contract.columns[c].nullable:
                out.append(
                    _row(f"primary_key.{c}.not_null", "not_null", c, "not null", pl.col(c).is_not_null())
                )
        if not (len(pk) == 1 and contract.columns[pk[0]].unique):  # else {pk}.unique says it already
            out.append(CompiledCheck("primary_key", "unique", ",".join(pk), "unique", unique_on=pk))
    out.extend(_where(_dataset_check(c), c.where) for c in contract.checks)
    return out


def _column_checks(name: str, spec: ColumnSpec) -> list[CompiledCheck]:
    """The checks one column's spec asks for (before its ``where``)."""
    out: list[CompiledCheck] = []
    col = pl.col(name)
    if not spec.nullable:
        out.append(_row(f"{name}.not_null", "not_null", name, "not null", col.is_not_null()))
    if spec.unique:
        out.append(CompiledCheck(f"{name}.unique", "unique", name, "unique", unique_on=(name,)))
    if spec.min is not None:
        low = bound_literal(spec.min, spec.arrow_type)
        out.append(_row(f"{name}.min", "min", name, f">= {_show(spec.min)}", (col >= low).fill_null(True)))
    if spec.max is not None:
        high = bound_literal(spec.max, spec.arrow_type)
        out.append(_row(f"{name}.max", "max", name, f"<= {_show(spec.max)}", (col <= high).fill_null(True)))
    if spec.in_ is not None:
        out.append(_row(f"{name}.in", "in", name, f"in {spec.in_}", col.is_in(spec.in_).fill_null(True)))
    if spec.not_in is not None:
        out.append(
            _row(
                f"{name}.not_in",
                "not_in",
                name,
                f"not in {spec.not_in}",
                col.is_in(spec.not_in).not_().fill_null(True),
            )
        )
    if spec.pattern is not None:
        out.append(
            _row(
                f"{name}.pattern",
                "pattern",
                name,
                f"matches {spec.pattern}",
                col.str.contains(spec.pattern).fill_null(True),
            )
        )
    if spec.min_length is not None:
        out.append(
            _row(
                f"{name}.min_length",
                "min_length",
                name,
                f"length >= {spec.min_length}",
                (col.str.len_chars() >= spec.min_length).fill_null(True),
            )
        )
    if spec.max_length is not None:
        out.append(
            _row(
                f"{name}.max_length",
                "max_length",
                name,
                f"length <= {spec.max_length}",
                (col.str.len_chars() <= spec.max_length).fill_null(True),
            )
        )
    for i, sql in enumerate(spec.checks):
        out.append(_row(f"{name}.check{i + 1}", "sql", name, sql, pl.sql_expr(sql).fill_null(True)))
    for metric, bounds in spec.metrics.items():
        for j, bound in enumerate(bounds):
            label = f"{name}.{metric}" + (f"[{j + 1}]" if len(bounds) > 1 else "")
            check = CompiledCheck(
                label,
                "metric",
                name,
                _metric_threshold(metric, bound),
                severity=bound.severity,
                metric=metric,
                bound=bound,
            )
            out.append(_where(check, bound.where))
    return out


def _show(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _metric_threshold(metric: str, bound: MetricBound) -> str:
    what = f"quantile({bound.p})" if metric == "quantile" else metric
    parts = [
        f">= {_show(bound.min)}" if bound.min is not None else "",
        f"<= {_show(bound.max)}" if bound.max is not None else "",
    ]
    scope = "the batch" if bound.scope == "batch" else "the dataset"
    return f"{what} {' and '.join(p for p in parts if p)} over {scope}"


def _dataset_check(check: CheckSpec) -> CompiledCheck:
    common: dict[str, Any] = {"severity": check.severity, "mostly": check.mostly}
    if check.sql is not None:
        return _row(check.name, "sql", None, check.sql, pl.sql_expr(check.sql).fill_null(True), **common)
    if check.unique is not None:
        cols = tuple(check.unique)
        return CompiledCheck(check.name, "unique", ",".join(cols), "unique", unique_on=cols, **common)
    if check.row_count is not None:
        rc = check.row_count
        bounds = " and ".join(
            b
            for b in (
                f">= {rc.min}" if rc.min is not None else "",
                f"<= {rc.max}" if rc.max is not None else "",
            )
            if b
        )
        return CompiledCheck(check.name, "row_count", None, f"rows {bounds or 'any'}", row_count=rc, **common)
    assert check.freshness is not None
    f = check.freshness
    return CompiledCheck(check.name, "freshness", f.column, f"max within {f.max_age}", freshness=f, **common)
