"""Contracts run as pandera schemas (polars backend). The row rules are the compiled polars
expressions of :mod:`.compiled`, wrapped as pandera checks with the same names. The other way,
a pandera model read as a contract, is the spec's business: :mod:`lake.contracts.pandera_model`."""

from __future__ import annotations

from typing import Any

import pandera.polars as pap
import polars as pl
import pyarrow as pa

from lake.contracts.model import ColumnSpec, Contract

from .compiled import compile_checks


def _polars_dtype(spec: ColumnSpec) -> Any:
    series = pl.from_arrow(pa.nulls(0, spec.arrow_type))
    assert isinstance(series, pl.Series)
    return series.dtype


def _frame_check(expr: pl.Expr, name: str) -> pap.Check:
    return pap.Check(lambda data: data.lazyframe.select(expr), name=name)


# pandera's own names for the rules it runs itself, mapped to the contract's check names
PANDERA_NAMES = {"not_nullable": "{column}.not_null", "field_uniqueness": "{column}.unique"}


def to_pandera(contract: Contract, *, row_rules_only: bool = False) -> pap.DataFrameSchema:
    """The contract as a pandera polars schema. ``row_rules_only`` leaves out uniqueness, which
    the lake checks across the whole dataset rather than within one frame."""
    checks = compile_checks(contract)
    columns: dict[str, pap.Column] = {}
    for name, spec in contract.columns.items():
        own = [
            pap.Check(lambda data, e=c.passes: data.lazyframe.select(e), name=c.name)
            for c in checks
            if c.column == name and c.passes is not None and c.kind != "not_null"
        ]
        columns[name] = pap.Column(
            _polars_dtype(spec), checks=own, nullable=spec.nullable, unique=spec.unique and not row_rules_only
        )
    frame = [
        _frame_check(c.passes, c.name)
        for c in checks
        if c.passes is not None
        and (c.column is None or (c.kind == "not_null" and c.name != f"{c.column}.not_null"))
    ]
    unique = [list(c.unique_on) for c in checks if c.kind == "unique" and len(c.unique_on) > 1]
    return pap.DataFrameSchema(
        columns,
        checks=frame,
        unique=unique[0] if len(unique) == 1 and not row_rules_only else None,
        strict=contract.extra_columns == "forbid",
        name=contract.dataset,
        description=contract.description,
    )
