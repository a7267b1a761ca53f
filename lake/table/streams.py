"""Inputs that arrive as a stream of record batches, read slice by slice and once.

A write of a :class:`Stream` never holds its whole input: the commit loop takes slices of about a
data file's size (:data:`lake.table.layers.TARGET_FILE_BYTES` of Arrow memory), checks each, and
writes it as the next file (:mod:`lake.write.stream`). A pyarrow ``RecordBatchReader``, a pyarrow
``Dataset`` or ``Scanner``, a polars ``LazyFrame`` (its streaming engine's batches) and any other
iterable of record batches stream; a Table, a RecordBatch and a pandas or polars DataFrame are in
memory already and are written as they are (:func:`lake.table.frames.to_arrow`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pyarrow as pa

from lake.errors import InvalidInputError
from lake.table.frames import ACCEPTED


class Stream:
    """Record batches of one schema, to be read once. ``what`` names the input in errors."""

    def __init__(self, batches: Iterable[pa.RecordBatch], schema: pa.Schema | None, what: str) -> None:
        self._batches = iter(batches)
        self._schema = schema
        self.what = what
        self._taken = False
        self._first: pa.RecordBatch | None = None

    def __repr__(self) -> str:
        return f"<stream: {self.what}>"

    @property
    def schema(self) -> pa.Schema:
        """The stream's schema (for an iterable of batches: its first batch's)."""
        if self._schema is None:
            self._first = self._next(0)
            if self._first is None:
                raise InvalidInputError(
                    f"the {self.what} holds no record batch, so it has no schema: pass {ACCEPTED}"
                )
            self._schema = self._first.schema
        return self._schema

    def _next(self, index: int) -> pa.RecordBatch | None:
        try:
            item = next(self._batches)
        except StopIteration:
            return None
        if isinstance(item, pa.Table):
            return pa.RecordBatch.from_pylist([], schema=item.schema) if item.num_rows == 0 else _one(item)
        if not isinstance(item, pa.RecordBatch):
            raise InvalidInputError(
                f"item {index} of the {self.what} is a {type(item).__name__}, not a record batch: "
                f"pass {ACCEPTED}"
            )
        return item

    def slices(self, target_bytes: int) -> Iterator[pa.Table]:
        """The stream as tables of about ``target_bytes`` of Arrow memory each (the last may be
        smaller; a stream of no rows gives one empty table). Read once."""
        if self._taken:
            raise InvalidInputError(f"the {self.what} was read already: a stream can be written once")
        schema = self.schema
        self._taken = True
        pending: list[pa.RecordBatch] = []
        size = 0
        index = 0
        given = False
        while True:
            batch, self._first = (self._first, None) if self._first is not None else (self._next(index), None)
            index += 1
            if batch is None:
                break
            if not batch.schema.equals(schema):
                raise InvalidInputError(
                    f"batch {index - 1} of the {self.what} has another schema than the first: "
                    f"{batch.schema} is not {schema}",
                    hint="every batch of a stream must have one schema",
                )
            if batch.num_rows == 0:
                continue
            for piece in _pieces(batch, target_bytes):
                pending.append(piece)
                size += piece.nbytes
                if size >= target_bytes:
                    yield pa.Table.from_batches(pending, schema=schema)
                    given = True
                    pending, size = [], 0
        if pending or not given:
            yield pa.Table.from_batches(pending, schema=schema)


def _pieces(batch: pa.RecordBatch, target_bytes: int) -> list[pa.RecordBatch]:
    """``batch`` in zero-copy pieces of at most about ``target_bytes`` each (a batch larger than
    a slice is sliced: a stream of one huge batch is still written a slice at a time)."""
    if batch.nbytes <= target_bytes:
        return [batch]
    step = max(1, batch.num_rows * target_bytes // batch.nbytes)
    return [batch.slice(i, step) for i in range(0, batch.num_rows, step)]


def _one(table: pa.Table) -> pa.RecordBatch:
    return table.combine_chunks().to_batches()[0]


def to_stream(data: Any) -> Stream | None:
    """``data`` as a :class:`Stream` when it is one of the inputs that stream; None when it is in
    memory already (a Table, a RecordBatch, a DataFrame) or not an input at all."""
    import pyarrow.dataset as pads

    if isinstance(data, pa.Table | pa.RecordBatch):
        return None
    if isinstance(data, Stream):
        return data
    if isinstance(data, pa.RecordBatchReader):
        return Stream(data, data.schema, "RecordBatchReader")
    if isinstance(data, pads.Dataset):
        return Stream(data.to_batches(), data.schema, "pyarrow Dataset")
    if isinstance(data, pads.Scanner):
        return Stream(data.to_batches(), data.projected_schema, "pyarrow Scanner")
    module = type(data).__module__.split(".")[0]
    kind = type(data).__name__
    if module == "polars" and kind == "LazyFrame":
        return Stream((b.to_arrow() for b in data.collect_batches()), None, "polars LazyFrame")
    if module in ("pandas", "polars") or hasattr(data, "__arrow_c_stream__"):
        return None
    if hasattr(data, "__iter__") and not isinstance(data, str | bytes | Mapping):
        return Stream(data, None, type(data).__name__)
    return None


class Distributed(Stream):
    """Rows an engine checks and writes where they are, on the executors of a cluster
    (:mod:`lake.write.distributed`): the commit loop's check step hands its :meth:`run` the
    write's job, and never reads it as a stream."""

    def __init__(self, schema: pa.Schema, what: str, key: tuple[str, ...] = ()) -> None:
        super().__init__(iter(()), schema, what)
        self.key = key  # an upsert's key (none: a write)

    def run(self, layers: Any, op: Any, draft: Any, contract: Any, txn: str, slice_bytes: int) -> Any:
        """Check and write the rows of ``op`` (an append or an overwrite of the commit loop's
        ``draft``) where they are, as :class:`lake.write.distributed.Job` lays out; return what
        the job's ``finish`` returns."""
        raise NotImplementedError

    def slices(self, target_bytes: int) -> Iterator[pa.Table]:
        raise TypeError(f"the {self.what} is written where its rows are, not read as a stream")
