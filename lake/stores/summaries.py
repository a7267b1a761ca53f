"""Per-file column summaries, so that a dataset-scope metric never rescans the dataset.

Data files are immutable, so a file's summary (a :class:`lake.validation.metrics.ColumnSummary`
of every column of the file) is computed once in the file's life: when the write path hands the
file's rows over (:meth:`SummaryStore.put_for`), or else the first time a metric needs it, from
one read of the file. It is kept at ``_lake/summaries/<dataset>/<sha256 of the file's path
relative to the dataset root>.json``; a dataset's summary is the merge of its files'. A summary
that is unreadable, or does not match its file's row count, is computed again, never trusted:
it is a cache, and gc deletes the summaries of the files it deletes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from lake.contracts import Contract
from lake.storage import ObjectStore
from lake.storage.faults import storage_errors
from lake.table.layers import Layers
from lake.table.views import FileRef, KeptRows, read_files
from lake.validation.metrics import ColumnSummary, merge_summaries
from lake.validation.others import OtherRows

SUMMARIES = "_lake/summaries/"
FORMAT = 1
_GETS = 16  # parallel GETs of summaries (small objects), as the Delta log reads do
_READS = 4  # parallel reads of whole data files (bounded: each holds a file in memory)


def summary_key(dataset: str, path: str) -> str:
    """Where the summary of ``dataset``'s data file at ``path`` (relative to the dataset's root)
    is kept."""
    return f"{SUMMARIES}{dataset}/{hashlib.sha256(path.encode()).hexdigest()}.json"


def read_file(layers: Layers, dataset: str, ref: FileRef, schema: pa.Schema | None) -> pa.Table:
    """The rows of one data file: with ``schema`` (the dataset's: absent columns read as nulls,
    types as the dataset has them), or as the file holds them."""
    if schema is not None:
        return read_files(layers, dataset, [ref], schema)
    config = layers.config
    uri = layers.uri(dataset, ref.path)
    with storage_errors("read the data file", uri, config):
        return pq.read_table(config.arrow_path(uri), filesystem=config.arrow_filesystem())


def summarize(table: pa.Table) -> dict[str, ColumnSummary]:
    """The summary of every column of ``table``."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return {name: ColumnSummary.of(frame[name]) for name in frame.columns}


class SummaryStore:
    """The per-file summaries of a repository's data files (see the module's docstring)."""

    def __init__(self, store: ObjectStore, layers: Layers) -> None:
        self._store = store
        self._layers = layers

    def summaries(
        self,
        dataset: str,
        refs: Sequence[FileRef],
        columns: Sequence[str],
        schema: pa.Schema | None = None,
    ) -> dict[str, ColumnSummary]:
        """The summary of each of ``columns`` over the files ``refs`` of ``dataset``: the merge of
        the files' stored summaries, after summarizing (and storing) the files that have none, in
        one read each. ``schema`` (the dataset's) is what such a read uses; without it a file is
        read as it is. A column a file does not have counts as its rows of nulls."""
        refs = list(refs)
        with ThreadPoolExecutor(max_workers=max(1, min(_GETS, len(refs)))) as pool:
            stored = list(pool.map(lambda ref: self._stored(dataset, ref), refs))
        missing = [ref for ref, got in zip(refs, stored, strict=True) if got is None]
        with ThreadPoolExecutor(max_workers=max(1, min(_READS, len(missing)))) as pool:
            made = dict(
                zip(
                    (r.path for r in missing),
                    pool.map(lambda ref: self._summarize(dataset, ref, schema), missing),
                    strict=True,
                )
            )
        per_file = [got if got is not None else made[ref.path] for ref, got in zip(refs, stored, strict=True)]
        out = {}
        for column in columns:
            parts = [_column(raw, rows, column) for rows, raw in per_file]
            out[column] = merge_summaries(parts) if parts else _nothing(schema, column)
        return out

    def put_for(self, dataset: str, ref_path: str, table: pa.Table) -> dict[str, ColumnSummary]:
        """Store the summary of the data file at ``ref_path`` (relative to the dataset's root)
        whose rows are ``table`` (all of the file's rows and columns), and return it. The write
        path calls this as it writes the file, so that no metric ever reads the file again."""
        summary = summarize(table)
        self._put(dataset, ref_path, table.num_rows, summary)
        return summary

    def _stored(self, dataset: str, ref: FileRef) -> tuple[int, Mapping[str, Any]] | None:
        """The file's stored summary (its row count and columns, not yet deserialized), or None
        when there is none, it is unreadable, or it is of another file."""
        blob = self._store.get(summary_key(dataset, ref.path))
        if blob is None:
            return None
        try:
            raw = json.loads(blob.data)
            rows, columns = raw["rows"], raw["columns"]
            if raw["format"] != FORMAT or raw["path"] != ref.path or rows != ref.file.rows:
                return None
            if not isinstance(columns, dict):
                return None
            return int(rows), columns
        except (ValueError, KeyError, TypeError):
            return None

    def _summarize(
        self, dataset: str, ref: FileRef, schema: pa.Schema | None
    ) -> tuple[int, Mapping[str, Any]]:
        table = read_file(self._layers, dataset, ref, schema)
        summary = summarize(table)
        self._put(dataset, ref.path, table.num_rows, summary)
        return table.num_rows, summary

    def _put(self, dataset: str, path: str, rows: int, summary: Mapping[str, ColumnSummary]) -> None:
        raw = {
            "format": FORMAT,
            "dataset": dataset,
            "path": path,
            "rows": rows,
            "columns": {name: s.to_json() for name, s in summary.items()},
        }
        self._store.put(summary_key(dataset, path), json.dumps(raw, separators=(",", ":")).encode())


def _column(raw: Mapping[str, Any], rows: int, column: str) -> ColumnSummary:
    """One column's summary of one file, from what was stored or just computed."""
    if column not in raw:  # the file predates the column
        return ColumnSummary.nulls_of(rows)
    got = raw[column]
    return got if isinstance(got, ColumnSummary) else ColumnSummary.from_json(got)


def _nothing(schema: pa.Schema | None, column: str) -> ColumnSummary:
    """The summary of no rows of ``column``."""
    if schema is None or column not in schema.names:
        return ColumnSummary("null")
    series = pl.from_arrow(pa.nulls(0, schema.field(column).type))
    assert isinstance(series, pl.Series)
    return ColumnSummary.of(series)


class SummarizedRows:
    """The rows a dataset keeps besides a write's (a :class:`KeptRows`), with the per-file
    summaries of a :class:`SummaryStore` for dataset-scope metrics. Implements the validation
    layer's ``OtherRows``. ``columns``: the columns whose summaries are fetched together, on the
    first :meth:`summary` (one GET per file for all of them)."""

    def __init__(self, kept: KeptRows, store: SummaryStore, columns: Sequence[str] = ()) -> None:
        self._kept = kept
        self._store = store
        self._columns = list(columns)
        self._merged: dict[str, ColumnSummary] = {}

    @property
    def rows(self) -> int:
        return self._kept.rows

    def candidates(
        self, columns: Sequence[str], low: Any, high: Any, where: pl.Expr | None = None
    ) -> pl.LazyFrame:
        return self._kept.candidates(columns, low, high, where)

    def column_max(self, column: str, where: pl.Expr | None = None) -> Any:
        return self._kept.column_max(column, where)

    def count(self, where: pl.Expr) -> int:
        return self._kept.count(where)

    def scan(self, columns: Sequence[str]) -> pl.LazyFrame:
        """``columns`` of every kept row (for metrics with ``where:``, which are exact)."""
        return self._kept.scan(columns)

    def summary(self, column: str) -> ColumnSummary | None:
        """``column``'s summary merged over the kept files (None: the dataset has no such column)."""
        view = self._kept.view
        if column not in view.schema.names:
            return None
        if column not in self._merged:
            wanted = [c for c in dict.fromkeys([column, *self._columns]) if c in view.schema.names]
            wanted = [c for c in wanted if c not in self._merged]
            self._merged.update(self._store.summaries(view.dataset, self._kept.refs, wanted, view.schema))
        return self._merged[column]


def kept_rows(kept: KeptRows, contract: Contract | None) -> OtherRows:
    """``kept`` as validation sees it: with per-file summaries when ``contract`` has a metric over
    the dataset that they can answer (no ``where:``), else as they are."""
    columns = [
        name
        for name, spec in (contract.columns.items() if contract is not None else ())
        if spec.where is None
        and any(b.scope == "dataset" and b.where is None for bounds in spec.metrics.values() for b in bounds)
    ]
    if columns:
        layers = kept.view.layers
        return SummarizedRows(kept, SummaryStore(layers.store, layers), columns)
    return kept
