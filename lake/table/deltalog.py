"""The Delta log entries the lake writes itself, and the ones it reads back.

delta-rs's ``create_write_transaction`` logs every commit as ``WRITE``/``Append`` with
``dataChange: true``, so a delete, an upsert, a merge or a compaction would look like an append in
``DeltaTable.history()`` and in Spark's ``DESCRIBE HISTORY``, and a compaction would look like new
data to a streaming reader. For commits that only add and remove files (no schema or protocol
change), the lake writes the log entry itself, as the protocol defines it
(https://github.com/delta-io/delta/blob/master/PROTOCOL.md, "Actions"): ``commitInfo`` with the
true operation and its parameters, then ``remove`` and ``add`` actions with ``dataChange`` as the
operation means it. The entry is put only if absent (S3 ``If-None-Match``; ``link()`` locally),
so a version number stays a compare-and-swap. Table creation and schema changes still go through
delta-rs, whose ``CREATE TABLE``, ``WRITE`` (overwrite) and ``ADD COLUMNS`` entries are true.

:func:`pending_versions` reads the other way: the versions of a layer past the one the lake names,
with who wrote them and what they did (a lake writer's carry ``lake.txn``; others are *foreign*).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from lake.storage import ObjectStore

ENGINE = "lakegate"
# RFC 2396 path characters that need no escape in an ``add`` path (Spark leaves ``=`` as it is).
_PATH_SAFE = "/=+-_.~!$&'()*,;:@"
# Change.operation -> the Delta operation and the parameters it always carries.
_OPERATIONS: dict[str, tuple[str, dict[str, str]]] = {
    "create": ("WRITE", {"mode": "Append", "partitionBy": "[]"}),
    "append": ("WRITE", {"mode": "Append", "partitionBy": "[]"}),
    "overwrite": ("WRITE", {"mode": "Overwrite", "partitionBy": "[]"}),
    "delete": ("DELETE", {}),
    "upsert": ("MERGE", {}),
    "merge": ("MERGE", {}),
    "revert": ("REVERT", {}),
    "optimize": ("OPTIMIZE", {"predicate": "[]", "zOrderBy": "[]", "auto": "false"}),
    "heal": ("RESTORE", {}),
    "undo": ("RESTORE", {}),
}


@dataclass(frozen=True)
class Operation:
    """What a Delta commit says it did: ``name`` and ``parameters`` as Spark and delta-rs log them
    (every parameter value a string), and whether it changed data (``False``: a compaction, whose
    rows are the same rows in other files)."""

    name: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    data_change: bool = True

    @classmethod
    def of(cls, kind: str, parameters: Mapping[str, str] | None = None) -> Operation:
        """The Delta operation for a lake operation (``Change.operation``)."""
        name, fixed = _OPERATIONS.get(kind, ("WRITE", {"mode": "Append", "partitionBy": "[]"}))
        return cls(name, {**fixed, **(parameters or {})}, data_change=kind != "optimize")


@dataclass(frozen=True)
class FileAction:
    """One file added or removed, as the log records it (``path`` relative to the table root)."""

    path: str
    size: int
    modification_time: int = 0
    stats: str | None = None
    partition: tuple[tuple[str, str | None], ...] = ()  # partitionValues, in the table's order


def entry(
    *,
    read_version: int,
    operation: Operation,
    adds: Sequence[FileAction],
    removes: Sequence[FileAction],
    custom: Mapping[str, Any],
    metadata: Mapping[str, Any] | None = None,
    author: str | None = None,
) -> bytes:
    """The bytes of one Delta log entry (newline-delimited JSON, one action per line)."""
    now = int(time.time() * 1000)
    info: dict[str, Any] = {
        "timestamp": now,
        "operation": operation.name,
        "operationParameters": dict(operation.parameters),
        "readVersion": read_version,
        "isolationLevel": "Serializable",
        "isBlindAppend": operation.name == "WRITE" and not removes and operation.data_change,
        "operationMetrics": {
            "numAddedFiles": str(len(adds)),
            "numRemovedFiles": str(len(removes)),
            "numOutputRows": str(sum(rows_of({"stats": a.stats}) or 0 for a in adds)),
        },
        "engineInfo": ENGINE,
        "clientVersion": f"{ENGINE}-{_version()}",
    }
    if author:
        info["userName"] = author
    info.update(custom)  # the lake's own keys, at the top level as delta-rs puts custom metadata
    lines: list[dict[str, Any]] = [{"commitInfo": info}]
    if metadata is not None:
        lines.append({"metaData": dict(metadata)})
    for f in removes:
        lines.append(
            {
                "remove": {
                    "path": quote(f.path, safe=_PATH_SAFE),
                    "deletionTimestamp": now,
                    "dataChange": operation.data_change,
                    "extendedFileMetadata": True,
                    "partitionValues": dict(f.partition),
                    "size": f.size,
                }
            }
        )
    for f in adds:
        add: dict[str, Any] = {
            "path": quote(f.path, safe=_PATH_SAFE),
            "partitionValues": dict(f.partition),
            "size": f.size,
            "modificationTime": f.modification_time,
            "dataChange": operation.data_change,
        }
        if f.stats is not None:
            add["stats"] = f.stats
        lines.append({"add": add})
    return "".join(json.dumps(line, allow_nan=False) + "\n" for line in lines).encode()


def rows_of(add: Mapping[str, Any]) -> int | None:
    """The row count an add action's stats record, or None when they record none (a file some
    other writer added without stats): never guess 0, which would count the file as empty."""
    stats = add.get("stats")
    if not stats:
        return None
    try:
        records = json.loads(stats).get("numRecords")
    except (ValueError, AttributeError):
        return None
    return int(records) if isinstance(records, int) and not isinstance(records, bool) else None


def removed_rows(info: Mapping[str, Any]) -> dict[str, int] | None:
    """The rows of each file a lake commit removed, as recorded in its commitInfo."""
    raw = info.get("lake.removed")
    if raw is None:
        return None
    return {str(k): int(v) for k, v in json.loads(raw).items()}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lakegate")
    except PackageNotFoundError:
        return "dev"


def log_key(prefix: str, version: int) -> str:
    return f"{prefix}/_delta_log/{version:020d}.json" if prefix else f"_delta_log/{version:020d}.json"


# -- reading back -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoggedVersion:
    """One version of a layer as its log entry tells it."""

    version: int
    info: Mapping[str, Any]
    adds: tuple[Mapping[str, Any], ...]
    removes: tuple[Mapping[str, Any], ...]
    metadata: Mapping[str, Any] | None  # a ``metaData`` action (a schema or property change)
    protocol: Mapping[str, Any] | None  # a ``protocol`` action (new reader or writer features)
    other: tuple[str, ...]  # the kinds of any other action (cdc, domainMetadata, txn ...)
    # Whether the ``metaData`` action changed the schema or the partitioning (None: not known);
    # a change of table properties alone changes no data.
    reschemes: bool | None = None
    weakens: str = ""  # protective table properties the ``metaData`` action changed (see foreign)
    repartitions: bool = False  # whether the ``metaData`` action changed the partition columns

    @property
    def txn(self) -> str | None:
        """The lake transaction that wrote this version; None: another engine did (foreign)."""
        value = self.info.get("lake.txn")
        return str(value) if value else None

    @property
    def foreign(self) -> bool:
        return self.txn is None

    @property
    def operation(self) -> str:
        return str(self.info.get("operation") or "UNKNOWN")

    @property
    def engine(self) -> str:
        return str(self.info.get("engineInfo") or self.info.get("clientVersion") or "an unknown engine")

    @property
    def author(self) -> str | None:
        value = self.info.get("userName") or self.info.get("lake.author")
        return str(value) if value else None

    @property
    def timestamp(self) -> int | None:
        value = self.info.get("timestamp")
        return int(value) if isinstance(value, int | float) else None

    @property
    def data_change(self) -> bool:
        """Whether the version changed rows or the schema: False for a compaction (OPTIMIZE,
        Z-order, any rewrite whose every action says ``dataChange: false``)."""
        if self.protocol is not None or (self.metadata is not None and self.reschemes is not False):
            return True
        actions = (*self.adds, *self.removes)
        return any(a.get("dataChange", True) is not False for a in actions)

    def describe(self) -> str:
        who = f" by {self.author}" if self.author else ""
        return f"version {self.version} ({self.operation}, written by {self.engine}{who})"


def read_versions(store: ObjectStore, prefix: str, after: int, upto: int) -> list[LoggedVersion] | None:
    """The log entries of versions ``after+1 .. upto`` of the table at ``prefix`` (a key prefix of
    ``store``), or None when one of them is gone. Reading the range costs what changed, never the
    table's size; entries are fetched a few at a time."""
    wanted = range(after + 1, upto + 1)
    if len(wanted) <= 1:
        blobs = [store.get(log_key(prefix, v)) for v in wanted]
    else:
        with ThreadPoolExecutor(max_workers=min(16, len(wanted))) as pool:
            blobs = list(pool.map(lambda v: store.get(log_key(prefix, v)), wanted))
    out: list[LoggedVersion] = []
    for version, blob in zip(wanted, blobs, strict=True):
        if blob is None:
            return None
        out.append(_parse(version, blob.data))
    return out


def _parse(version: int, data: bytes) -> LoggedVersion:
    info: dict[str, Any] = {}
    adds: list[Mapping[str, Any]] = []
    removes: list[Mapping[str, Any]] = []
    metadata: Mapping[str, Any] | None = None
    protocol: Mapping[str, Any] | None = None
    other: list[str] = []
    for line in data.splitlines():
        if not line.strip():
            continue
        for kind, body in json.loads(line).items():
            if kind == "commitInfo":
                info = body
            elif kind == "add":
                adds.append(body)
            elif kind == "remove":
                removes.append(body)
            elif kind == "metaData":
                metadata = body
            elif kind == "protocol":
                protocol = body
            else:
                other.append(kind)
    return LoggedVersion(version, info, tuple(adds), tuple(removes), metadata, protocol, tuple(other))
