"""Contracts to and from pandera (polars backend). The row rules are the compiled polars
expressions of :mod:`.compiled`, wrapped as pandera checks with the same names."""

from __future__ import annotations

from typing import Any

import pandera.polars as pap
import polars as pl
import pyarrow as pa

from .compiled import compile_checks
from .model import ColumnSpec, Contract
from .types import type_name


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


def from_pandera(model: Any, *, dataset: str | None = None) -> Contract:
    """A contract from a pandera DataFrameModel class or DataFrameSchema: types, nullability,
    uniqueness, and the built-in checks that have a contract key."""
    schema = model.to_schema() if hasattr(model, "to_schema") else model
    columns: dict[str, dict[str, Any]] = {}
    for name, col in schema.columns.items():
        arrow = pl.Series([], dtype=col.dtype.type).to_arrow().type
        spec: dict[str, Any] = {"type": type_name(arrow), "nullable": bool(col.nullable)}
        if col.unique:
            spec["unique"] = True
        for check in col.checks:
            stats = check.statistics or {}
            kind = check.name
            if kind in ("greater_than_or_equal_to", "ge"):
                spec["min"] = stats.get("min_value")
            elif kind in ("less_than_or_equal_to", "le"):
                spec["max"] = stats.get("max_value")
            elif kind == "in_range":
                spec["min"], spec["max"] = stats.get("min_value"), stats.get("max_value")
            elif kind == "isin":
                spec["in"] = list(stats.get("allowed_values", []))
            elif kind == "notin":
                spec["not_in"] = list(stats.get("forbidden_values", []))
            elif kind in ("str_matches", "str_contains"):
                spec["pattern"] = str(stats.get("pattern"))
            elif kind == "str_length":
                if stats.get("min_value") is not None:
                    spec["min_length"] = stats["min_value"]
                if stats.get("max_value") is not None:
                    spec["max_length"] = stats["max_value"]
        columns[name] = spec
    raw = {
        "dataset": dataset or schema.name or "dataset",
        "columns": columns,
        "extra_columns": "forbid" if schema.strict else "allow",
    }
    if schema.description:
        raw["description"] = schema.description
    return Contract.model_validate(raw)
