"""The Delta tables that hold a dataset's files ("layers"), and the only code that commits to them.

Every commit lands at exactly the version after the one its caller read (``max_commit_retries=0``),
so a Delta version number is itself a compare-and-swap: a writer that lost the race gets
:class:`VersionTaken` and starts over from the branch ref, never a silently rebased commit.

Data files are written here with pyarrow (so that one Delta commit can both add them and remove
the files they replace), and committed with delta-rs's ``create_write_transaction``.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, PostCommitHookProperties
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError
from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

from lake.commits import Layer
from lake.errors import ConcurrentUpdateError
from lake.storage import ObjectStore, StorageConfig
from lake.storage.faults import storage_error, storage_errors

TARGET_FILE_BYTES = 64 * 1024 * 1024
# Old log entries must stay: lake commits time-travel to any version they name.
TABLE_CONFIGURATION = {"delta.enableExpiredLogCleanup": "false", "delta.checkpointInterval": "10"}
_HOOKS = PostCommitHookProperties(create_checkpoint=True, cleanup_expired_logs=False)
SchemaChange = Literal["add", "replace"] | None


class VersionTaken(ConcurrentUpdateError):
    """The Delta version this writer meant to create exists already (another writer, or an
    earlier writer that stopped before moving its ref)."""


@dataclass(frozen=True)
class DataFile:
    """One parquet file of a layer. ``path`` is relative to the layer's root."""

    path: str
    size: int
    rows: int
    modification_time: int
    stats: str

    def bounds(self, column: str) -> tuple[Any, Any] | None:
        """The (min, max) the file's statistics record for ``column``, if they do."""
        raw = json.loads(self.stats)
        low, high = raw.get("minValues", {}).get(column), raw.get("maxValues", {}).get(column)
        return None if low is None or high is None else (low, high)

    def add_action(self, prefix: str = "") -> AddAction:
        return AddAction(prefix + self.path, self.size, {}, self.modification_time, True, self.stats)


def _jsonable(value: Any) -> bool:
    return isinstance(value, int | float | str) and not (isinstance(value, float) and value != value)


def _column_stats(table: pa.Table) -> dict[str, Any]:
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    for field, column in zip(table.schema, table.columns, strict=True):
        nulls[field.name] = column.null_count
        t = field.type
        if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_string(t):
            if column.null_count == len(column):
                continue
            mm = pc.min_max(column).as_py()
            if _jsonable(mm["min"]) and _jsonable(mm["max"]):
                mins[field.name], maxs[field.name] = mm["min"], mm["max"]
        elif pa.types.is_date32(t) and column.null_count < len(column):
            mm = pc.min_max(column).as_py()
            mins[field.name], maxs[field.name] = mm["min"].isoformat(), mm["max"].isoformat()
    return {"numRecords": table.num_rows, "minValues": mins, "maxValues": maxs, "nullCount": nulls}


class Layers:
    def __init__(self, config: StorageConfig, store: ObjectStore) -> None:
        self.config = config
        self.store = store
        self._files: OrderedDict[tuple[str, int], dict[str, DataFile]] = OrderedDict()
        self._latest: dict[str, DeltaTable] = {}

    # -- locations -------------------------------------------------------------------------------
    def uri(self, dataset: str, layer_path: str = "") -> str:
        return self.config.join(dataset, layer_path)

    def key(self, dataset: str, layer_path: str, rest: str) -> str:
        return "/".join(p for p in (dataset, layer_path, rest) if p)

    def _table(self, uri: str, version: int | None = None) -> DeltaTable:
        at = uri if version is None else f"{uri} (version {version})"
        with storage_errors("read the Delta table", at, self.config):  # TableNotFoundError passes
            return DeltaTable(uri, version=version, storage_options=self.config.delta_options())

    # -- reading ---------------------------------------------------------------------------------
    def latest_version(self, dataset: str, layer_path: str) -> int | None:
        """The layer's newest Delta version. The loaded table is kept for :meth:`commit`, which
        usually commits right on top of it, so that a write loads the log once, not twice."""
        uri = self.uri(dataset, layer_path)
        try:
            dt = self._table(uri)
        except TableNotFoundError:
            return None
        self._latest[uri] = dt
        return dt.version()

    def files(self, dataset: str, layer: Layer) -> dict[str, DataFile]:
        """The files of ``layer`` at its version, keyed by path relative to the layer root."""
        uri = self.uri(dataset, layer.path)
        cache_key = (uri, layer.version)
        hit = self._files.get(cache_key)
        if hit is not None:
            self._files.move_to_end(cache_key)
            return hit
        actions = pa.table(self._table(uri, layer.version).get_add_actions(flatten=True))
        bounds = [n for n in actions.column_names if n.startswith(("min.", "max."))]
        files: dict[str, DataFile] = {}
        for row in actions.select(
            ["path", "size_bytes", "modification_time", "num_records", *bounds]
        ).to_pylist():
            rows = int(row["num_records"] or 0)
            stats: dict[str, Any] = {"numRecords": rows, "minValues": {}, "maxValues": {}}
            for name in bounds:
                kind, col = name.split(".", 1)
                if _jsonable(row[name]):
                    stats["minValues" if kind == "min" else "maxValues"][col] = row[name]
            files[row["path"]] = DataFile(
                path=row["path"],
                size=int(row["size_bytes"]),
                rows=rows,
                modification_time=int(row["modification_time"]),
                stats=json.dumps(stats),
            )
        self._files[cache_key] = files
        if len(self._files) > 256:
            self._files.popitem(last=False)
        return files

    def log_entries(
        self, dataset: str, layer_path: str, after: int, upto: int
    ) -> list[tuple[dict[str, Any], list[dict[str, Any]]]] | None:
        """The commitInfo and file actions of versions ``after+1 .. upto``, or None if any log
        entry is gone. Reading the range costs what changed, never the table's size."""
        out: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        for version in range(after + 1, upto + 1):
            blob = self.store.get(self.key(dataset, layer_path, f"_delta_log/{version:020d}.json"))
            if blob is None:
                return None
            info: dict[str, Any] = {}
            actions: list[dict[str, Any]] = []
            for line in blob.data.splitlines():
                if not line.strip():
                    continue
                entry = json.loads(line)
                if "commitInfo" in entry:
                    info = entry["commitInfo"]
                elif "add" in entry or "remove" in entry:
                    actions.append(entry)
            out.append((info, actions))
        return out

    # -- writing ---------------------------------------------------------------------------------
    def write_files(self, dataset: str, layer_path: str, table: pa.Table) -> list[DataFile]:
        """Write ``table`` as parquet files below the layer root; commit nothing."""
        if table.num_rows == 0:
            return []
        local = self.config.scheme == "file"
        root = self.uri(dataset, layer_path)
        if local:
            with storage_errors("write data files to", root, self.config, writing=True):
                os.makedirs(root, exist_ok=True)
        per_row = max(1, table.nbytes // max(1, table.num_rows))
        step = max(1, TARGET_FILE_BYTES // per_row)
        chunks = [table.slice(i, step) for i in range(0, table.num_rows, step)]

        def write(chunk: pa.Table) -> DataFile:
            name = f"part-{uuid.uuid4()}-c000.snappy.parquet"
            if local:
                pq.write_table(chunk, f"{root}/{name}", compression="snappy")
                size = os.path.getsize(f"{root}/{name}")
            else:
                # One PUT per file: S3 multipart uploads through pyarrow cost 2-3x more here.
                buf = pa.BufferOutputStream()
                pq.write_table(chunk, buf, compression="snappy")
                body = buf.getvalue()
                self.store.put(self.key(dataset, layer_path, name), body.to_pybytes())
                size = body.size
            return DataFile(
                path=name,
                size=int(size),
                rows=chunk.num_rows,
                modification_time=int(time.time() * 1000),
                stats=json.dumps(_column_stats(chunk)),
            )

        with storage_errors("write data files to", root, self.config, writing=True):
            if len(chunks) == 1:
                return [write(chunks[0])]
            with ThreadPoolExecutor(max_workers=min(len(chunks), os.cpu_count() or 2)) as pool:
                return list(pool.map(write, chunks))

    def commit(
        self,
        dataset: str,
        layer_path: str,
        *,
        base: int | None,
        adds: Sequence[DataFile],
        removes: Sequence[DataFile],
        schema: pa.Schema,
        schema_change: SchemaChange,
        metadata: Mapping[str, Any],
        add_prefix: str = "",
    ) -> int:
        """Commit ``adds`` and ``removes`` on top of version ``base`` (None: create the table).

        Returns the new version. ``schema_change='add'`` first adds the schema's new columns;
        ``'replace'`` overwrites the whole layer, schema included (``removes`` must be empty).
        """
        uri = self.uri(dataset, layer_path)
        opts = self.config.delta_options()
        removed_rows = {f.path: f.rows for f in removes}
        custom = {**metadata, "lake.removed": json.dumps(removed_rows)} if removed_rows else dict(metadata)
        props = CommitProperties(custom_metadata=custom, max_commit_retries=0)
        delta_schema = DeltaSchema.from_arrow(schema)
        add_actions: list[AddAction | RemoveAction] = [f.add_action(add_prefix) for f in adds]
        try:
            if base is None:
                create_table_with_add_actions(
                    uri,
                    delta_schema,
                    [a for a in add_actions if isinstance(a, AddAction)],
                    mode="error",
                    configuration=TABLE_CONFIGURATION,
                    storage_options=opts,
                    commit_properties=props,
                    post_commithook_properties=_HOOKS,
                )
                return 0
            loaded = self._latest.pop(uri, None)
            dt = loaded if loaded is not None and loaded.version() == base else self._table(uri, base)
            if schema_change == "replace":
                dt.create_write_transaction(
                    add_actions,
                    mode="overwrite",
                    schema=delta_schema,
                    commit_properties=props,
                    post_commithook_properties=_HOOKS,
                )
                return base + 1
            version = base
            if schema_change == "add":
                current = pa.schema(dt.schema().to_arrow()).names
                new_fields = [f for f in delta_schema.fields if f.name not in current]
                dt.alter.add_columns(
                    new_fields,
                    commit_properties=CommitProperties(custom_metadata=dict(metadata), max_commit_retries=0),
                )
                version += 1
                dt = self._table(uri, version)
            if not add_actions and not removes:
                return version
            removals = [RemoveAction(f.path, True, int(time.time() * 1000), f.size, {}) for f in removes]
            dt.create_write_transaction(
                [*add_actions, *removals],
                mode="append",
                schema=dt.schema(),
                commit_properties=props,
                post_commithook_properties=_HOOKS,
            )
            return version + 1
        except CommitFailedError as exc:
            raise VersionTaken(f"version {0 if base is None else base + 1} of {uri} exists already") from exc
        except DeltaError as exc:
            if base is None and "exists" in str(exc).lower():
                raise VersionTaken(f"the Delta table {uri} exists already") from exc
            fault = storage_error("commit to the Delta table", uri, exc, config=self.config, writing=True)
            raise fault from exc
        except OSError as exc:  # delta-rs's object-store failures (a dropped connection, a timeout)
            fault = storage_error("commit to the Delta table", uri, exc, config=self.config, writing=True)
            raise fault from exc

    def heal(self, dataset: str, layer_path: str, expected: int, metadata: Mapping[str, Any]) -> int:
        """Make the layer's newest version hold exactly the files of version ``expected`` again.

        Versions past ``expected`` were committed by writers that never moved their ref (they
        stopped, or lost the ref race). No lake commit names them, so the next version restores
        the state that the branch does name. Returns the version to build on.
        """
        latest = self.latest_version(dataset, layer_path)
        assert latest is not None and latest >= expected
        if latest == expected:
            return expected
        want = self.files(dataset, Layer(layer_path, expected))
        have = self.files(dataset, Layer(layer_path, latest))
        adds = [f for p, f in want.items() if p not in have]
        removes = [f for p, f in have.items() if p not in want]
        if not adds and not removes:
            return latest
        uri = self.uri(dataset, layer_path)
        schema = pa.schema(self._table(uri, latest).schema().to_arrow())
        return self.commit(
            dataset,
            layer_path,
            base=latest,
            adds=adds,
            removes=removes,
            schema=schema,
            schema_change=None,
            metadata={**metadata, "lake.heal": str(expected)},
        )


def removed_rows(info: Mapping[str, Any]) -> dict[str, int] | None:
    """The rows of each file a lake commit removed, as recorded in its commitInfo."""
    raw = info.get("lake.removed")
    if raw is None:
        return None
    return {str(k): int(v) for k, v in json.loads(raw).items()}


def rows_of(add: Mapping[str, Any]) -> int:
    stats = add.get("stats")
    if not stats:
        return 0
    return int(json.loads(stats).get("numRecords", 0))
