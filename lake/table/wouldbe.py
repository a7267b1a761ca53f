"""A dataset as a change not yet committed would leave it: the files it keeps and takes back, and
the rows it writes, beside the files the dataset held before (what was already checked).

It answers the validation layer's reference questions (``lake.validation.references.DatasetEnd``)
reading as little as they need: only the columns asked for, and only the files whose min/max
statistics may hold one of the values looked for (:meth:`FileRef.may_hold`)."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyarrow as pa

from lake.table.change import Change
from lake.table.layers import Layers
from lake.table.views import FileRef, View, read_files


@dataclass
class WouldBe:
    layers: Layers
    dataset: str
    files: dict[str, FileRef] = field(default_factory=dict)  # after the change
    before: Mapping[str, FileRef] = field(default_factory=dict)  # before it (already checked)
    data: pa.Table | None = None  # the rows the change writes
    schema: pa.Schema | None = None  # None: the branch holds no such dataset

    @classmethod
    def of(
        cls,
        layers: Layers,
        dataset: str,
        view: View | None,
        change: Change | None = None,
        before: View | None = None,
    ) -> WouldBe:
        """``dataset`` as ``change`` leaves ``view`` (None: as ``view`` holds it); ``before``
        holds the rows already checked (None: none were, every row is new)."""
        files = dict(view.files) if view is not None else {}
        schema = view.schema if view is not None else None
        data = None
        if change is not None:
            for ref in change.remove:
                files.pop(ref.path, None)
            for ref in change.restore:
                files[ref.path] = ref
            data, schema = change.data, change.schema
        return cls(layers, dataset, files, before.files if before is not None else {}, data, schema)

    @property
    def exists(self) -> bool:
        return self.schema is not None

    @property
    def rows(self) -> int:
        return sum(r.file.rows for r in self.files.values()) + (
            self.data.num_rows if self.data is not None else 0
        )

    def has(self, column: str) -> bool:
        return self.schema is not None and column in self.schema.names

    def added(self, columns: Sequence[str]) -> pl.DataFrame:
        return self._read([r for p, r in self.files.items() if p not in self.before], columns, data=True)

    def removed(self, column: str) -> pl.Series:
        gone = [r for p, r in self.before.items() if p not in self.files]
        if not gone or not self.has(column):
            return pl.Series(column, [])
        return self._read(gone, [column], data=False)[column].drop_nulls().unique()

    def present(self, column: str, values: pl.Series) -> pl.Series:
        if not values.len() or not self.has(column):
            return values.head(0)
        want = values.cast(self._dtype(column), strict=False)
        refs = _pruned(self.files.values(), column, want)
        found = self._read(refs, [column], data=True)[column]
        found = found.filter(found.is_in(want.implode()))  # hashes the probe, not the column
        return values.filter(want.is_in(found.implode()))

    def holding(self, column: str, values: pl.Series, columns: Sequence[str]) -> pl.DataFrame:
        want = values.cast(self._dtype(column), strict=False) if self.has(column) else values.head(0)
        kept = [r for p, r in self.files.items() if p in self.before]
        if not want.len() or not kept:
            return self._read([], columns, data=False)
        rows = self._read(_pruned(kept, column, want), columns, data=False)
        return rows.filter(pl.col(column).is_in(want.implode()))

    def _dtype(self, column: str) -> pl.DataType:
        return self._read([], [column], data=False)[column].dtype

    def _read(self, refs: Sequence[FileRef], columns: Sequence[str], *, data: bool) -> pl.DataFrame:
        """``columns`` of the files ``refs`` (and, with ``data``, of the rows the change writes);
        a column the dataset lacks reads as nulls."""
        schema = self.schema if self.schema is not None else pa.schema([])
        wanted = list(dict.fromkeys(columns))
        names = [c for c in wanted if c in schema.names]
        fields = pa.schema([schema.field(c) for c in names])
        parts = [read_files(self.layers, self.dataset, refs, fields)] if refs else []
        if data and self.data is not None and self.data.num_rows:
            n = self.data.num_rows
            parts.append(
                pa.table(
                    {
                        f.name: self.data.column(f.name).cast(f.type)
                        if f.name in self.data.column_names
                        else pa.nulls(n, f.type)
                        for f in fields
                    },
                    schema=fields,
                )
            )
        frame = pl.from_arrow(pa.concat_tables(parts) if parts else fields.empty_table())
        assert isinstance(frame, pl.DataFrame)
        absent = [pl.lit(None).alias(c) for c in wanted if c not in names]
        return frame.with_columns(absent) if absent else frame


def _pruned(refs: Iterable[FileRef], column: str, values: pl.Series) -> list[FileRef]:
    """The files among ``refs`` whose statistics may hold one of ``values``."""
    ordered = values.drop_nulls().unique().sort().to_list()
    if not ordered:
        return []
    return [r for r in refs if _may_hold_any(r, column, ordered)]


def _may_hold_any(ref: FileRef, column: str, ordered: list[Any]) -> bool:
    """False only when the file's statistics prove none of ``ordered`` (sorted) is in it: the
    least value at or above the file's minimum lies above its maximum."""
    bounds = ref.file.bounds(column)
    if bounds is None:
        return True
    try:
        at = bisect.bisect_left(ordered, bounds[0])
    except TypeError:  # statistics of another type than the values (dates and times: strings)
        return True
    return at < len(ordered) and ref.may_hold(column, ordered[at], ordered[at])
