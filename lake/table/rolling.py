"""Data files written as rows arrive, each rolling over at a target size.

A streamed write (:mod:`lake.write.stream`) checks its input a slice at a time, and a slice is a
quarter of a data file: written a file per slice, a stream would leave four times as many files
as a write of the same rows held whole. A :class:`FileRoller` keeps a file open (one per
partition, for a partitioned dataset) and writes each slice into it as the next row groups,
until it holds :data:`~lake.table.layers.TARGET_FILE_BYTES` of Arrow memory; then the file is
closed, its statistics are the merge of its slices' (:func:`~lake.table.layers.merge_stats`), and
the next rows open a new one. Memory stays at one slice: a local file is written in place, and a
file for S3 is written to a local temporary file and uploaded as it closes, read from disk.

Until a file closes nothing can read it, so the roller keeps, of the rows in open files, the
columns the caller names (``keep``: the ones a uniqueness check compares), for :meth:`pending`.
Files are committed by nobody here: a failure leaves the closed ones as garbage for ``lake gc``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lake import kill
from lake.storage.faults import storage_errors
from lake.table.layers import (
    TARGET_FILE_BYTES,
    DataFile,
    Layers,
    column_stats,
    dictionary_columns,
    merge_stats,
)
from lake.table.partitions import Partition, folder, split, with_columns

MAX_OPEN = 16  # open files at once; past it (a stream over many partitions) the fullest closes


@dataclass
class _Open:
    partition: Partition
    name: str  # relative to the layer root
    path: str  # where it is written on this machine
    writer: pq.ParquetWriter
    stats: list[dict[str, Any]] = field(default_factory=list)
    rows: int = 0
    nbytes: int = 0
    kept: list[pa.Table] = field(default_factory=list)  # the ``keep`` columns of its rows


class FileRoller:
    """Files of ``dataset``'s layer ``layer_path`` written from the tables given to :meth:`add`,
    split by ``partition_by``. Use it as a context manager: leaving it by an exception closes
    every open file without recording it (on S3, nothing of an open file is uploaded)."""

    def __init__(
        self,
        layers: Layers,
        dataset: str,
        layer_path: str,
        *,
        partition_by: Sequence[str] = (),
        keep: Sequence[str] = (),
        target_bytes: int = TARGET_FILE_BYTES,
        max_open: int = MAX_OPEN,
    ) -> None:
        self._layers = layers
        self._dataset = dataset
        self._layer = layer_path
        self._partition_by = tuple(partition_by)
        self._keep = list(keep)
        self._target = target_bytes
        self._max_open = max_open
        self._open: dict[Partition, _Open] = {}
        self._schema: pa.Schema | None = None  # the rows' schema, partition columns included
        self._local = layers.config.scheme == "file"
        self._root = layers.uri(dataset, layer_path)
        self._spool = None if self._local else tempfile.mkdtemp(prefix="lake-rolling-")

    def __enter__(self) -> FileRoller:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is not None:
            self.abort()

    def add(self, table: pa.Table) -> list[DataFile]:
        """Write ``table``'s rows; return the files that closed (filled up) meanwhile."""
        if table.num_rows == 0:
            return []
        self._schema = self._schema or table.schema
        done: list[DataFile] = []
        with storage_errors("write data files to", self._root, self._layers.config, writing=True):
            for partition, rows in split(table, self._partition_by):
                file = self._open.get(partition)
                if file is None:
                    if len(self._open) >= self._max_open:
                        done.append(self._close(max(self._open.values(), key=lambda f: f.nbytes)))
                    file = self._open[partition] = self._start(partition, rows)
                file.writer.write_table(rows)
                file.stats.append(column_stats(rows))
                file.rows += rows.num_rows
                file.nbytes += rows.nbytes
                if self._keep:
                    file.kept.append(self._kept(rows, partition))
                if file.nbytes >= self._target:
                    done.append(self._close(file))
        return done

    def pending(self) -> pa.Table | None:
        """The ``keep`` columns of the rows in files still open (None: no such row)."""
        kept = [t for f in self._open.values() for t in f.kept]
        return pa.concat_tables(kept) if kept else None

    def close(self) -> list[DataFile]:
        """Close every open file; return them."""
        with storage_errors("write data files to", self._root, self._layers.config, writing=True):
            done = [self._close(f) for f in list(self._open.values())]
        self._drop_spool()
        return done

    def abort(self) -> None:
        """Close every open file and forget it (a local one stays behind as garbage)."""
        for file in self._open.values():
            try:
                file.writer.close()
            except (OSError, pa.ArrowException):
                pass
        self._open.clear()
        self._drop_spool()

    def _start(self, partition: Partition, rows: pa.Table) -> _Open:
        place = folder(partition)
        name = f"part-{uuid.uuid4()}-c000.snappy.parquet"
        name = f"{place}/{name}" if place else name
        if self._local:
            path = f"{self._root}/{name}"
            os.makedirs(os.path.dirname(path), exist_ok=True)
        else:
            assert self._spool is not None
            path = os.path.join(self._spool, name.replace("/", "_"))
        writer = pq.ParquetWriter(
            path, rows.schema, compression="snappy", use_dictionary=dictionary_columns(rows)
        )
        return _Open(partition, name, path, writer)

    def _close(self, file: _Open) -> DataFile:
        file.writer.close()
        del self._open[file.partition]
        size = os.path.getsize(file.path)
        if not self._local:
            try:
                self._layers.store.upload(self._layers.key(self._dataset, self._layer, file.name), file.path)
            finally:
                os.unlink(file.path)
        kill.point("data.files")
        return DataFile(
            path=file.name,
            size=int(size),
            rows=file.rows,
            modification_time=int(time.time() * 1000),
            stats=json.dumps(merge_stats(file.stats)),
            partition=file.partition,
        )

    def _kept(self, rows: pa.Table, partition: Partition) -> pa.Table:
        assert self._schema is not None
        present = [c for c in self._keep if c in rows.schema.names]
        held = rows.select(present)
        if not partition:
            return held
        schema = pa.schema([self._schema.field(c) for c in self._keep])
        values = {c: v for c, v in partition if c in self._keep}
        return with_columns(held, values, schema).select(self._keep)

    def _drop_spool(self) -> None:
        if self._spool is not None:
            shutil.rmtree(self._spool, ignore_errors=True)
            self._spool = None
