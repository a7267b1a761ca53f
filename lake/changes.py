"""What a write does to one dataset, planned against a view and applied as one Delta commit.

Planning reads (which files a delete or upsert must rewrite); applying writes the new files into
the branch's own layer, removes replaced files of that layer, and *shadows* replaced files of
the layers below it. Nothing below the branch's own layer is ever copied or touched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl
import pyarrow as pa

from lake.commits import DatasetChange, Layer, Snapshot
from lake.errors import InvalidInputError, SchemaMismatchError
from lake.frames import conform, delta_schema_json, normalize, to_arrow
from lake.layers import DataFile, Layers, SchemaChange, VersionTaken
from lake.storage.faults import storage_errors
from lake.views import FileRef, View

SchemaMode = Literal["strict", "merge", "overwrite"]
_FILE = "__lake_file__"


@dataclass
class Change:
    operation: str
    schema: pa.Schema
    schema_change: SchemaChange = None
    data: pa.Table | None = None
    remove: list[FileRef] = field(default_factory=list)
    restore: list[FileRef] = field(default_factory=list)
    rows_added: int = 0
    rows_removed: int = 0


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


def apply_change(
    layers: Layers,
    dataset: str,
    snapshot: Snapshot | None,
    view: View | None,
    own: str,
    change: Change,
    *,
    metadata: Mapping[str, Any],
    may_heal: Callable[[int], bool],
    staged: Future[list[DataFile]] | None = None,
) -> tuple[Snapshot, DatasetChange]:
    """Commit ``change`` into the layer ``own`` and return the dataset's new snapshot.

    ``may_heal(latest)`` says whether versions of the layer that no commit names (the newest
    is ``latest``) may be healed now, or must be waited for (:class:`VersionTaken`).
    ``staged`` holds ``change.data`` already written to the layer, or being written (the write
    path starts that while it validates, and keeps it across attempts of a blind append)."""
    mine = snapshot.layer(own) if snapshot else None
    base = mine.version if mine else None
    schema_change = change.schema_change
    latest = layers.latest_version(dataset, own)
    if latest != base:
        if latest is None or not may_heal(latest):
            raise VersionTaken(f"{dataset}: the layer {own or '(main)'} has versions no commit names yet")
        if base is None:
            assert latest is not None
            base, schema_change = latest, "replace"  # a table holding none of this branch's files
        else:
            base = layers.heal(dataset, own, base, metadata)

    shadowed = dict(snapshot.shadowed) if snapshot else {}
    own_removes = [r.file for r in change.remove if r.layer == own]
    for ref in change.remove:
        if ref.layer != own:
            shadowed[ref.path] = ref.file.rows
    readds: list[DataFile] = []
    copies: list[FileRef] = []
    borrowed: dict[tuple[str, int], set[str]] = {}  # layers of another line of history, by reference
    for ref in change.restore:
        if ref.path in shadowed:
            del shadowed[ref.path]
        elif ref.layer == own:
            readds.append(ref.file)
        elif own == "" or ref.path.startswith(own + "/"):
            rel = ref.path.removeprefix(own + "/") if own else ref.path
            readds.append(
                DataFile(rel, ref.file.size, ref.file.rows, ref.file.modification_time, ref.file.stats)
            )
        elif ref.version >= 0:
            borrowed.setdefault((ref.layer, ref.version), set()).add(ref.path)
        else:
            copies.append(ref)
    present = view.files if view is not None and borrowed else {}
    for (layer_path, version), wanted in borrowed.items():
        # Stack the other branch's layer under ours and hide what of it we do not take.
        prefix = f"{layer_path}/" if layer_path else ""
        for name, f in layers.files(dataset, Layer(layer_path, version)).items():
            full = prefix + name
            if full not in wanted and full not in present:
                shadowed[full] = f.rows
    data = change.data
    if copies:
        assert view is not None
        copied, _ = conform(view.to_arrow(refs=copies), change.schema, allow_new_columns=False)
        data = copied if data is None else pa.concat_tables([data, copied])
    if staged is not None and not copies:
        adds = staged.result()
    else:
        adds = layers.write_files(dataset, own, data) if data is not None else []
    if schema_change == "replace":
        own_removes = []  # an overwrite commit removes every file of the layer by itself
    version = layers.commit(
        dataset,
        own,
        base=base,
        adds=[*adds, *readds],
        removes=own_removes,
        schema=change.schema,
        schema_change=schema_change,
        metadata=metadata,
    )

    kept = [lay for lay in (snapshot.layers if snapshot else ()) if lay.path != own]
    kept += [Layer(p, v) for p, v in borrowed if Layer(p, v) not in kept]
    if kept and view is not None:
        # A lower layer whose every file is now shadowed is dropped, shadow entries and all.
        for lay in list(kept):
            prefix = f"{lay.path}/" if lay.path else ""
            names = [prefix + p for p in layers.files(dataset, lay)]
            if all(n in shadowed for n in names):
                kept.remove(lay)
                for n in names:
                    shadowed.pop(n, None)
    removed_files = len(change.remove)
    removed_rows = sum(r.file.rows for r in change.remove)
    added_rows = sum(f.rows for f in adds) + sum(r.file.rows for r in change.restore)
    new = Snapshot(
        layers=(*kept, Layer(own, version)),
        schema=delta_schema_json(change.schema),
        rows=(snapshot.rows if snapshot else 0) - removed_rows + added_rows,
        files=(snapshot.files if snapshot else 0) - removed_files + len(adds) + len(change.restore),
        shadowed=shadowed,
    )
    return new, DatasetChange(
        operation=change.operation,
        rows_added=change.rows_added,
        rows_removed=change.rows_removed,
        files_added=len(adds) + len(change.restore),
        files_removed=removed_files,
    )
