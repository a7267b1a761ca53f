"""What a repository can still reach, and so what ``lake gc`` keeps.

refs -> commits -> snapshots -> (dataset, layer, version) -> files; plus the contracts and the
profiles the retained commits name.

**Retained commits** are:

* the head of every branch and every tag, whatever its age;
* every commit reachable from a branch or a tag that is newer than the horizon
  (``now - older_than``);
* every commit object written after the horizon that no ref reaches yet (an in-flight writer's
  next head, or the history of a branch deleted within the retention);
* the merge base of every branch with every other branch and tag, so that a later merge can
  still read the rows both sides changed.

A retained commit keeps its data and that of its parents (a revert of it reads the rows it
replaced). Every other commit *expires*: its object stays (``lake log`` walks through it), its
files may be reclaimed, and naming it is an error (:mod:`lake.maintain.expired`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from lake.errors import StorageError
from lake.graph.commits import Commit, CommitStore
from lake.graph.history import merge_base
from lake.graph.refs import Kind, RefStore
from lake.stores.profiles import snapshot_key


@dataclass(frozen=True)
class Head:
    kind: Kind
    name: str
    commit: str
    branch_id: str | None


@dataclass(frozen=True)
class Retention:
    horizon: datetime
    heads: tuple[Head, ...]
    reachable: Mapping[str, Commit]  # every commit some ref reaches, at any age
    retained: frozenset[str]
    keep_data: Mapping[str, Commit]  # the retained commits and their parents

    @property
    def branch_ids(self) -> dict[str, str]:
        """The layer id of each live branch -> the branch's name."""
        return {h.branch_id: h.name for h in self.heads if h.kind == "branch" and h.branch_id}

    def named(self) -> dict[str, dict[str, set[int]]]:
        """dataset -> layer path -> the versions of it that commits whose data is kept name."""
        out: dict[str, dict[str, set[int]]] = {}
        for commit in self.keep_data.values():
            for name, snap in commit.datasets.items():
                for layer in snap.layers:
                    out.setdefault(name, {}).setdefault(layer.path, set()).add(layer.version)
        return out

    def contracts(self) -> set[str]:
        return {h for c in self.keep_data.values() for h in c.contracts.values()}

    def profile_keys(self) -> set[str]:
        return {snapshot_key(n, s) for c in self.keep_data.values() for n, s in c.datasets.items()}


def read_heads(refs: RefStore) -> tuple[Head, ...]:
    """Every branch and tag with the commit it names. A ref that does not parse stops the caller:
    without it, nobody can say what it keeps."""
    out: list[Head] = []
    kinds: tuple[Kind, ...] = ("branch", "tag")
    for kind in kinds:
        for name in sorted(refs.names(kind)):
            try:
                ref = refs.get(name, kind)
            except (ValueError, KeyError, TypeError) as exc:
                raise StorageError(
                    f"the {kind} {name!r} does not parse ({exc}), so what it keeps is unknown",
                    hint="run 'lake fsck' and repair or delete the ref before gc",
                ) from exc
            if ref is not None:
                out.append(Head(kind, name, ref.commit, ref.branch_id))
    return tuple(out)


def history(commits: CommitStore, starts: Iterable[str]) -> dict[str, Commit]:
    """Every commit reachable from ``starts`` (all of history: commit objects are small)."""
    seen: dict[str, Commit] = {}
    todo = list(starts)
    while todo:
        cid = todo.pop()
        if cid in seen:
            continue
        commit = commits.get(cid)
        seen[cid] = commit
        todo.extend(p for p in commit.parents if p not in seen)
    return seen


def retention(
    commits: CommitStore, heads: tuple[Head, ...], *, horizon: datetime, recent: Iterable[str] = ()
) -> Retention:
    """What a gc with this ``horizon`` keeps. ``recent``: commit objects written after the horizon
    (by their storage time), reachable or not."""
    tips = {h.commit for h in heads}
    reachable = history(commits, tips)
    retained = set(tips)
    retained.update(cid for cid, c in reachable.items() if c.timestamp >= horizon)
    retained.update(recent)
    branches = {h.commit for h in heads if h.kind == "branch"}
    pairs = {(min(a, b), max(a, b)) for a in branches for b in tips if a != b}
    for a, b in sorted(pairs):
        base = merge_base(commits, a, b)
        if base is not None:
            retained.add(base)
    keep = {cid: reachable.get(cid) or commits.get(cid) for cid in retained}
    for cid in list(keep):
        for parent in keep[cid].parents:
            if parent not in keep:
                keep[parent] = reachable.get(parent) or commits.get(parent)
    return Retention(horizon, heads, reachable, frozenset(retained), keep)
