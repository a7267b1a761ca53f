"""Compaction: small files of a dataset rewritten into files of a target size, as one Delta commit
whose actions say ``dataChange: false`` (Delta's OPTIMIZE). No row changes: the same rows, in the
order they arrived, in fewer files. The files it replaces stay in storage for the commits that
still name them, until ``lake gc`` finds none does.

Bins are runs of consecutive small files of one partition in order of arrival (a file at or above
the target size ends a run), filled up to the target size; a bin of one file is left alone. Each
bin is read and written on its own, so memory holds one bin at a time, never the dataset.
"""

from __future__ import annotations

from concurrent.futures import Future

from lake.table.change import Change
from lake.table.layers import DataFile, Layers
from lake.table.views import FileRef, View

DEFAULT_TARGET_BYTES = 128 * 1024 * 1024


def bins(files: list[FileRef], target: int) -> list[list[FileRef]]:
    """Consecutive small files (in order of arrival) packed up to ``target`` bytes each."""
    out: list[list[FileRef]] = []
    current: list[FileRef] = []
    size = 0
    for ref in files:
        if ref.file.size >= target or (current and size + ref.file.size > target):
            if len(current) > 1:
                out.append(current)
            current, size = [], 0
        if ref.file.size < target:
            current.append(ref)
            size += ref.file.size
    if len(current) > 1:
        out.append(current)
    return out


def compact(
    layers: Layers, view: View, own: str, target: int
) -> tuple[Change, Future[list[DataFile]]] | None:
    """The compaction of ``view``'s small files into the layer ``own``: the change (no rows
    added or removed) and its files, written already. None: nothing to compact."""
    arrival = sorted(view.files.values(), key=lambda r: r.file.modification_time)
    by_partition: dict[tuple[tuple[str, str | None], ...], list[FileRef]] = {}
    for ref in arrival:  # a file holds one partition's rows: bins never mix partitions
        by_partition.setdefault(ref.file.partition, []).append(ref)
    packed = [b for refs in by_partition.values() for b in bins(refs, target)]
    if not packed:
        return None
    written: list[DataFile] = []
    for group in packed:
        rows = view.to_arrow(refs=group)
        written += layers.write_files(
            view.dataset, own, rows, rows_per_file=max(1, rows.num_rows), partition_by=view.partition_by
        )
    done: Future[list[DataFile]] = Future()
    done.set_result(written)
    removed = [ref for group in packed for ref in group]
    change = Change(
        "optimize",
        view.schema,
        remove=removed,
        parameters={"targetSize": str(target), "numCompactedFiles": str(len(removed))},
    )
    return change, done
