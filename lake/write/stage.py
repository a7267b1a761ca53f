"""Writing a change's data files before its Delta commit: at once for a blind append (so that an
attempt that loses the race commits the same files again instead of rewriting them), and, for a
large batch, while the contract's checks run (if the checks fail, nothing names the files)."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa

from lake.table.change import Change
from lake.table.layers import DataFile, Layers
from lake.table.views import View

OVERLAP_ROWS = 100_000  # from this batch size on, data files are written while the checks run
_STAGING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lake-stage")

Files = Future[list[DataFile]]


def blind_append(change: Change) -> bool:
    """A change that only adds new rows: its files do not depend on what else the layer holds."""
    return (
        change.data is not None
        and not change.remove
        and not change.restore
        and change.schema_change is None
        and change.data.num_rows > 0
    )


def is_noop(change: Change, view: View | None) -> bool:
    return (
        view is not None
        and not change.remove
        and not change.restore
        and (change.data is None or change.data.num_rows == 0)
        and change.schema_change is None
    )


def rows(change: Change) -> int:
    return change.data.num_rows if change.data is not None else 0


@dataclass(frozen=True)
class Staged:
    """The files written for a blind append, with what identifies the rows they hold."""

    schema: pa.Schema
    rows: int
    files: Files

    def reuse(self, change: Change) -> Files | None:
        same = blind_append(change) and self.rows == rows(change) and self.schema.equals(change.schema)
        return self.files if same and not self.files.cancelled() else None


def stage(layers: Layers, dataset: str, own: str, change: Change, kept: Staged | None) -> Files | None:
    """The files of a blind append, written now (or reused from an earlier attempt)."""
    if not blind_append(change):
        return None
    reused = kept.reuse(change) if kept is not None else None
    if reused is not None:
        return reused
    assert change.data is not None
    done: Files = Future()
    done.set_result(layers.write_files(dataset, own, change.data, partition_by=change.partition_by or ()))
    return done


def overlap(layers: Layers, dataset: str, own: str, change: Change) -> Files | None:
    """Start writing a large change's files in the background, to overlap with its checks."""
    if change.data is None or change.data.num_rows < OVERLAP_ROWS:
        return None
    return _STAGING.submit(
        layers.write_files, dataset, own, change.data, partition_by=change.partition_by or ()
    )
