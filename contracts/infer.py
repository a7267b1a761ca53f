"""Drafting a contract from data: types, nullability, ranges, small categorical sets, uniqueness."""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa

from .model import Contract
from .types import type_name

MAX_CATEGORIES = 20


def infer_contract(dataset: str, table: pa.Table) -> Contract:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    rows = frame.height
    columns: dict[str, dict[str, Any]] = {}
    for field in table.schema:
        s = frame[field.name]
        spec: dict[str, Any] = {
            "type": type_name(field.type),
            "nullable": bool(s.null_count() > 0 or rows == 0),
        }
        t = field.type
        if rows and (pa.types.is_integer(t) or pa.types.is_floating(t)) and s.null_count() < rows:
            spec["min"], spec["max"] = s.min(), s.max()
        if (rows and pa.types.is_string(t)) or pa.types.is_large_string(t):
            distinct = s.drop_nulls().unique()
            if 0 < distinct.len() <= MAX_CATEGORIES and distinct.len() < rows:  # values repeat
                spec["in"] = sorted(distinct.to_list())
            lengths = s.str.len_chars().drop_nulls()
            if lengths.len():
                spec["max_length"] = int(lengths.max())
        if rows > 1 and s.null_count() == 0 and s.n_unique() == rows and not pa.types.is_floating(t):
            spec["unique"] = True
        columns[field.name] = spec
    pk = [n for n, c in columns.items() if c.get("unique")][:1]
    raw: dict[str, Any] = {"dataset": dataset, "columns": columns}
    if pk:
        raw["primary_key"] = pk
        columns[pk[0]].pop("unique")
    if rows:
        raw["checks"] = [{"name": "some_rows", "row_count": {"min": 1}}]
    return Contract.model_validate(raw)
