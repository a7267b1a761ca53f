"""Per-file column summaries, so that a dataset-scope metric never rescans the dataset.

Data files are immutable, so a file's summary (:class:`lake.validation.metrics.ColumnSummary`
per column) is computed once, the first time a metric needs it, and kept under
``_lake/summaries/<sha256 of the file's key>.json``; the dataset's summary is the merge of its
files'. A summary that is missing or unreadable is recomputed from its file, never trusted
blindly: it is a cache, and gc deletes those whose file is gone."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import polars as pl
import pyarrow as pa

from lake.contracts import Contract
from lake.table.layers import Layers
from lake.table.views import FileRef, KeptRows, read_files
from lake.validation.metrics import ColumnSummary
from lake.validation.others import OtherRows

SUMMARIES = "_lake/summaries/"


def summary_key(data_key: str) -> str:
    """Where the summary of the data file at ``data_key`` (relative to the repository) is kept."""
    return f"{SUMMARIES}{hashlib.sha256(data_key.encode()).hexdigest()}.json"


class SummaryStore:
    def __init__(self, layers: Layers) -> None:
        self._layers = layers
        self._store = layers.store

    def summaries(
        self, dataset: str, refs: Sequence[FileRef], schema: pa.Schema, column: str
    ) -> ColumnSummary:
        """``column``'s summary over the files ``refs`` of ``dataset`` (read with ``schema``)."""
        if not refs:
            return ColumnSummary.of(pl.Series(column, [], dtype=_polars_type(schema, column)))
        with ThreadPoolExecutor(max_workers=min(16, len(refs))) as pool:
            parts = list(pool.map(lambda ref: self._of(dataset, ref, schema, column), refs))
        merged = parts[0]
        for part in parts[1:]:
            merged = merged.merge(part)
        return merged

    def _of(self, dataset: str, ref: FileRef, schema: pa.Schema, column: str) -> ColumnSummary:
        key = summary_key(f"{dataset}/{ref.path}")
        blob = self._store.get(key)
        kept: dict[str, Any] = {}
        if blob is not None:
            try:
                kept = json.loads(blob.data)
                return ColumnSummary.from_json(kept[column])
            except (ValueError, KeyError, TypeError, RuntimeError):
                pass  # another column's summary only, or unreadable: compute this one
        rows = read_files(self._layers, dataset, [ref], pa.schema([schema.field(column)]))
        series = pl.from_arrow(rows.column(column))
        assert isinstance(series, pl.Series)
        summary = ColumnSummary.of(series)
        kept[column] = summary.to_json()
        self._store.put(key, json.dumps(kept).encode())
        return summary


class SummarizedRows:
    """The rows a dataset keeps besides a write's (a :class:`KeptRows`), with the per-file
    summaries of :class:`SummaryStore` for dataset-scope metrics."""

    def __init__(self, kept: KeptRows, store: SummaryStore) -> None:
        self._kept = kept
        self._store = store

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
        return self._kept.scan(columns)

    def summary(self, column: str) -> ColumnSummary | None:
        view = self._kept.view
        if column not in view.schema.names:
            return None
        return self._store.summaries(view.dataset, self._kept.refs, view.schema, column)


def kept_rows(kept: KeptRows, contract: Contract | None) -> OtherRows:
    """``kept`` as validation sees it: with per-file summaries when ``contract`` has a metric over
    the dataset that they can answer (no ``where:``), else as they are."""
    if contract is not None and any(
        b.scope == "dataset" and b.where is None and spec.where is None
        for spec in contract.columns.values()
        for bounds in spec.metrics.values()
        for b in bounds
    ):
        return SummarizedRows(kept, SummaryStore(kept.view.layers))
    return kept


def _polars_type(schema: pa.Schema, column: str) -> Any:
    series = pl.from_arrow(pa.nulls(0, schema.field(column).type))
    assert isinstance(series, pl.Series)
    return series.dtype
