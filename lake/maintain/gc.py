"""``lake gc``: reclaim the space of what no retained commit can reach, and nothing else.

What it deletes, per dataset (paths relative to the dataset root, across all its layers):

* data files of **live layers** (main's, an existing branch's, or one a retained commit names)
  that no Delta version from the oldest version a retained commit names up to the newest one
  references: files of failed attempts (staged, never committed) and files only expired commits
  reach. Versions past the newest named one (in-flight, crashed or foreign writers) keep their
  files; so does every Delta log entry of a live layer;
* **layers of deleted branches** that no retained commit names: their data files (except the
  ones another layer references, as main's table does after a merge), then their log;
* contract and profile objects that no retained commit names, and the per-file summaries
  (``_lake/summaries/``) of data files that are gone: those of the files this run deletes at once.

Nothing younger than the grace period (default one hour) is deleted, so that a writer that
staged files but has not committed them yet is never raced.

**Order.** Storage is listed before the refs are read, so anything written after the listing is
not even a candidate. Then, before anything is deleted, each commit this run expires is marked
(:mod:`lake.maintain.expired`), so that reading it afterwards is a clear error; then data files,
then the logs of dead layers (newest entry first, so a half-deleted log is still a prefix), then
contracts and profiles. Every step deletes only what no retained commit needs, so a gc stopped at
any moment leaves every retained ref readable, and the next gc finishes the work.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lake import kill
from lake.errors import InvalidInputError
from lake.graph.commits import COMMITS, CommitStore
from lake.graph.refs import RefStore
from lake.maintain import expired
from lake.maintain.layout import LayerFolder, data_key, folders, latest, referenced
from lake.maintain.reach import read_heads, retention
from lake.maintain.stored import Stored, delete_keys, list_stored, prune_empty_dirs
from lake.storage import ObjectStore, StorageConfig
from lake.stores.contracts import CONTRACTS
from lake.stores.profiles import PROFILES
from lake.stores.summaries import SUMMARIES, summary_key
from lake.table.deltalog import read_versions
from lake.table.layers import Layers

DEFAULT_OLDER_THAN = timedelta(days=7)
DEFAULT_GRACE = timedelta(hours=1)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")


def parse_duration(text: str | timedelta | float, what: str = "--older-than") -> timedelta:
    """``7d``, ``12h``, ``30m``, ``45s``, ``2w`` (a bare number is seconds), or a timedelta."""
    if isinstance(text, timedelta):
        value = text
    elif isinstance(text, int | float):
        value = timedelta(seconds=text)
    else:
        m = _DURATION.match(text)
        if m is None:
            raise InvalidInputError(
                f"{what} {text!r} is not a duration", hint="write a number and a unit: 30m, 12h, 7d, 2w"
            )
        value = timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2) or "s"])
    if value < timedelta(0):
        raise InvalidInputError(f"{what} cannot be negative ({value})")
    return value


@dataclass(frozen=True)
class Freed:
    files: int = 0
    bytes: int = 0

    def __add__(self, other: Freed) -> Freed:
        return Freed(self.files + other.files, self.bytes + other.bytes)

    def to_dict(self) -> dict[str, int]:
        return {"files": self.files, "bytes": self.bytes}


@dataclass(frozen=True)
class GcResult:
    """What a gc freed (or, for a dry run, would free)."""

    dry_run: bool
    older_than: timedelta
    grace: timedelta
    horizon: str  # commits older than this (and kept by no ref) expire
    retained: int  # commits whose data is kept
    expired: tuple[str, ...]  # commits this run expired (would expire)
    data: Freed  # data files of live layers: failed attempts, files only expired commits reach
    layers: tuple[str, ...]  # deleted branches' layers reclaimed whole, "<dataset>/_branches/<id>"
    layer_files: Freed  # their data files and log entries
    metadata: Freed  # contract and profile objects
    removed: tuple[str, ...]  # every key deleted (would be), relative to the repository root
    skipped: tuple[str, ...]  # datasets left alone, with the reason

    @property
    def total(self) -> Freed:
        return self.data + self.layer_files + self.metadata

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "older_than_seconds": self.older_than.total_seconds(),
            "grace_seconds": self.grace.total_seconds(),
            "horizon": self.horizon,
            "retained_commits": self.retained,
            "expired_commits": list(self.expired),
            ("would_free" if self.dry_run else "freed"): self.total.to_dict(),
            "data_files": self.data.to_dict(),
            "deleted_branch_layers": list(self.layers),
            "deleted_branch_layer_files": self.layer_files.to_dict(),
            "metadata_objects": self.metadata.to_dict(),
            "removed": list(self.removed),
            "skipped": list(self.skipped),
        }


def _freed(items: list[Stored]) -> Freed:
    return Freed(len(items), sum(s.size for s in items))


def _log_order(items: list[Stored]) -> list[Stored]:
    """A dead layer's log, ``_last_checkpoint`` first, then newest entry first: stopped half-way,
    what is left is still a readable prefix of the log."""
    first = [s for s in items if s.key.endswith("_last_checkpoint")]
    return first + sorted((s for s in items if s not in first), key=lambda s: s.key, reverse=True)


def _reclaim(dataset: str, lf: LayerFolder, keep: set[str], cutoff: float) -> tuple[list[Stored], bool]:
    """The layer's data files that nothing kept references and the grace allows to delete, and
    whether the grace held none back."""
    prefix = f"{dataset}/"
    gone = [s for s in lf.data if s.key.removeprefix(prefix) not in keep]
    old = [s for s in gone if s.mtime < cutoff]
    return old, len(old) == len(gone)


def gc(
    commits: CommitStore,
    refs: RefStore,
    layers: Layers,
    store: ObjectStore,
    config: StorageConfig,
    *,
    older_than: timedelta = DEFAULT_OLDER_THAN,
    grace: timedelta = DEFAULT_GRACE,
    dry_run: bool = False,
) -> GcResult:
    now = time.time()
    horizon = datetime.fromtimestamp(now - older_than.total_seconds(), UTC)
    cutoff = now - grace.total_seconds()  # nothing written after this is touched
    listing = list_stored(config)  # storage first: what is written after this is no candidate
    heads = read_heads(refs)
    objects = {
        s.key.removeprefix(COMMITS): s
        for s in listing
        if s.key.startswith(COMMITS) and not s.key.rsplit("/", 1)[-1].startswith(".")
    }
    recent_after = min(horizon.timestamp(), cutoff)
    recent = [cid for cid, s in objects.items() if s.mtime >= recent_after]
    kept = retention(commits, heads, horizon=horizon, recent=recent)
    marked = {s.key.removeprefix(expired.EXPIRED) for s in listing if s.key.startswith(expired.EXPIRED)}
    expiring = sorted(cid for cid in objects if cid not in kept.retained and cid not in marked)

    named = kept.named()
    live_ids = kept.branch_ids
    data: list[Stored] = []
    dead_data: list[Stored] = []
    dead_logs: list[list[Stored]] = []
    dead_names: list[str] = []
    skipped: list[str] = []
    for name, folder in sorted(folders(listing).items()):
        keep: set[str] = set()
        sure = True
        live: list[LayerFolder] = []
        dead: list[LayerFolder] = []
        for lf in folder.layers.values():
            versions = named.get(name, {}).get(lf.path, set())
            if lf.path and lf.branch_id not in live_ids and not versions:
                dead.append(lf)
                continue
            if not versions and _abandoned(layers, name, lf, cutoff):
                dead.append(lf)  # only crashed lake writes made it, and no retained commit names it
                continue
            live.append(lf)
            if not lf.has_log:
                sure = sure and not versions  # a named layer without a log: something is wrong
                continue
            top = latest(layers, name, lf.path)
            refs_ = None if top is None else referenced(layers, name, lf.path, min(versions, default=0), top)
            if refs_ is None:
                sure = False
                continue
            keep |= refs_
        if not sure:
            skipped.append(f"{name}: a layer's Delta log could not be read in full; run 'lake fsck'")
            continue

        for lf in live:
            data.extend(_reclaim(name, lf, keep, cutoff)[0])
        for lf in dead:
            files, whole = _reclaim(name, lf, keep, cutoff)
            dead_data.extend(files)
            rest = [*lf.log, *lf.other]
            if whole and all(s.mtime < cutoff for s in rest):
                dead_logs.append(_log_order(rest))
                dead_names.append(data_key(name, lf.path))

    contracts = kept.contracts()
    profiles = kept.profile_keys()
    deleted = {s.key for s in [*data, *dead_data]}
    parquet = [s.key for s in listing if s.key.endswith(".parquet") and not s.key.startswith("_lake/")]
    # the summaries of the data files that stay (a summary is of one file, keyed by its dataset and
    # its path in the dataset); those of the files deleted now go whatever their age
    summarized = {summary_key(*k.split("/", 1)) for k in parquet if k not in deleted}
    unsummarized = {summary_key(*k.split("/", 1)) for k in parquet if k in deleted}
    metadata = [
        s
        for s in listing
        if (s.mtime < cutoff or s.key in unsummarized)
        and not s.key.rsplit("/", 1)[-1].startswith(".")
        and (
            (s.key.startswith(CONTRACTS) and s.key.removeprefix(CONTRACTS) not in contracts)
            or (s.key.startswith(PROFILES) and s.key not in profiles)
            or (s.key.startswith(SUMMARIES) and s.key not in summarized)
        )
    ]
    by_key = {s.key: s for s in listing}
    locks = [by_key[k] for k in (_lock_of(s.key) for s in metadata) if k in by_key]  # the local store's
    metadata += locks
    logs = [s for group in dead_logs for s in group]
    removed = [*data, *dead_data, *logs, *metadata]
    if not dry_run:
        stamp = datetime.fromtimestamp(now, UTC).isoformat(timespec="microseconds")
        _mark(store, expiring, stamp, horizon.isoformat(timespec="microseconds"))
        kill.point("gc.marked")
        delete_keys(config, [s.key for s in [*data, *dead_data]])
        for group in dead_logs:
            delete_keys(config, [s.key for s in group])
        delete_keys(config, [s.key for s in metadata])
        prune_empty_dirs(config, dead_names)
    return GcResult(
        dry_run=dry_run,
        older_than=older_than,
        grace=grace,
        horizon=horizon.isoformat(timespec="seconds"),
        retained=len(kept.retained),
        expired=tuple(expiring),
        data=_freed(data),
        layers=tuple(dead_names),
        layer_files=_freed([*dead_data, *logs]),
        metadata=_freed(metadata),
        removed=tuple(s.key for s in removed),
        skipped=tuple(skipped),
    )


def _abandoned(layers: Layers, dataset: str, lf: LayerFolder, cutoff: float) -> bool:
    """Whether a layer that no retained commit names was made by lake writers that never moved
    their ref (a write that created the dataset or the branch's layer, and died before its ref
    swap): every version carries a ``lake.txn`` and every object is older than the grace. Another
    engine's table beside the lake's datasets (a version without ``lake.txn``) is never one: the
    first lake write to that name adopts it."""
    if not lf.has_log or any(s.mtime >= cutoff for s in lf.stored()):
        return False
    top = latest(layers, dataset, lf.path)
    if top is None:
        return False
    logged = read_versions(layers.store, layers.key(dataset, lf.path, ""), -1, top)
    return logged is not None and all(not v.foreign for v in logged)


def _lock_of(key: str) -> str:
    """The lock file the local store keeps beside an object it wrote conditionally."""
    folder, _, name = key.rpartition("/")
    return f"{folder}/.{name}.lock"


def _mark(store: ObjectStore, commits: list[str], stamp: str, horizon: str) -> None:
    if not commits:
        return
    with ThreadPoolExecutor(max_workers=min(16, len(commits))) as pool:
        list(pool.map(lambda cid: expired.mark(store, expired.Expiry(cid, stamp, horizon)), commits))
