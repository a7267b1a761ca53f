"""A change to one dataset (rows to add, files to remove or take back) and how it is applied as
one Delta commit.

Applying writes the new files into the branch's own layer, removes replaced files of that
layer, and *shadows* replaced files of the layers below it. Nothing below the branch's own
layer is ever copied or touched.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from lake import kill
from lake.graph.commits import DatasetChange, Layer, Snapshot
from lake.table.deltalog import Operation
from lake.table.foreign import ForeignVersions, pending
from lake.table.frames import conform, delta_schema_json
from lake.table.layers import DataFile, Layers, SchemaChange, VersionTaken
from lake.table.views import FileRef, View


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
    parameters: dict[str, str] = field(default_factory=dict)  # the Delta operation's parameters
    # The dataset's partition columns after the change (None: as the dataset has them).
    partition_by: tuple[str, ...] | None = None

    def partitioning(self, snapshot: Snapshot | None) -> tuple[str, ...]:
        """The partition columns the change's files are written by."""
        if self.partition_by is not None:
            return self.partition_by
        return snapshot.partition_by if snapshot is not None else ()


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
    parameters: Mapping[str, str] | None = None,
) -> tuple[Snapshot, DatasetChange]:
    """Commit ``change`` into the layer ``own`` and return the dataset's new snapshot.

    ``may_heal(latest)`` says whether versions of the layer that no commit names (the newest
    is ``latest``) may be healed now, or must be waited for (:class:`VersionTaken`).
    ``staged`` holds ``change.data`` already written to the layer, or being written (the write
    path starts that while it validates, and keeps it across attempts of a blind append)."""
    mine = snapshot.layer(own) if snapshot else None
    base = mine.version if mine else None
    schema_change = change.schema_change
    parts = change.partitioning(snapshot)
    latest = layers.latest_version(dataset, own)
    if latest is not None and latest != base:
        found = pending(layers, dataset, own, base, latest)
        if found.foreign or found.versions is None:
            raise ForeignVersions(found)  # adopted (or refused) first, never healed away
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
            readds.append(ref.file.moved(rel))
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
        adds = layers.write_files(dataset, own, data, partition_by=parts) if data is not None else []
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
        operation=Operation.of(
            change.operation,
            {**_partitioned(change.operation, parts), **change.parameters, **(parameters or {})},
        ),
        partition_by=parts,
    )
    kill.point("delta.commit")

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
        partition_by=parts,
    )
    return new, DatasetChange(
        operation=change.operation,
        rows_added=change.rows_added,
        rows_removed=change.rows_removed,
        files_added=len(adds) + len(change.restore),
        files_removed=removed_files,
    )


def _partitioned(operation: str, parts: tuple[str, ...]) -> dict[str, str]:
    """The ``partitionBy`` a Delta WRITE logs (Spark's spelling: a JSON list)."""
    writes = operation in ("create", "append", "overwrite")
    return {"partitionBy": json.dumps(list(parts))} if parts and writes else {}
