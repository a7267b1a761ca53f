"""Planning what a write, delete or upsert does to one dataset: which rows it brings and which
files it must rewrite (read against the view, pruned by the files' statistics). Applying the
plan is :func:`lake.table.change.apply_change`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import polars as pl
import pyarrow as pa

from lake.errors import InvalidInputError, SchemaMismatchError
from lake.storage.faults import storage_errors
from lake.table.change import Change
from lake.table.frames import conform, normalize, to_arrow
from lake.table.layers import SchemaChange
from lake.table.views import FileRef, View

SchemaMode = Literal["strict", "merge", "overwrite"]
_FILE = "__lake_file__"


def _sql(where: str) -> pl.Expr:
    try:
        return pl.sql_expr(where)
    except Exception as exc:
        raise InvalidInputError(f"cannot parse the predicate {where!r}: {exc}") from exc


def _collect(frame: pl.LazyFrame, what: str, view: View) -> pl.DataFrame:
    """Run a scan of ``view``'s files: a bad column or predicate is the caller's to fix, a
    storage fault is a :class:`StorageError` that names the dataset."""
    try:
        with storage_errors("read the data files of", view.layers.uri(view.dataset), view.layers.config):
            return frame.collect()
    except pl.exceptions.ColumnNotFoundError as exc:
        raise InvalidInputError(f"{what} names a column the dataset does not have: {exc}") from exc
    except (
        pl.exceptions.ComputeError,
        pl.exceptions.InvalidOperationError,
        pl.exceptions.SQLInterfaceError,
    ) as exc:
        raise InvalidInputError(f"{what} cannot be evaluated: {exc}") from exc


def _touched(view: View, hits: pl.DataFrame) -> list[FileRef]:
    by_uri = {view.uri(ref): ref for ref in view.files.values()}
    return [by_uri[u] for u in hits[_FILE].to_list()]


def plan_write(
    view: View | None, data: Any, *, mode: Literal["append", "overwrite"], schema_mode: SchemaMode
) -> Change:
    table = data if isinstance(data, pa.Table) else to_arrow(data)
    if view is None:
        table = normalize(table)
        return Change("create", table.schema, data=table, rows_added=table.num_rows)
    if mode == "overwrite":
        if schema_mode == "overwrite":
            table = normalize(table)
            schema = table.schema
        else:
            table, schema = conform(table, view.schema, allow_new_columns=schema_mode == "merge")
        removed = list(view.files.values())
        return Change(
            "overwrite",
            schema,
            "replace",
            data=table,
            remove=removed,
            rows_added=table.num_rows,
            rows_removed=sum(r.file.rows for r in removed),
        )
    if schema_mode == "overwrite":
        raise InvalidInputError("schema_mode='overwrite' needs mode='overwrite'")
    table, schema = conform(table, view.schema, allow_new_columns=schema_mode == "merge")
    widen: SchemaChange = "add" if schema != view.schema else None
    return Change("append", schema, widen, data=table, rows_added=table.num_rows)


def plan_delete(view: View, where: str) -> Change:
    pred = _sql(where)
    hits = _collect(
        view.scan(file_column=_FILE).filter(pred).group_by(_FILE).len(), f"the predicate {where!r}", view
    )
    touched = _touched(view, hits)
    deleted = int(hits["len"].sum()) if hits.height else 0
    kept: pa.Table | None = None
    if touched:
        frame = _collect(
            view.scan(touched).filter(pred.fill_null(False).not_()), f"the predicate {where!r}", view
        )
        kept, _ = conform(frame.to_arrow(), view.schema, allow_new_columns=False)
    return Change("delete", view.schema, data=kept, remove=touched, rows_removed=deleted)


def plan_upsert(view: View | None, data: Any, key: Sequence[str], *, schema_mode: SchemaMode) -> Change:
    keys = list(key)
    if not keys:
        raise InvalidInputError("upsert needs at least one key column")
    if view is None:
        change = plan_write(None, data, mode="append", schema_mode=schema_mode)
        change.operation = "upsert"
        return change
    table, schema = conform(
        data if isinstance(data, pa.Table) else to_arrow(data),
        view.schema,
        allow_new_columns=schema_mode == "merge",
    )
    missing = [k for k in keys if k not in schema.names]
    if missing:
        raise SchemaMismatchError(f"upsert key column(s) {', '.join(missing)} are not in the dataset")
    incoming = pl.from_arrow(table.select(keys))
    assert isinstance(incoming, pl.DataFrame)
    dupes = incoming.group_by(keys).len().filter(pl.col("len") > 1)
    if dupes.height:
        sample = dupes.head(5).drop("len").to_dicts()
        raise InvalidInputError(
            f"the upsert data repeats {dupes.height} key(s), for example {sample}",
            hint="each key may appear once in an upsert",
        )
    # Only files whose min/max statistics for the first key overlap the incoming keys can hold
    # a match: appending new ids by upsert reads no old file.
    low, high = incoming[keys[0]].min(), incoming[keys[0]].max()
    candidates = [r for r in view.files.values() if r.may_hold(keys[0], low, high)]
    probe = view.scan(candidates, file_column=_FILE).select([*keys, _FILE])
    hits = _collect(
        probe.join(incoming.lazy(), on=keys, how="semi").group_by(_FILE).len(), "the upsert key", view
    )
    touched = _touched(view, hits)
    updated = int(hits["len"].sum()) if hits.height else 0
    parts = []
    if touched:
        kept = _collect(view.scan(touched).join(incoming.lazy(), on=keys, how="anti"), "the upsert key", view)
        parts.append(conform(kept.to_arrow(), schema, allow_new_columns=False)[0])
    parts.append(table)
    merged = pa.concat_tables(parts)
    widen: SchemaChange = "add" if schema != view.schema else None
    return Change(
        "upsert",
        schema,
        widen,
        data=merged,
        remove=touched,
        rows_added=table.num_rows,
        rows_removed=updated,
    )
