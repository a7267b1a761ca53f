"""Immutable, content-addressed commit objects and the per-dataset snapshots they hold.

A dataset's snapshot is a stack of Delta tables ("layers"), each pinned at a version, less the
files this line of history has removed from the layers below its own ("shadowed"):

* main's layer is the dataset's root Delta table (``path == ""``), which any Delta reader opens;
* a branch that writes the dataset gets its own layer, ``_branches/<branch-id>``, below that root,
  so that a later merge into main can reference its files by relative path (zero copy).

Files are named by their path relative to the dataset root, which is unique across layers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lake.errors import RefNotFoundError
from lake.graph.objects import ContentStore
from lake.storage import ObjectStore

COMMITS = "_lake/commits/"


@dataclass(frozen=True)
class Layer:
    """One Delta table of a snapshot, at one version. ``path`` is relative to the dataset root."""

    path: str
    version: int

    def to_json(self) -> dict[str, Any]:
        """The layer's ``path`` and ``version``, as a commit stores them."""
        return {"path": self.path, "version": self.version}


@dataclass(frozen=True)
class Snapshot:
    """What a dataset is at one commit: its layers, the files hidden from them, its schema."""

    layers: tuple[Layer, ...]
    schema: Mapping[str, Any]  # Delta schema JSON (the "struct" object)
    rows: int
    files: int
    shadowed: Mapping[str, int] = field(default_factory=dict)  # path -> rows
    partition_by: tuple[str, ...] = ()  # the partition columns of every layer's Delta table

    def layer(self, path: str) -> Layer | None:
        """The layer at ``path`` (``""`` is main's, the dataset root), or None when there is none."""
        return next((lay for lay in self.layers if lay.path == path), None)

    def to_json(self) -> dict[str, Any]:
        """The snapshot as a commit stores it (``partition_by`` only when it is partitioned)."""
        return {
            "layers": [lay.to_json() for lay in self.layers],
            "schema": dict(self.schema),
            "rows": self.rows,
            "files": self.files,
            "shadowed": dict(sorted(self.shadowed.items())),
            # only when partitioned: an unpartitioned snapshot keeps the id it always had
            **({"partition_by": list(self.partition_by)} if self.partition_by else {}),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Snapshot:
        """The snapshot a :meth:`to_json` object describes."""
        return cls(
            layers=tuple(Layer(lay["path"], int(lay["version"])) for lay in raw["layers"]),
            schema=raw["schema"],
            rows=int(raw["rows"]),
            files=int(raw["files"]),
            shadowed={str(k): int(v) for k, v in raw.get("shadowed", {}).items()},
            partition_by=tuple(str(c) for c in raw.get("partition_by", ())),
        )


@dataclass(frozen=True)
class DatasetChange:
    """What one commit did to one dataset, recorded so that ``log`` and ``show`` need no scan."""

    operation: str
    rows_added: int = 0
    rows_removed: int = 0
    files_added: int = 0
    files_removed: int = 0

    def to_json(self) -> dict[str, Any]:
        """The operation and its counts of rows and files added and removed."""
        return {
            "operation": self.operation,
            "rows_added": self.rows_added,
            "rows_removed": self.rows_removed,
            "files_added": self.files_added,
            "files_removed": self.files_removed,
        }


@dataclass(frozen=True)
class Commit:
    """One commit: immutable and named by the SHA-256 of its content (:attr:`id`). ``parents``
    are the ids it follows (none for the first commit, two for a merge); ``datasets`` holds every
    dataset's snapshot, ``changes`` what it did to each dataset it changed, and ``contracts`` the
    hash of the contract in force for each dataset that has one. ``metadata`` records what made
    it, for example a merge and its gate's verdict, or a revert."""

    parents: tuple[str, ...]
    author: str
    time: str  # ISO 8601, UTC
    message: str
    datasets: Mapping[str, Snapshot]
    changes: Mapping[str, DatasetChange] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    contracts: Mapping[str, str] = field(default_factory=dict)  # dataset -> contract hash

    def to_json(self) -> dict[str, Any]:
        """The commit as JSON-ready data, as it is stored."""
        return {
            "contracts": dict(sorted(self.contracts.items())),
            "parents": list(self.parents),
            "author": self.author,
            "time": self.time,
            "message": self.message,
            "metadata": dict(self.metadata),
            "changes": {k: v.to_json() for k, v in sorted(self.changes.items())},
            "datasets": {k: v.to_json() for k, v in sorted(self.datasets.items())},
        }

    def encode(self) -> bytes:
        """The stored bytes: :meth:`to_json` with sorted keys and no spaces, so equal commits
        encode alike."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()

    @property
    def id(self) -> str:
        """The commit's id: the SHA-256 of :meth:`encode`, in hex."""
        return hashlib.sha256(self.encode()).hexdigest()

    @property
    def timestamp(self) -> datetime:
        """``time`` as a timezone-aware datetime (UTC)."""
        return datetime.fromisoformat(self.time)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Commit:
        """The commit a :meth:`to_json` object describes (keys it lacks take their defaults)."""
        return cls(
            parents=tuple(raw["parents"]),
            author=raw["author"],
            time=raw["time"],
            message=raw["message"],
            metadata=raw.get("metadata", {}),
            changes={k: DatasetChange(**v) for k, v in raw.get("changes", {}).items()},
            datasets={k: Snapshot.from_json(v) for k, v in raw["datasets"].items()},
            contracts=dict(raw.get("contracts", {})),
        )


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class CommitStore:
    """Reads and writes commit objects under ``_lake/commits/<sha256 of the object>``."""

    def __init__(self, store: ObjectStore) -> None:
        self._objects: ContentStore[Commit] = ContentStore(
            store,
            COMMITS,
            kind="commit",
            key_of=lambda commit: commit.id,
            encode=lambda commit: commit.encode(),
            decode=lambda data, _key: Commit.from_json(json.loads(data)),
            verify=lambda key, data, _commit: hashlib.sha256(data).hexdigest() == key,
        )

    def put(self, commit: Commit) -> str:
        return self._objects.put(commit)

    def get(self, cid: str) -> Commit:
        return self._objects.get(cid)

    def expand(self, prefix: str) -> str | None:
        """The one commit id that starts with ``prefix`` (at least 4 hex digits), or None."""
        if len(prefix) < 4 or any(c not in "0123456789abcdef" for c in prefix):
            return None
        if len(prefix) == 64:
            return prefix if self._objects.exists(prefix) else None
        matches = self._objects.keys(prefix)
        if len(matches) > 1:
            raise RefNotFoundError(
                f"commit prefix {prefix} is ambiguous: it matches {len(matches)} commits",
                hint="give more digits of the commit id",
            )
        return matches[0] if matches else None
