"""``lake fsck``: check that everything the lake names is there, and list what nothing names.

Checks (each failure is a :class:`Problem`):

* every branch and tag parses and names a commit that exists;
* every commit, contract, profile and layer-owner object parses (commits and contracts hash to
  their id), and the parents and contracts a commit names exist;
* every file the Delta layers hold at each version a live commit names exists (live: reachable
  from a ref and not expired by gc), and the log entries for those versions are there.

Lists (each makes the repository not clean, exit 1):

* the Delta versions of each branch's own layers past the version its head names, classified as
  **foreign** (no ``lake.txn`` in commitInfo: another engine wrote it) or **orphaned** (a lake
  writer that has not moved its ref, or died before it did);
* **orphan files**: data files no Delta version of any layer of the dataset references, older
  than the grace period (a writer that staged files and stopped; ``lake gc`` reclaims them).

Describes (not problems): each ``<dataset>/_branches/<id>`` folder with the branch it belongs or
belonged to (:mod:`lake.maintain.owners`), and layers whose table properties let a default
VACUUM delete files (tables created before the lake set them) as warnings.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from lake.errors import LakeError
from lake.graph.commits import COMMITS, Commit, CommitStore
from lake.graph.refs import Kind, RefStore
from lake.maintain import expired, owners
from lake.maintain.layout import (
    DatasetFolder,
    LayerFolder,
    data_key,
    files_at,
    folders,
    latest,
    relative,
    versions,
)
from lake.maintain.stored import Stored, list_stored
from lake.storage import ObjectStore, StorageConfig
from lake.stores.contracts import CONTRACTS, ContractStore
from lake.stores.profiles import PROFILES
from lake.table import foreign
from lake.table.layers import TABLE_CONFIGURATION, Layers
from lake.validation.profile import Profile

T = TypeVar("T")
VACUUM_SAFE = ("delta.deletedFileRetentionDuration", "delta.logRetentionDuration")
_SAMPLE = 5


@dataclass(frozen=True)
class Problem:
    """Something the lake names that is missing or broken."""

    kind: Literal["ref", "commit", "contract", "profile", "owner", "log", "file", "vacuum"]
    where: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "where": self.where, "message": self.message}


@dataclass(frozen=True)
class UnnamedVersion:
    """A Delta version of a branch's own layer past the version the branch's head names."""

    dataset: str
    layer: str  # "" for main's table
    branch: str
    named: int | None  # the version the head names (None: the head names no version of it)
    version: int
    kind: Literal["foreign", "orphaned"]  # another engine's, or a lake writer's without a commit
    operation: str
    engine: str
    txn: str | None
    data_change: bool

    def describe(self) -> str:
        where = self.dataset + (f" ({self.layer})" if self.layer else "")
        who = f"lake transaction {self.txn}" if self.txn else f"written by {self.engine}"
        what = "a foreign" if self.kind == "foreign" else "an orphaned lake"
        return f"{where}: version {self.version} is {what} version ({self.operation}, {who})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "layer": self.layer,
            "branch": self.branch,
            "named_version": self.named,
            "version": self.version,
            "kind": self.kind,
            "operation": self.operation,
            "engine": self.engine,
            "txn": self.txn,
            "data_change": self.data_change,
        }


@dataclass(frozen=True)
class OrphanFile:
    """A data file that no Delta version of its dataset references."""

    dataset: str
    path: str  # relative to the dataset root
    size: int
    modified: str

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "path": self.path, "size": self.size, "modified": self.modified}


@dataclass(frozen=True)
class BranchLayer:
    """A ``<dataset>/_branches/<id>`` folder and the branch it belongs (or belonged) to."""

    dataset: str
    layer: str
    status: Literal["live", "deleted", "unknown"]
    branch: str | None
    created_from: str | None
    created: str | None
    files: int
    bytes: int
    has_log: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "layer": self.layer,
            "status": self.status,
            "branch": self.branch,
            "created_from": self.created_from,
            "created": self.created,
            "files": self.files,
            "bytes": self.bytes,
            "has_log": self.has_log,
        }


@dataclass(frozen=True)
class FsckResult:
    checked: Mapping[str, int]  # what was checked, by kind
    problems: tuple[Problem, ...]
    unnamed: tuple[UnnamedVersion, ...]
    orphans: tuple[OrphanFile, ...]
    layers: tuple[BranchLayer, ...]
    warnings: tuple[Problem, ...] = field(default=())

    @property
    def foreign(self) -> tuple[UnnamedVersion, ...]:
        return tuple(u for u in self.unnamed if u.kind == "foreign")

    @property
    def orphaned(self) -> tuple[UnnamedVersion, ...]:
        return tuple(u for u in self.unnamed if u.kind == "orphaned")

    @property
    def clean(self) -> bool:
        return not (self.problems or self.unnamed or self.orphans)

    def to_dict(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "checked": dict(self.checked),
            "problems": [p.to_dict() for p in self.problems],
            "foreign_versions": [u.to_dict() for u in self.foreign],
            "orphaned_versions": [u.to_dict() for u in self.orphaned],
            "orphan_files": [o.to_dict() for o in self.orphans],
            "branch_layers": [b.to_dict() for b in self.layers],
            "warnings": [w.to_dict() for w in self.warnings],
        }


def _sample(items: list[str]) -> str:
    shown = ", ".join(items[:_SAMPLE])
    return shown + (f" ... and {len(items) - _SAMPLE} more" if len(items) > _SAMPLE else "")


def _iso(mtime: float) -> str:
    return datetime.fromtimestamp(mtime, UTC).isoformat(timespec="seconds")


def _parallel(fn: Callable[[str], T], keys: list[str]) -> list[tuple[str, T | Exception]]:
    """``fn`` over ``keys`` a few at a time; each result, or the error it raised."""

    def one(key: str) -> tuple[str, T | Exception]:
        try:
            return key, fn(key)
        except Exception as exc:  # reported as a problem with the object, whatever it was
            return key, exc

    if not keys:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(keys))) as pool:
        return list(pool.map(one, keys))


def _why(exc: Exception) -> str:
    return exc.message if isinstance(exc, LakeError) else f"{type(exc).__name__}: {exc}"


class _Fsck:
    def __init__(
        self,
        commits: CommitStore,
        refs: RefStore,
        layers: Layers,
        contracts: ContractStore,
        store: ObjectStore,
        config: StorageConfig,
        default_branch: str,
        grace: timedelta,
    ) -> None:
        self.commits, self.refs, self.layers = commits, refs, layers
        self.contracts, self.store, self.config = contracts, store, config
        self.default_branch = default_branch
        self.cutoff = time.time() - grace.total_seconds()
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.checked: dict[str, int] = {}
        self.listing = list_stored(config)
        self.keys = {s.key for s in self.listing}

    def under(self, prefix: str) -> list[Stored]:
        return [s for s in self.listing if s.key.startswith(prefix) and not _hidden(s.key)]

    # -- objects ---------------------------------------------------------------------------------
    def heads(self) -> list[tuple[Kind, str, str, str | None]]:
        out: list[tuple[Kind, str, str, str | None]] = []
        kinds: tuple[Kind, ...] = ("branch", "tag")
        for kind in kinds:
            names = sorted(self.refs.names(kind))
            self.checked[f"{kind}es" if kind == "branch" else "tags"] = len(names)
            for name in names:
                try:
                    ref = self.refs.get(name, kind)
                except (ValueError, KeyError, TypeError) as exc:
                    self.problems.append(Problem("ref", f"{kind} {name}", f"does not parse: {exc}"))
                    continue
                if ref is not None:
                    out.append((kind, name, ref.commit, ref.branch_id))
        return out

    def load_commits(self, heads: list[tuple[Kind, str, str, str | None]]) -> dict[str, Commit]:
        stored = [s.key.removeprefix(COMMITS) for s in self.under(COMMITS)]
        loaded: dict[str, Commit] = {}
        for cid, got in _parallel(self.commits.get, stored):
            if isinstance(got, Exception):
                self.problems.append(Problem("commit", cid[:12], f"does not parse or verify: {_why(got)}"))
            else:
                loaded[cid] = got
        self.checked["commits"] = len(stored)
        for kind, name, cid, _ in heads:
            if cid not in loaded and cid not in stored:
                self.problems.append(
                    Problem("ref", f"{kind} {name}", f"names commit {cid[:12]}, which is missing")
                )
        for cid, commit in loaded.items():
            for parent in commit.parents:
                if parent not in loaded and parent not in stored:
                    self.problems.append(
                        Problem("commit", cid[:12], f"names parent {parent[:12]}, which is missing")
                    )
        return loaded

    def check_contracts(self, live: Mapping[str, Commit]) -> None:
        stored = [s.key.removeprefix(CONTRACTS) for s in self.under(CONTRACTS)]
        for key, got in _parallel(self.contracts.get, stored):
            if isinstance(got, Exception):
                self.problems.append(Problem("contract", key[:12], f"does not parse or verify: {_why(got)}"))
        self.checked["contracts"] = len(stored)
        have = set(stored)
        for cid, commit in sorted(live.items()):
            for dataset, key in sorted(commit.contracts.items()):
                if key not in have:
                    self.problems.append(
                        Problem(
                            "contract", key[:12], f"commit {cid[:12]} names it for {dataset}; it is missing"
                        )
                    )
                    have.add(key)  # once per contract

    def check_profiles(self) -> None:
        def parse(key: str) -> Profile:
            blob = self.store.get(key)
            if blob is None:
                raise LakeError("it vanished while fsck ran")
            return Profile.from_json(json.loads(blob.data))

        stored = [s.key for s in self.under(PROFILES)]
        for key, got in _parallel(parse, stored):
            if isinstance(got, Exception):
                self.problems.append(Problem("profile", key, f"does not parse: {_why(got)}"))
        self.checked["profiles"] = len(stored)

    def check_owners(self) -> None:
        stored = [s.key for s in self.under(owners.OWNERS)]
        for key in stored:
            branch_id = key.removeprefix(owners.OWNERS).removesuffix(".json")
            if owners.read(self.store, branch_id) is None:
                self.problems.append(Problem("owner", key, "the record of a branch layer does not parse"))
        self.checked["layer_records"] = len(stored)

    # -- data ------------------------------------------------------------------------------------
    def check_layer(
        self,
        dataset: str,
        lf: LayerFolder,
        named: Mapping[int, str],
        references: set[str],
        orphan_check: list[bool],
    ) -> None:
        """Replay one layer's log: check the files of every version a live commit names, collect
        what any version references, and the table's properties."""
        top = latest(self.layers, dataset, lf.path) if lf.has_log else None
        where = dataset + (f" ({lf.path})" if lf.path else "")
        if top is None:
            if named:
                cid = next(iter(named.values()))
                self.problems.append(
                    Problem("log", where, f"commit {cid[:12]} names this layer, whose Delta log is missing")
                )
            return
        entries = versions(self.layers, dataset, lf.path, -1, top)
        if entries is None:
            orphan_check[0] = False  # without every entry, "referenced by no version" is unknowable
            self.warnings.append(
                Problem("log", where, "early log entries are gone (cleaned up by another engine?)")
            )
            for version, cid in sorted(named.items()):
                try:
                    self.check_files(
                        dataset, where, version, cid, files_at(self.layers, dataset, lf.path, version)
                    )
                except Exception as exc:  # delta-rs cannot load that version
                    self.problems.append(
                        Problem("log", where, f"version {version} (named by {cid[:12]}) does not load: {exc}")
                    )
            return
        state: set[str] = set()
        configuration: Mapping[str, Any] = {}
        for v in entries:
            if v.metadata is not None:
                configuration = v.metadata.get("configuration") or {}
            for r in v.removes:
                rel = relative(self.layers, dataset, lf.path, str(r.get("path", "")))
                state.discard(rel or "")
            for a in v.adds:
                rel = relative(self.layers, dataset, lf.path, str(a.get("path", "")))
                if rel is not None:
                    state.add(rel)
                    references.add(rel)
            if v.version in named:
                self.check_files(dataset, where, v.version, named[v.version], state)
        for version, cid in named.items():
            if version > top:
                self.problems.append(
                    Problem("log", where, f"commit {cid[:12]} names version {version}; the log ends at {top}")
                )
        unsafe = [k for k in VACUUM_SAFE if configuration.get(k) != TABLE_CONFIGURATION.get(k)]
        if unsafe and TABLE_CONFIGURATION.get(unsafe[0]):
            self.warnings.append(
                Problem(
                    "vacuum",
                    where,
                    f"the table does not set {', '.join(unsafe)} as the lake does: a default VACUUM by "
                    "another engine may delete files that branches, tags and older commits need",
                )
            )

    def check_files(self, dataset: str, where: str, version: int, cid: str, files: set[str]) -> None:
        self.checked["files"] = self.checked.get("files", 0) + len(files)
        missing = sorted(f for f in files if data_key(dataset, f) not in self.keys)
        if missing:
            self.problems.append(
                Problem(
                    "file",
                    where,
                    f"{len(missing)} file(s) of version {version}, which commit {cid[:12]} names, are "
                    f"missing: {_sample(missing)}",
                )
            )

    def unnamed(
        self,
        heads: list[tuple[Kind, str, str, str | None]],
        loaded: Mapping[str, Commit],
        found: Mapping[str, DatasetFolder],
    ) -> list[UnnamedVersion]:
        out: list[UnnamedVersion] = []
        for kind, name, cid, branch_id in heads:
            head = loaded.get(cid)
            if kind != "branch" or head is None:
                continue
            own = "" if name == self.default_branch else f"_branches/{branch_id}"
            datasets = set(head.datasets) | {
                d for d, folder in found.items() if own in folder.layers and folder.layers[own].has_log
            }
            for dataset in sorted(datasets):
                snap = head.datasets.get(dataset)
                mine = snap.layer(own) if snap is not None else None
                named = mine.version if mine is not None else None
                try:
                    pending = foreign.scan(self.layers, dataset, own, named)
                except Exception as exc:  # a log delta-rs cannot load
                    self.problems.append(
                        Problem("log", dataset, f"the layer {own or 'of main'} does not load: {exc}")
                    )
                    continue
                if pending is None:
                    continue
                if pending.versions is None:
                    self.problems.append(
                        Problem(
                            "log", dataset, f"log entries after version {named} are gone ({own or 'main'})"
                        )
                    )
                    continue
                for v in pending.versions:
                    out.append(
                        UnnamedVersion(
                            dataset=dataset,
                            layer=own,
                            branch=name,
                            named=named,
                            version=v.version,
                            kind="foreign" if v.foreign else "orphaned",
                            operation=v.operation,
                            engine=v.engine,
                            txn=v.txn,
                            data_change=v.data_change,
                        )
                    )
        return out


def _hidden(key: str) -> bool:
    return key.rsplit("/", 1)[-1].startswith(".")


def fsck(
    layers: Layers, store: ObjectStore, config: StorageConfig, *, default_branch: str, grace: timedelta
) -> FsckResult:
    """Check the repository in ``store``. Objects are read afresh (never from a cache a
    repository kept), so what is checked is what storage holds."""
    run = _Fsck(
        CommitStore(store),
        RefStore(store),
        layers,
        ContractStore(store),
        store,
        config,
        default_branch,
        grace,
    )
    heads = run.heads()
    loaded = run.load_commits(heads)
    marked = {s.key.removeprefix(expired.EXPIRED) for s in run.under(expired.EXPIRED)}
    live: dict[str, Commit] = {}
    todo = [cid for _, _, cid, _ in heads]
    while todo:
        cid = todo.pop()
        if cid in live or cid not in loaded:
            continue
        if cid not in marked:
            live[cid] = loaded[cid]
        todo.extend(loaded[cid].parents)
    run.checked["live_commits"] = len(live)
    run.check_contracts(live)
    run.check_profiles()
    run.check_owners()

    named: dict[tuple[str, str], dict[int, str]] = {}
    for cid, commit in sorted(live.items()):
        for dataset, snap in commit.datasets.items():
            for layer in snap.layers:
                named.setdefault((dataset, layer.path), {}).setdefault(layer.version, cid)
    found = folders(run.listing)
    for dataset, path in sorted(named):
        folder = found.setdefault(dataset, DatasetFolder(dataset))
        folder.layers.setdefault(path, LayerFolder(path))

    orphans: list[OrphanFile] = []
    branch_layers: list[BranchLayer] = []
    live_ids = {branch_id: name for kind, name, _, branch_id in heads if kind == "branch" and branch_id}
    for dataset, folder in sorted(found.items()):
        references: set[str] = set()
        orphan_check = [True]
        for path, lf in sorted(folder.layers.items()):
            run.check_layer(dataset, lf, named.get((dataset, path), {}), references, orphan_check)
            if path:
                branch_layers.append(_owner(run.store, dataset, lf, live_ids))
        if orphan_check[0]:
            for lf in folder.layers.values():
                for s in lf.data:
                    rel = s.key.removeprefix(f"{dataset}/")
                    if rel not in references and s.mtime < run.cutoff:
                        orphans.append(OrphanFile(dataset, rel, s.size, _iso(s.mtime)))
    unnamed = run.unnamed(heads, loaded, found)
    run.checked["layers"] = sum(len(f.layers) for f in found.values())
    return FsckResult(
        checked=run.checked,
        problems=tuple(run.problems),
        unnamed=tuple(unnamed),
        orphans=tuple(sorted(orphans, key=lambda o: (o.dataset, o.path))),
        layers=tuple(branch_layers),
        warnings=tuple(run.warnings),
    )


def _owner(store: ObjectStore, dataset: str, lf: LayerFolder, live_ids: Mapping[str, str]) -> BranchLayer:
    branch_id = lf.branch_id or ""
    record = owners.read(store, branch_id)
    status: Literal["live", "deleted", "unknown"] = (
        "live" if branch_id in live_ids else "deleted" if record is not None else "unknown"
    )
    stored = lf.stored()
    return BranchLayer(
        dataset=dataset,
        layer=lf.path,
        status=status,
        branch=live_ids.get(branch_id) or (record.branch if record else None),
        created_from=record.created_from if record else None,
        created=record.created if record else None,
        files=len(stored),
        bytes=sum(s.size for s in stored),
        has_log=lf.has_log,
    )
