"""Delta versions of a layer that no lake commit names yet, and what the lake makes of them.

A version past the one a branch names was written either by a lake writer (its commitInfo carries
``lake.txn``: a writer between its Delta commit and its ref, or one that died there; see
:mod:`lake.write.patience`) or by another engine: a Spark append, a ``write_deltalake`` fix, an
OPTIMIZE. Those are **foreign**. The lake never heals foreign versions away: it *adopts* them (a lake
commit that names the version), or *undoes* them on request (a new version without their files; no
file is deleted), or refuses them with the reason (a protocol the lake cannot read, new partition columns,
deletion vectors).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote

import pyarrow as pa

from lake.graph.commits import DatasetChange, Layer, Snapshot
from lake.table.deltalog import LoggedVersion, Operation, read_versions
from lake.table.frames import delta_schema_json
from lake.table.layers import DataFile, Layers, VersionTaken


@dataclass(frozen=True)
class Pending:
    """The versions of one layer after the one a branch names (``named``; None: none)."""

    dataset: str
    layer: str
    named: int | None
    latest: int
    versions: tuple[LoggedVersion, ...] | None  # None: a log entry of the range is gone

    @property
    def foreign(self) -> tuple[LoggedVersion, ...]:
        return tuple(v for v in self.versions or () if v.foreign)

    @property
    def unfinished(self) -> tuple[LoggedVersion, ...]:
        """Versions of lake writers that no commit names (in flight, or died)."""
        return tuple(v for v in self.versions or () if not v.foreign)

    @property
    def data_change(self) -> bool:
        """Whether a foreign version changed rows or the schema (False: maintenance only)."""
        return self.versions is None or any(v.data_change for v in self.foreign)

    @property
    def where(self) -> str:
        return f"{self.dataset}" + (f" (layer {self.layer})" if self.layer else "")

    def describe(self) -> str:
        found = self.foreign
        if not found:
            return f"no foreign versions of {self.where}"
        listed = "; ".join(v.describe() for v in found)
        return f"the Delta table of {self.where} has {len(found)} version(s) no lake commit made: {listed}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "layer": self.layer,
            "named_version": self.named,
            "latest_version": self.latest,
            "foreign": [
                {
                    "version": v.version,
                    "operation": v.operation,
                    "engine": v.engine,
                    "author": v.author,
                    "data_change": v.data_change,
                }
                for v in self.foreign
            ],
            "unfinished": [v.version for v in self.unfinished],
        }


class ForeignVersions(Exception):
    """Raised to the commit loop: the layer it was about to commit to holds foreign versions,
    which must be adopted (or refused) before anything is built on top of them."""

    def __init__(self, pending: Pending) -> None:
        super().__init__(pending.describe())
        self.pending = pending


def pending(layers: Layers, dataset: str, layer: str, named: int | None, latest: int) -> Pending:
    versions = read_versions(
        layers.store, layers.key(dataset, layer, ""), -1 if named is None else named, latest
    )
    if versions is None:
        return Pending(dataset, layer, named, latest, None)
    if named is not None and any(v.metadata is not None for v in versions):
        versions = _judge_metadata(layers, dataset, layer, named, versions)
    return Pending(dataset, layer, named, latest, tuple(versions))


def _shape(schema_string: str, partitions: Sequence[str]) -> tuple[Any, list[str]]:
    return json.loads(schema_string), list(partitions)


def _judge_metadata(
    layers: Layers, dataset: str, layer: str, named: int, versions: list[LoggedVersion]
) -> list[LoggedVersion]:
    """Mark each ``metaData`` action as a change of schema or partitioning, or of properties
    only (which changes no data), against the table as the named version has it."""
    then = layers.table(dataset, layer, named)
    shape = _shape(then.schema().to_json(), then.metadata().partition_columns)
    config = dict(then.metadata().configuration)
    out = []
    for v in versions:
        if v.metadata is not None:
            new = _shape(str(v.metadata.get("schemaString", "{}")), v.metadata.get("partitionColumns") or [])
            now = dict(v.metadata.get("configuration") or {})
            weakens = ", ".join(
                f"{k}={now.get(k)}" for k in PROTECTIVE if k in config and now.get(k) != config[k]
            )
            v = replace(v, reschemes=new != shape, weakens=weakens, repartitions=new[1] != shape[1])
            shape, config = new, now
        out.append(v)
    return out


# Table properties the lake sets so that its history survives other engines' maintenance: a foreign
# commit that changes one would let them delete log entries or files that lake commits still name.
PROTECTIVE = (
    "delta.enableExpiredLogCleanup",
    "delta.logRetentionDuration",
    "delta.deletedFileRetentionDuration",
)


def scan(layers: Layers, dataset: str, layer: str, named: int | None) -> Pending | None:
    """The layer's versions past ``named``, or None when there are none."""
    latest = layers.latest_version(dataset, layer)
    if latest is None or latest == named:
        return None
    return pending(layers, dataset, layer, named, latest)


def refusal(p: Pending) -> str | None:
    """Why the foreign versions cannot be adopted as they are (None: they can)."""
    if p.versions is None:
        return "log entries of the range are gone (another engine cleaned up the log)"
    unfinished: dict[str, str] = {}  # files that unfinished lake writes added -> their txn
    for v in p.versions:
        if not v.foreign:
            unfinished.update((_path(a), v.txn or "") for a in v.adds)
            continue
        rewritten = sorted({_path(r) for r in v.removes} & unfinished.keys())
        if rewritten:
            txn = unfinished[rewritten[0]]
            return (
                f"{v.describe()} rewrote files of an unfinished lake write (transaction {txn}), "
                "so the rows that write never committed cannot be told from the others"
            )
    for v in p.foreign:
        what = v.describe()
        required = _writer_requirements(v)
        if required:
            return f"{what} added writer requirements the lake's writes do not enforce ({required})"
        if v.weakens:
            return f"{what} set {v.weakens}: engines could then delete what lake commits still name"
        if v.protocol is not None:
            reader = int(v.protocol.get("minReaderVersion", 1))
            features = v.protocol.get("readerFeatures") or []
            if reader > 1 or features:
                return f"{what} raised the reader protocol to {reader} {features}, which the lake cannot read"
        if v.repartitions:
            return (
                f"{what} changed the table's partition columns, by which the files of every branch "
                "of the dataset are laid out"
            )
        for a in v.adds:
            if a.get("deletionVector"):
                return f"{what} wrote deletion vectors, which the lake cannot read"
        for r in v.removes:
            if r.get("deletionVector"):
                return f"{what} removed rows with deletion vectors, which the lake cannot read"
    return None


def _writer_requirements(v: LoggedVersion) -> str:
    """What a version asks of every later writer that the lake's own commits would not honour:
    a newer writer protocol or writer features (CHECK constraints, generated or identity
    columns, append-only ...)."""
    found = []
    if v.protocol is not None:
        writer = int(v.protocol.get("minWriterVersion", 2))
        if writer > 2 or v.protocol.get("writerFeatures"):
            found.append(f"writer protocol {writer} {v.protocol.get('writerFeatures') or []}")
    config = (v.metadata or {}).get("configuration") or {}
    found += sorted(k for k in config if k.startswith("delta.constraints."))
    if str(config.get("delta.appendOnly", "false")).lower() == "true":
        found.append("delta.appendOnly=true")
    return ", ".join(found)


def _path(action: Mapping[str, Any]) -> str:
    return unquote(str(action["path"]))


def adopted_paths(p: Pending, named_files: Mapping[str, DataFile]) -> list[str]:
    """The files the layer holds once the foreign versions are adopted and the unfinished lake
    versions set aside: the named files, changed by the foreign versions' actions in order."""
    paths = dict.fromkeys(named_files)
    for v in p.foreign:
        for r in v.removes:
            paths.pop(_path(r), None)
        for a in v.adds:
            paths[_path(a)] = None
    return list(paths)


def _schema_of(layers: Layers, dataset: str, layer: str, version: int) -> pa.Schema:
    return pa.schema(layers.table(dataset, layer, version).schema().to_arrow())


def adopt(
    layers: Layers,
    dataset: str,
    snapshot: Snapshot | None,
    p: Pending,
    *,
    metadata: Mapping[str, Any],
    may_heal: Callable[[int], bool],
) -> tuple[Snapshot, DatasetChange]:
    """The dataset's snapshot with the foreign versions of ``p`` adopted: the layer at its newest
    version, or, when unfinished lake versions sit among them, at a new version that holds the
    named files as the foreign versions changed them (and none of the unfinished writes')."""
    if p.unfinished and not may_heal(p.latest):
        raise VersionTaken(f"{dataset}: a lake writer is between its Delta commit and its ref")
    latest_files = layers.files(dataset, Layer(p.layer, p.latest))
    named_files = layers.files(dataset, Layer(p.layer, p.named)) if p.named is not None else {}
    want = adopted_paths(p, named_files)
    known = {**named_files, **latest_files}
    for v in reversed(p.foreign):  # a foreign file an unfinished lake version removed since
        if all(w in known for w in want):
            break
        known = {**layers.files(dataset, Layer(p.layer, v.version)), **known}
    missing = [w for w in want if w not in known]
    if missing:
        raise VersionTaken(f"{dataset}: foreign versions name files the log does not hold: {missing[:3]}")
    version = layers.restore(
        dataset,
        p.layer,
        p.latest,
        {w: known[w] for w in want},
        metadata={**metadata, "lake.heal": "foreign"},
        operation=Operation.of("heal", {"keep": "foreign versions"}),
    )
    held = layers.files(dataset, Layer(p.layer, version))
    before = named_files
    added = [f for path, f in held.items() if path not in before]
    removed = [f for path, f in before.items() if path not in held]
    reschema = snapshot is None or any(v.metadata is not None for v in p.foreign)
    schema = (
        delta_schema_json(_schema_of(layers, dataset, p.layer, version))
        if reschema or snapshot is None
        else snapshot.schema
    )
    kept = tuple(lay for lay in (snapshot.layers if snapshot else ()) if lay.path != p.layer)
    new = Snapshot(
        layers=(*kept, Layer(p.layer, version)),
        schema=schema,
        rows=(snapshot.rows if snapshot else 0) + sum(f.rows for f in added) - sum(f.rows for f in removed),
        files=(snapshot.files if snapshot else 0) + len(added) - len(removed),
        shadowed=dict(snapshot.shadowed) if snapshot else {},
        partition_by=(
            tuple(layers.table(dataset, p.layer, version).metadata().partition_columns)
            if reschema or snapshot is None
            else snapshot.partition_by
        ),
    )
    moved = p.data_change  # a compaction moves rows between files: no row is added or removed
    change = DatasetChange(
        operation="adopt" if moved else "optimize",
        rows_added=sum(f.rows for f in added) if moved else 0,
        rows_removed=sum(f.rows for f in removed) if moved else 0,
        files_added=len(added),
        files_removed=len(removed),
    )
    return new, change


def undo(
    layers: Layers,
    dataset: str,
    snapshot: Snapshot,
    p: Pending,
    *,
    metadata: Mapping[str, Any],
) -> tuple[Snapshot, DatasetChange]:
    """A new version of the layer holding exactly the named files again: the foreign files are
    removed from the table (and stay in storage, for ``lake gc`` to judge), the files they
    removed come back. The lake's snapshot is unchanged but for the layer's version."""
    assert p.named is not None
    latest_files = layers.files(dataset, Layer(p.layer, p.latest))
    named_files = layers.files(dataset, Layer(p.layer, p.named))
    version = layers.restore(
        dataset,
        p.layer,
        p.latest,
        named_files,
        metadata=metadata,
        operation=Operation.of("undo", {"version": str(p.named)}),
        restore_metadata=p.named if any(v.metadata is not None for v in p.foreign) else None,
    )
    layers_ = tuple(lay if lay.path != p.layer else Layer(p.layer, version) for lay in snapshot.layers)
    new = Snapshot(
        layers=layers_,
        schema=snapshot.schema,
        rows=snapshot.rows,
        files=snapshot.files,
        shadowed=dict(snapshot.shadowed),
        partition_by=snapshot.partition_by,
    )
    change = DatasetChange(
        operation="undo",
        rows_added=0,
        rows_removed=0,
        files_added=sum(1 for path in named_files if path not in latest_files),
        files_removed=sum(1 for path in latest_files if path not in named_files),
    )
    return new, change
