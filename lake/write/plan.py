"""Planning what a write, delete, upsert or revert does to one dataset: which rows it brings and
which files it must rewrite (read against the view, pruned by the files' statistics). Applying
the plan is :func:`lake.table.change.apply_change`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

import polars as pl
import pyarrow as pa

from lake.errors import DatasetNotFoundError, InvalidInputError, RevertConflictError, SchemaMismatchError
from lake.graph.commits import Snapshot
from lake.table import partitions
from lake.table.change import Change
from lake.table.frames import conform, normalize, to_arrow
from lake.table.keys import FILE, collect, files_named, rewrite_keys
from lake.table.layers import SchemaChange
from lake.table.pruning import selected, selects
from lake.table.revert import RevertStrategy, plan_revert_rows
from lake.table.views import FileRef, View

SchemaMode = Literal["strict", "merge", "overwrite"]


def plan_write(
    view: View | None,
    data: Any,
    *,
    mode: Literal["append", "overwrite"],
    schema_mode: SchemaMode,
    replace_where: str | None = None,
    partition_by: Sequence[str] | None = None,
) -> Change:
    """``partition_by``: a new dataset's partition columns; for one that exists, the ones it has
    (or new ones, for an overwrite with ``schema_mode='overwrite'``, which rewrites every file)."""
    table = data if isinstance(data, pa.Table) else to_arrow(data)
    repartition = mode == "overwrite" and schema_mode == "overwrite"
    if view is not None and not repartition:
        _refuse_other_partitioning(view, partition_by)
    if replace_where is not None:
        if view is not None:
            return _plan_replace_where(view, table, replace_where, schema_mode)
        _refuse_rows_outside(normalize(table), replace_where)  # the rows as they will be stored
    if view is None:
        table = normalize(table)
        new = tuple(partition_by or ())
        partitions.check(table.schema, new)
        return Change("create", table.schema, data=table, rows_added=table.num_rows, partition_by=new)
    if mode == "overwrite":
        parts: tuple[str, ...] | None = None
        if schema_mode == "overwrite":
            table = normalize(table)
            schema = table.schema
            parts = tuple(view.snapshot.partition_by if partition_by is None else partition_by)
            partitions.check(schema, parts)
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
            partition_by=parts,
        )
    if schema_mode == "overwrite":
        raise InvalidInputError("schema_mode='overwrite' needs mode='overwrite'")
    table, schema = conform(table, view.schema, allow_new_columns=schema_mode == "merge")
    widen: SchemaChange = "add" if schema != view.schema else None
    return Change("append", schema, widen, data=table, rows_added=table.num_rows)


def _refuse_other_partitioning(view: View, partition_by: Sequence[str] | None) -> None:
    """Refuse partition columns other than the dataset's: its files are laid out by those."""
    have = tuple(view.snapshot.partition_by)
    if partition_by is None or tuple(partition_by) == have:
        return
    said = f"partitioned by {list(have)}" if have else "not partitioned"
    raise InvalidInputError(
        f"dataset {view.dataset!r} is {said}; the write asks for partition_by {list(partition_by)}",
        hint="to lay the dataset out again, overwrite it whole: mode='overwrite', "
        "schema_mode='overwrite' (lake write --mode overwrite --schema-mode overwrite)",
    )


def _refuse_rows_outside(table: pa.Table, where: str) -> None:
    """Refuse new rows ``where`` does not select: a replaceWhere writes only inside it."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    outside = frame.filter(~selects(frame, where))
    if outside.height:
        sample = outside.head(3).to_dicts()
        raise InvalidInputError(
            f"{outside.height} of the {frame.height} new rows are outside replace_where {where!r}, "
            f"for example {sample}",
            hint="write only rows the predicate selects, or widen the predicate",
        )


def _plan_replace_where(view: View, table: pa.Table, where: str, schema_mode: SchemaMode) -> Change:
    """Delete what ``where`` selects and append ``table``, as one Delta WRITE (Overwrite) with the
    predicate, the way Delta logs a replaceWhere."""
    table, schema = conform(table, view.schema, allow_new_columns=schema_mode == "merge")
    _refuse_rows_outside(table, where)  # the rows as they will be stored (a float32 0.1 is not 0.1)
    gone = plan_delete(view, where)
    kept = conform(gone.data, schema, allow_new_columns=False)[0] if gone.data is not None else None
    widen: SchemaChange = "add" if schema != view.schema else None
    return Change(
        "overwrite",
        schema,
        widen,
        data=pa.concat_tables([kept, table]) if kept is not None else table,
        remove=gone.remove,
        rows_added=table.num_rows,
        rows_removed=gone.rows_removed,
        parameters={"predicate": json.dumps([where])},
    )


def plan_delete(view: View, where: str) -> Change:
    """The files holding rows ``where`` selects, rewritten without them. Only the files whose
    statistics may hold such a row are read (:mod:`lake.table.pruning`)."""
    chosen = selected(view, where)
    pred = chosen.predicate
    whole = [r for r in chosen.files if r.path in chosen.whole]  # every row goes: not read
    touched: list[FileRef] = []
    deleted = sum(r.file.rows for r in whole)
    if chosen.partly:
        hits = collect(
            view.scan(chosen.partly, file_column=FILE).filter(pred).group_by(FILE).len(),
            f"the predicate {where!r}",
            view,
        )
        touched = files_named(view, hits)
        deleted += int(hits["len"].sum()) if hits.height else 0
    kept: pa.Table | None = None
    if touched:
        frame = collect(
            view.scan(touched).filter(pred.fill_null(False).not_()), f"the predicate {where!r}", view
        )
        kept, _ = conform(frame.to_arrow(), view.schema, allow_new_columns=False)
    return Change(
        "delete",
        view.schema,
        data=kept,
        remove=[*whole, *touched],
        rows_removed=deleted,
        parameters={"predicate": json.dumps([where])},
    )


def plan_upsert(
    view: View | None,
    data: Any,
    key: Sequence[str],
    *,
    schema_mode: SchemaMode,
    partition_by: Sequence[str] | None = None,
) -> Change:
    keys = list(key)
    if not keys:
        raise InvalidInputError("upsert needs at least one key column")
    if view is None:
        change = plan_write(None, data, mode="append", schema_mode=schema_mode, partition_by=partition_by)
        change.operation = "upsert"
        return change
    table, schema = conform(
        data if isinstance(data, pa.Table) else to_arrow(data),
        view.schema,
        allow_new_columns=schema_mode == "merge",
    )
    _refuse_other_partitioning(view, partition_by)
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
    rewrite = rewrite_keys(view, incoming, keys, what="the upsert key")
    parts = []
    if rewrite.kept is not None:
        parts.append(conform(rewrite.kept.to_arrow(), schema, allow_new_columns=False)[0])
    parts.append(table)
    merged = pa.concat_tables(parts)
    widen: SchemaChange = "add" if schema != view.schema else None
    return Change(
        "upsert",
        schema,
        widen,
        data=merged,
        remove=rewrite.files,
        rows_added=table.num_rows,
        rows_removed=rewrite.matched,
        parameters=merge_parameters(keys),
    )


def merge_parameters(keys: Sequence[str]) -> dict[str, str]:
    """An upsert's parameters as Delta logs a MERGE INTO ... WHEN MATCHED UPDATE * WHEN NOT
    MATCHED INSERT *."""
    on = " AND ".join(f"target.{k} = source.{k}" for k in keys)
    return {
        "predicate": json.dumps([on]),
        "matchedPredicates": json.dumps([{"actionType": "update"}]),
        "notMatchedPredicates": json.dumps([{"actionType": "insert"}]),
    }


def plan_revert(
    dataset: str,
    view: View | None,
    before: Snapshot | None,
    after: Snapshot,
    *,
    commit: str,
    key: Sequence[str],
    strategy: RevertStrategy,
) -> Change:
    """Undo, in ``view``, the rows one commit (``commit``) changed in ``dataset``, from
    ``before`` (its parent's snapshot) to ``after`` (its own): by primary key ``key`` if there
    is one, else by whole rows (:mod:`lake.table.revert`). Later changes to the same rows are
    conflicts, decided by ``strategy`` (``fail`` raises :class:`RevertConflictError`)."""
    if view is None:
        raise DatasetNotFoundError(
            f"commit {commit[:12]} changed {dataset!r}, which this branch does not hold",
            hint="revert it on a branch that holds the dataset",
        )
    planned = plan_revert_rows(
        view.layers, dataset, before, after, view, key=key, strategy=strategy, label=commit[:12]
    )
    if planned.change is None:
        raise RevertConflictError(commit, planned.conflicts)
    return planned.change
