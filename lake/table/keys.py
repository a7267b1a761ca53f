"""Rewriting the files of a view that hold given keys: which files hold any of the keys, and the
rows those files keep without them. An upsert rewrites the files that hold its incoming keys; a
row-level merge rewrites the target's files that hold the keys the source changed.

Scans are collected here with their failures mapped: a bad column or predicate is the caller's
to fix (:class:`InvalidInputError`), a storage fault is a :class:`StorageError` naming the dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from lake.errors import InvalidInputError, first_line
from lake.storage.faults import storage_errors
from lake.table import partitions
from lake.table.views import FileRef, View

FILE = "__lake_file__"  # the column a scan names each row's file in


def collect(frame: pl.LazyFrame, what: str, view: View) -> pl.DataFrame:
    """Run a scan of ``view``'s files; ``what`` names the caller's input in an error."""
    try:
        with storage_errors("read the data files of", view.layers.uri(view.dataset), view.layers.config):
            return frame.collect()
    except pl.exceptions.ColumnNotFoundError as exc:
        raise InvalidInputError(
            f"{what} names a column the dataset does not have: {first_line(exc)}",
            hint=f"'lake datasets' shows the columns of {view.dataset}",
        ) from exc
    except (
        pl.exceptions.ComputeError,
        pl.exceptions.InvalidOperationError,
        pl.exceptions.SQLInterfaceError,
    ) as exc:
        raise InvalidInputError(f"{what} cannot be evaluated: {first_line(exc)}") from exc


def files_named(view: View, hits: pl.DataFrame) -> list[FileRef]:
    """The files of ``view`` that the :data:`FILE` column of ``hits`` names."""
    by_uri = {view.uri(ref): ref for ref in view.files.values()}
    return [by_uri[u] for u in hits[FILE].to_list()]


@dataclass(frozen=True)
class Rewrite:
    """The files that hold any of some keys, and what rewriting them without those keys keeps."""

    files: list[FileRef]
    matched: int  # rows of those files whose key is one of the keys
    kept: pl.DataFrame | None  # the other rows of those files (None: no file holds a key)


def rewrite_keys(view: View, keys: pl.DataFrame, on: Sequence[str], *, what: str) -> Rewrite:
    """The files of ``view`` holding a row whose columns ``on`` equal a row of ``keys``, and
    their rows less those. Only files whose min/max statistics for ``on[0]`` overlap ``keys``,
    and whose partition values (for key columns that partition the dataset) are among the keys',
    are read: keys new to the dataset read no old file."""
    on = list(on)
    low, high = keys[on[0]].min(), keys[on[0]].max()
    candidates = [r for r in view.files.values() if r.may_hold(on[0], low, high)]
    # A key column that partitions the dataset: a key lands only in the partition of its value.
    for column in [c for c in on if c in view.partition_by]:
        wanted = {partitions.text(v) for v in keys[column].unique().to_list()}
        candidates = [r for r in candidates if dict(r.file.partition).get(column) in wanted]
    probe = view.scan(candidates, file_column=FILE).select([*on, FILE])
    hits = collect(probe.join(keys.lazy(), on=on, how="semi").group_by(FILE).len(), what, view)
    files = files_named(view, hits)
    matched = int(hits["len"].sum()) if hits.height else 0
    kept = collect(view.scan(files).join(keys.lazy(), on=on, how="anti"), what, view) if files else None
    return Rewrite(files, matched, kept)
