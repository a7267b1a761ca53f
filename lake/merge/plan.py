"""Merges of branches: what a merge decides before it commits, once, for the gate to judge and
the merge to carry out.

Per dataset the merge is three-way against the merge base (the most recent common ancestor),
planned by :func:`lake.table.threeway.plan_dataset` with the primary key chosen here, once: the
target's contract's, else the source's. The plans carry that key to the commit, which plans
again by the same key if the target moves meanwhile. Contracts merge per dataset (a side that
changed one wins; both changing it differently is a conflict).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lake import progress
from lake.errors import MergeConflictError as MergeConflictError  # defined in lake.errors
from lake.graph.commits import Commit, CommitStore
from lake.graph.history import merge_base, rule_changes
from lake.graph.refs import Ref
from lake.stores.contracts import ContractStore
from lake.table.layers import Layers
from lake.table.threeway import MAX_KEYS as MAX_KEYS
from lake.table.threeway import Conflict as Conflict
from lake.table.threeway import DatasetPlan as DatasetPlan
from lake.table.threeway import KeyConflict as KeyConflict
from lake.table.threeway import Strategy as Strategy
from lake.table.threeway import plan_dataset as plan_dataset


@dataclass(frozen=True)
class TargetRules:
    """The rules of the branch merged into, and the commits that changed them since the fork."""

    protected: bool = False
    require_contracts: bool = False
    changes: tuple[tuple[str, Commit], ...] = ()  # (commit id, commit) with lake.protection


@dataclass(frozen=True)
class PreparedMerge:
    """Everything a merge decides before it commits, computed once and shared by the gate (which
    judges it) and the merge (which carries it out)."""

    source: str
    target: str
    source_id: str
    target_id: str
    base_id: str | None
    source_commit: Commit
    target_commit: Commit
    base: Commit | None
    plans: Mapping[str, DatasetPlan]
    contracts: Mapping[str, str]  # the target's contracts after the merge
    conflicts: tuple[Conflict, ...]  # contract conflicts and dataset conflicts
    rules: TargetRules = field(default_factory=TargetRules)

    @property
    def up_to_date(self) -> bool:
        return self.base_id == self.source_id


def merged_contracts(
    base: Commit | None, source: Commit, target: Commit
) -> tuple[dict[str, str], list[Conflict]]:
    out = dict(target.contracts)
    conflicts: list[Conflict] = []
    b = base.contracts if base else {}
    for name in set(source.contracts) | set(target.contracts):
        s, t, o = source.contracts.get(name), target.contracts.get(name), b.get(name)
        if s == t or s == o:
            continue
        if t == o:
            if s is None:
                out.pop(name, None)
            else:
                out[name] = s
        else:
            conflicts.append(Conflict(name, "both sides changed the dataset's contract differently"))
    return out, conflicts


def merge_key(contracts: ContractStore, name: str, source: Commit, target: Commit) -> tuple[str, ...]:
    """The primary key rows of ``name`` merge by: the target's contract's, else the source's."""
    chosen = target.contracts.get(name) or source.contracts.get(name)
    return tuple(contracts.get(chosen).primary_key) if chosen else ()


def prepare_merge(
    commits: CommitStore,
    contracts: ContractStore,
    layers: Layers,
    *,
    source: str,
    source_id: str,
    target: Ref,
    strategy: Strategy,
) -> PreparedMerge:
    """Plan merging the commit ``source_id`` (named ``source``) into the branch ``target``."""
    t_id = target.commit
    base_id = merge_base(commits, source_id, t_id)
    rules = TargetRules(target.protected, target.require_contracts, rule_changes(commits, t_id, base_id))
    s_commit, t_commit = commits.get(source_id), commits.get(t_id)
    base = commits.get(base_id) if base_id else None
    plans: dict[str, DatasetPlan] = {}
    merged: dict[str, str] = dict(t_commit.contracts)
    conflicts: list[Conflict] = []
    if base_id != source_id:
        merged, conflicts = merged_contracts(base, s_commit, t_commit)
        names = sorted({n for c in (s_commit, t_commit) for n in (*c.datasets, *c.contracts)})
        for i, n in enumerate(names, 1):
            progress.advance("merge", i - 1, len(names), "datasets planned", n)
            plans[n] = plan_dataset(
                layers,
                n,
                base.datasets.get(n) if base else None,
                s_commit.datasets.get(n),
                t_commit.datasets.get(n),
                primary_key=merge_key(contracts, n, s_commit, t_commit),
                strategy=strategy,
            )
        conflicts += [c for p in plans.values() for c in p.conflicts]
    return PreparedMerge(
        source=source,
        target=target.name,
        source_id=source_id,
        target_id=t_id,
        base_id=base_id,
        source_commit=s_commit,
        target_commit=t_commit,
        base=base,
        plans=plans,
        contracts=merged,
        conflicts=tuple(conflicts),
        rules=rules,
    )
