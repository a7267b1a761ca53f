"""A pandera model read as a contract (``Contract.from_pandera``): types, nullability, uniqueness,
and the built-in checks that have a contract key. Like :mod:`.odcs`, this is one spec read in
another's words; it duck-types pandera's schema objects and runs nothing. Running a contract as a
pandera schema is validation's business: :mod:`lake.validation.pandera_schema`."""

from __future__ import annotations

from typing import Any

import polars as pl

from .types import type_name


def read_pandera(model: Any, *, dataset: str | None = None) -> dict[str, Any]:
    """The contract, as the mapping a contract YAML holds, of a pandera DataFrameModel class or
    DataFrameSchema."""
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
    raw: dict[str, Any] = {
        "dataset": dataset or schema.name or "dataset",
        "columns": columns,
        "extra_columns": "forbid" if schema.strict else "allow",
    }
    if schema.description:
        raw["description"] = schema.description
    return raw
