"""Per-column profiles of a dataset snapshot, so that the gate compares a branch's rows with the
target without rescanning the target: mergeable KLL quantile sketches for numbers (Apache
DataSketches), exact frequencies for categories (up to a cardinality cap), null and row counts.

A profile of ``rows A + rows B`` is the merge of their profiles, so appends update it in
time proportional to what they add."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import datasketches as dsk
import numpy as np
import polars as pl
import pyarrow as pa

from .drift import is_numeric

K = 400  # KLL accuracy parameter: ~0.3% rank error, a few KB per column
QUANTILES = 1001  # reference sample drawn from a sketch: evenly spaced quantiles
MAX_CATEGORIES = 1000


@dataclass
class ColumnProfile:
    kind: str  # "numeric" | "categorical" | "other"
    rows: int = 0
    nulls: int = 0
    sketch: Any = None  # kll_doubles_sketch for numbers
    counts: dict[str, int] | None = field(default=None)  # categories; None once past the cap

    def update(self, s: pl.Series) -> None:
        self.rows += s.len()
        self.nulls += s.null_count()
        v = s.drop_nulls()
        if self.kind == "numeric":
            if v.len():
                # a writable, contiguous float64 array (what the sketch binding accepts)
                self.sketch.update(np.array(v.cast(pl.Float64).to_numpy(), dtype=np.float64, copy=True))
        elif self.kind == "categorical" and self.counts is not None:
            vc = v.cast(pl.String).value_counts()
            for k, c in zip(vc[vc.columns[0]].to_list(), vc["count"].to_list(), strict=True):
                self.counts[k] = self.counts.get(k, 0) + int(c)
            if len(self.counts) > MAX_CATEGORIES:
                self.counts = None

    def merge(self, other: ColumnProfile) -> None:
        self.rows += other.rows
        self.nulls += other.nulls
        if self.kind == "numeric" and other.sketch is not None:
            self.sketch.merge(other.sketch)
        elif self.kind == "categorical":
            if self.counts is None or other.counts is None:
                self.counts = None
            else:
                for k, c in other.counts.items():
                    self.counts[k] = self.counts.get(k, 0) + c

    def reference(self, name: str) -> pl.Series:
        """A sample standing for this column's values: sketch quantiles, or categories repeated
        by their counts (scaled to at most 100k values, keeping shares)."""
        if self.kind == "numeric":
            if self.sketch is None or self.sketch.is_empty():
                return pl.Series(name, [], dtype=pl.Float64)
            qs = self.sketch.get_quantiles(list(np.linspace(0.0, 1.0, QUANTILES)))
            return pl.Series(name, qs, dtype=pl.Float64)
        assert self.counts is not None
        total = sum(self.counts.values()) or 1
        scale = min(1.0, 100_000 / total)
        values = [
            k for k, c in sorted(self.counts.items()) for _ in range(max(1, round(c * scale)) if c else 0)
        ]
        return pl.Series(name, values, dtype=pl.String)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "rows": self.rows, "nulls": self.nulls}
        if self.sketch is not None:
            out["kll"] = base64.b64encode(self.sketch.serialize()).decode()
        if self.kind == "categorical":
            out["counts"] = self.counts
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ColumnProfile:
        sketch = dsk.kll_doubles_sketch.deserialize(base64.b64decode(raw["kll"])) if "kll" in raw else None
        return cls(raw["kind"], raw["rows"], raw["nulls"], sketch, raw.get("counts"))


def _kind(dtype: pa.DataType) -> str:
    series = pl.from_arrow(pa.nulls(0, dtype))
    assert isinstance(series, pl.Series)
    if is_numeric(series.dtype):
        return "numeric"
    if series.dtype in (pl.String, pl.Boolean) or isinstance(series.dtype, pl.Categorical):
        return "categorical"
    if series.dtype in (pl.Date,) or isinstance(series.dtype, pl.Datetime):
        return "numeric"  # profiled as epoch seconds, as the gate compares them
    return "other"


@dataclass
class Profile:
    columns: dict[str, ColumnProfile]
    rows: int = 0

    @classmethod
    def empty(cls, schema: pa.Schema) -> Profile:
        cols = {}
        for f in schema:
            kind = _kind(f.type)
            cols[f.name] = ColumnProfile(
                kind,
                sketch=dsk.kll_doubles_sketch(K) if kind == "numeric" else None,
                counts={} if kind == "categorical" else None,
            )
        return cls(cols)

    def update(self, table: pa.Table) -> Profile:
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        self.rows += frame.height
        for name, col in self.columns.items():
            if name in frame.columns:
                s = frame[name]
                if isinstance(s.dtype, pl.Datetime) or s.dtype == pl.Date:
                    s = s.dt.epoch("s")
                col.update(s)
            else:
                col.rows += frame.height
                col.nulls += frame.height
        return self

    def merge(self, other: Profile) -> Profile:
        """This profile with ``other``'s rows added (sketches merged, counts added): the
        profile of both parts' rows, each profiled where it is."""
        self.rows += other.rows
        for name, col in other.columns.items():
            if name in self.columns:
                self.columns[name].merge(col)
            else:
                self.columns[name] = col
        return self

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "columns": {k: v.to_json() for k, v in self.columns.items()}}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Profile:
        return cls({k: ColumnProfile.from_json(v) for k, v in raw["columns"].items()}, raw["rows"])
