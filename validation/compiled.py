"""A contract compiled to checks: each row-level rule is one polars expression that is True
where a row passes. The same expressions feed the lake's one-pass validation (:mod:`.engine`) and
the pandera schema (:mod:`.pandera_schema`), so the two can never disagree about what a rule
means. The contract says what must hold (lake.contracts); this is how it is checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from lake.contracts.model import CheckSpec, Contract, Freshness, RowCount, Severity

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

    @property
    def row_level(self) -> bool:
        return self.passes is not None


def _row(
    name: str, kind: Kind, column: str | None, threshold: str, expr: pl.Expr, **kw: Any
) -> CompiledCheck:
    return CompiledCheck(name, kind, column, threshold, passes=expr, **kw)


def compile_checks(contract: Contract) -> list[CompiledCheck]:
    out: list[CompiledCheck] = []
    for name, spec in contract.columns.items():
        col = pl.col(name)
        if not spec.nullable:
            out.append(_row(f"{name}.not_null", "not_null", name, "not null", col.is_not_null()))
        if spec.unique:
            out.append(CompiledCheck(f"{name}.unique", "unique", name, "unique", unique_on=(name,)))
        if spec.min is not None:
            out.append(_row(f"{name}.min", "min", name, f">= {spec.min}", (col >= spec.min).fill_null(True)))
        if spec.max is not None:
            out.append(_row(f"{name}.max", "max", name, f"<= {spec.max}", (col <= spec.max).fill_null(True)))
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
    if contract.primary_key:
        pk = tuple(contract.primary_key)
        for c in pk:
            if contract.columns[c].nullable:
                out.append(
                    _row(f"primary_key.{c}.not_null", "not_null", c, "not null", pl.col(c).is_not_null())
                )
        if not (len(pk) == 1 and contract.columns[pk[0]].unique):  # else {pk}.unique says it already
            out.append(CompiledCheck("primary_key", "unique", ",".join(pk), "unique", unique_on=pk))
    out.extend(_dataset_check(c) for c in contract.checks)
    return out


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
