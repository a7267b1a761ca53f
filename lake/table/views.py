"""A dataset as one commit sees it: the union of its layers' files, less the shadowed ones."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads

from lake import progress
from lake.graph.commits import Snapshot
from lake.storage.faults import storage_errors
from lake.table import partitions
from lake.table.frames import arrow_schema
from lake.table.layers import DataFile, Layers
from lake.table.partitions import Partition


@dataclass(frozen=True)
class FileRef:
    """A file of the view: the layer that holds it and its entry in that layer."""

    layer: str
    file: DataFile
    version: int = -1  # the layer version the file was seen at (-1: not known)

    @property
    def path(self) -> str:
        """Relative to the dataset root."""
        return f"{self.layer}/{self.file.path}" if self.layer else self.file.path

    def may_hold(self, column: str, low: Any, high: Any) -> bool:
        """False only when the file's statistics (or its partition value) prove no value of
        ``column`` is in [low, high]."""
        if self.file.partition and low is not None and high is not None:
            values = dict(self.file.partition)
            if column in values:
                return partitions.within(values[column], low, high)
        bounds = self.file.bounds(column)
        if bounds is None or low is None or high is None:
            return True
        try:
            return bool(bounds[0] <= high and low <= bounds[1])
        except TypeError:  # statistics of another type than the probe (e.g. after a retype)
            return True


class View:
    def __init__(self, layers: Layers, dataset: str, snapshot: Snapshot) -> None:
        self.layers = layers
        self.dataset = dataset
        self.snapshot = snapshot

    @cached_property
    def schema(self) -> pa.Schema:
        return arrow_schema(self.snapshot.schema)

    @cached_property
    def files(self) -> dict[str, FileRef]:
        out: dict[str, FileRef] = {}
        for layer in self.snapshot.layers:
            for f in self.layers.files(self.dataset, layer).values():
                ref = FileRef(layer.path, f, layer.version)
                if ref.path not in self.snapshot.shadowed:
                    out[ref.path] = ref
        return out

    def uri(self, ref: FileRef) -> str:
        return self.layers.uri(self.dataset, ref.path)

    def to_arrow(self, columns: list[str] | None = None, refs: list[FileRef] | None = None) -> pa.Table:
        chosen = list(self.files.values()) if refs is None else refs
        schema = self.schema if columns is None else pa.schema([self.schema.field(c) for c in columns])
        return read_files(self.layers, self.dataset, chosen, schema)

    @property
    def partition_by(self) -> tuple[str, ...]:
        return self.snapshot.partition_by

    def scan(self, refs: list[FileRef] | None = None, *, file_column: str | None = None) -> pl.LazyFrame:
        """The rows of ``refs`` (default: every file), lazily; a partitioned dataset's files get
        their partition columns from the log's values (:mod:`lake.table.partitions`)."""
        chosen = list(self.files.values()) if refs is None else refs
        schema = pl.from_arrow(self.schema.empty_table()).schema  # type: ignore[union-attr]
        if not chosen:
            empty = pl.LazyFrame(schema=schema)
            return empty.with_columns(pl.lit(None, pl.String).alias(file_column)) if file_column else empty
        # Lazy: the files are read when the frame is collected, and that collect is where a
        # storage fault surfaces (as OSError); collect through storage_errors() to map it.
        with storage_errors("read the data files of", self.layers.uri(self.dataset), self.layers.config):
            frames = []
            for partition, group in _by_partition(chosen):
                named = {name for name, _ in partition}
                frame = pl.scan_parquet(
                    [self.uri(r) for r in group],
                    schema=pl.Schema({k: v for k, v in schema.items() if k not in named}),
                    missing_columns="insert",
                    storage_options=self.layers.config.polars_options(),
                    include_file_paths=file_column,
                )
                if partition:
                    lits = [partitions.literal(n, v, self.schema) for n, v in partition if n in schema]
                    frame = frame.with_columns(lits)
                frames.append(frame.select([*schema, *([file_column] if file_column else [])]))
            return frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical")


def _by_partition(refs: Sequence[FileRef]) -> list[tuple[Partition, list[FileRef]]]:
    """``refs`` grouped by their partition values (in order of first appearance)."""
    groups: dict[Partition, list[FileRef]] = {}
    for ref in refs:
        groups.setdefault(ref.file.partition, []).append(ref)
    return list(groups.items())


def read_files(layers: Layers, dataset: str, refs: Sequence[FileRef], schema: pa.Schema) -> pa.Table:
    """The rows of ``refs`` (files of ``dataset``), read with ``schema`` (absent columns: nulls;
    partition columns from the files' partition values)."""
    if not refs:
        return schema.empty_table()
    config = layers.config
    parts = []
    groups = _by_partition(refs)
    with storage_errors("read the data files of", layers.uri(dataset), config):
        for i, (partition, group) in enumerate(groups, 1):
            named = {name for name, _ in partition}
            stored = pa.schema([f for f in schema if f.name not in named])
            data = pads.dataset(
                [config.arrow_path(layers.uri(dataset, r.path)) for r in group],
                schema=stored,
                format="parquet",
                filesystem=config.arrow_filesystem(),
            ).to_table(columns=stored.names)
            parts.append(partitions.with_columns(data, dict(partition), schema) if partition else data)
            progress.advance("read", i, len(groups), "partitions" if partition else "file sets", dataset)
    return parts[0] if len(parts) == 1 else pa.concat_tables(parts)


class KeptRows:
    """The rows a dataset keeps besides a write's new ones: what table-level contract checks
    (uniqueness, row counts, freshness) must also hold across. Implements the validation
    layer's ``OtherRows``."""

    def __init__(
        self,
        view: View,
        removed: Iterable[FileRef],
        written: Iterable[FileRef] = (),
        pending: pa.Table | None = None,
    ) -> None:
        """``written``: files the write has written already, not yet committed (the slices of a
        streamed write before the one being checked), kept like the dataset's own. ``pending``:
        rows the write has put in files still open (:mod:`lake.table.rolling`), with some of
        their columns (those a uniqueness check compares): seen wherever those columns do."""
        gone = {r.path for r in removed}
        self.view = view
        self.refs = [r for r in view.files.values() if r.path not in gone] + list(written)
        frame = pl.from_arrow(pending, rechunk=False) if pending is not None and pending.num_rows else None
        self._pending = frame if isinstance(frame, pl.DataFrame) else None

    @property
    def rows(self) -> int:
        pending = self._pending.height if self._pending is not None else 0
        return sum(r.file.rows for r in self.refs) + pending

    def candidates(
        self, columns: Sequence[str], low: Any, high: Any, where: pl.Expr | None = None
    ) -> pl.LazyFrame:
        rows = self.view.scan([r for r in self.refs if r.may_hold(columns[0], low, high)])
        near = pl.col(columns[0]).is_between(pl.lit(low), pl.lit(high))  # as files are pruned
        return self._with_pending(rows, columns, where, near)

    def column_max(self, column: str, where: pl.Expr | None = None) -> Any:
        if not self.rows:
            return None
        rows = self._with_pending(self.view.scan(self.refs), [column], where)
        return self._collect(rows.select(pl.col(column).max())).item()

    def count(self, where: pl.Expr) -> int:
        if not self.rows:
            return 0
        rows = self._with_pending(self.view.scan(self.refs), where.meta.root_names(), None)
        return int(self._collect(rows.select(where.fill_null(False).sum())).item() or 0)

    def scan(self, columns: Sequence[str]) -> pl.LazyFrame:
        return self._with_pending(self.view.scan(self.refs), columns, None)

    def _with_pending(
        self, rows: pl.LazyFrame, columns: Sequence[str], where: pl.Expr | None, near: pl.Expr | None = None
    ) -> pl.LazyFrame:
        """``columns`` of ``rows`` (the ``where`` ones), and of the pending rows when they hold
        them (those ``near`` selects)."""
        names = list(dict.fromkeys(columns))
        parts = [rows]
        needed = {*names, *(where.meta.root_names() if where is not None else ())}
        if self._pending is not None and needed <= set(self._pending.columns):
            pending = self._pending.lazy()
            parts.append(pending.filter(near) if near is not None else pending)
        if where is not None:
            parts = [p.filter(where.fill_null(False)) for p in parts]
        parts = [p.select(names) for p in parts]
        return parts[0] if len(parts) == 1 else pl.concat(parts, how="vertical_relaxed")

    def summary(self, column: str) -> None:
        """No summaries at this layer (the stores layer keeps per-file ones): metrics read."""
        return None

    def _collect(self, frame: pl.LazyFrame) -> pl.DataFrame:
        view = self.view
        with storage_errors("read the data files of", view.layers.uri(view.dataset), view.layers.config):
            return frame.collect()
