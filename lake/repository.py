"""The public Python API: a repository of datasets with branches, tags, commits and diffs.

A write is two atomic steps: one Delta commit per touched dataset (each at exactly the version
after the one the branch names), then one compare-and-swap of the branch ref. Readers go
through refs, so they see a write whole or not at all.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import json
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import polars as pl
import pyarrow as pa

from lake.contracts import Contract
from lake.contracts.infer import infer_contract
from lake.errors import (
    AmbiguousRefError,
    ConcurrentUpdateError,
    DatasetNotFoundError,
    InvalidInputError,
    LakeError,
    NotARepositoryError,
    RefExistsError,
    RefNotFoundError,
    RefusedError,
    RepositoryExistsError,
)
from lake.graph.commits import Commit, CommitStore, DatasetChange, Snapshot, now_utc
from lake.graph.history import merge_base, rule_changes, walk
from lake.graph.names import (
    QUARANTINE_SUFFIX,
    case_clash,
    check_readable_dataset_name,
    check_ref_name,
    is_quarantine,
)
from lake.graph.refs import Kind, Ref, RefStore
from lake.merge.gate import evaluate
from lake.merge.plan import (
    Conflict,
    DatasetPlan,
    MergeConflictError,
    PreparedMerge,
    Strategy,
    TargetRules,
    merged_contracts,
    plan_dataset,
)
from lake.results import BranchInfo, CommitInfo, DatasetInfo, MergeResult, TagInfo, WriteResult
from lake.storage import ObjectStore, StorageConfig, open_store
from lake.stores.contracts import ContractStore
from lake.stores.profiles import ProfileStore
from lake.table.change import Change, apply_change
from lake.table.diff import DatasetDiff, Diff, dataset_diff, file_changes
from lake.table.frames import arrow_schema, to_arrow
from lake.table.layers import DataFile, Layers, VersionTaken
from lake.table.views import KeptRows, View
from lake.validation.engine import VIOLATIONS, cast_to_contract, validate
from lake.validation.gate_report import GateFailedError, GateReport
from lake.validation.report import CheckResult, ContractViolationError, ValidationReport
from lake.write.branch import Branch
from lake.write.ops import Op
from lake.write.patience import Patience
from lake.write.plan import plan_write

CONFIG = "_lake/config.json"
FORMAT = "lakegate/1"
DEFAULT_REPO = ".lake"
TXN_COLUMN = "_lake_txn"  # quarantined rows name the transaction that set them aside
OVERLAP_ROWS = 100_000  # from this batch size on, data files are written while the checks run
_STAGING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lake-stage")
T = TypeVar("T")


def default_author() -> str:
    return os.environ.get("LAKE_AUTHOR") or getpass.getuser()


def _merge_changes(a: DatasetChange | None, b: DatasetChange) -> DatasetChange:
    if a is None:
        return b
    return DatasetChange(
        operation=a.operation if a.operation == b.operation else "transaction",
        rows_added=a.rows_added + b.rows_added,
        rows_removed=a.rows_removed + b.rows_removed,
        files_added=a.files_added + b.files_added,
        files_removed=a.files_removed + b.files_removed,
    )


class Repository:
    """A lakegate repository at a local directory or ``s3://bucket/prefix``."""

    def __init__(self, config: StorageConfig, store: ObjectStore, settings: Mapping[str, Any]) -> None:
        self.config = config
        self.uri = config.uri
        self._store = store
        self._commits = CommitStore(store)
        self._refs = RefStore(store)
        self._layers = Layers(config, store)
        self._contracts = ContractStore(store)
        self._profiles = ProfileStore(store, self._layers)
        self.default_branch: str = settings.get("default_branch", "main")

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def init(
        cls,
        uri: str = DEFAULT_REPO,
        storage_options: Mapping[str, str] | None = None,
        *,
        author: str | None = None,
    ) -> Repository:
        config = StorageConfig.parse(uri, storage_options)
        store = open_store(config)
        settings = {"format": FORMAT, "default_branch": "main", "created": now_utc()}
        from lake.storage import PreconditionFailed

        try:
            store.put(CONFIG, json.dumps(settings, indent=2).encode(), if_none_match=True)
        except PreconditionFailed as exc:
            raise RepositoryExistsError(f"{config.uri} holds a lakegate repository already") from exc
        repo = cls(config, store, settings)
        root = Commit(
            parents=(),
            author=author or default_author(),
            time=now_utc(),
            message="Initialize repository",
            datasets={},
        )
        repo._refs.create("main", "branch", repo._commits.put(root), branch_id="main")
        return repo

    @classmethod
    def open(cls, uri: str = DEFAULT_REPO, storage_options: Mapping[str, str] | None = None) -> Repository:
        config = StorageConfig.parse(uri, storage_options)
        store = open_store(config)
        blob = store.get(CONFIG)
        if blob is None:
            raise NotARepositoryError(
                f"{config.uri} is not a lakegate repository",
                hint=f"create one with 'lake init {uri}'",
            )
        return cls(config, store, json.loads(blob.data))

    # -- refs ------------------------------------------------------------------------------------
    def resolve(self, ref: str) -> str:
        """The commit id a branch, tag, full commit id or unique id prefix names.

        ``refs/heads/NAME`` and ``refs/tags/NAME`` name only a branch or only a tag. A name that
        answers as more than one of branch, tag and commit prefix, with different commits, is
        refused with every candidate listed (git calls it an ambiguous refname)."""
        kinds: tuple[tuple[str, Kind], ...] = (("refs/heads/", "branch"), ("refs/tags/", "tag"))
        for prefix, kind in kinds:
            if ref.startswith(prefix):
                return self._refs.require(ref.removeprefix(prefix), kind).commit
        candidates: list[tuple[str, str]] = []
        for _, kind in kinds:
            found = self._refs.get(ref, kind)
            if found is not None:
                candidates.append((f"{kind} {ref} (at {found.commit[:12]})", found.commit))
        try:
            cid = self._commits.expand(ref)
        except RefNotFoundError:  # a prefix of several commits
            if not candidates:
                raise
            candidates.append((f"several commits whose ids start with {ref}", "*"))
            cid = None
        if cid is not None:
            candidates.append((f"commit {cid}", cid))
        if not candidates:
            raise RefNotFoundError(
                f"no branch, tag or commit named {ref!r}", hint="'lake branch list' and 'lake log' show them"
            )
        if len({c for _, c in candidates}) > 1:
            listed = "; ".join(what for what, _ in candidates)
            raise AmbiguousRefError(
                f"{ref!r} is ambiguous: it names {listed}",
                hint=f"say which: refs/heads/{ref} for the branch, refs/tags/{ref} for the tag, "
                "or more digits of the commit id",
            )
        return candidates[0][1]

    def commit(self, ref: str) -> CommitInfo:
        cid = self.resolve(ref)
        return CommitInfo(cid, self._commits.get(cid))

    def branch(self, name: str) -> Branch:
        self._refs.require(name)
        return Branch(self, name)

    def create_branch(self, name: str, from_ref: str | None = None) -> Branch:
        check_ref_name(name)
        cid = self.resolve(from_ref or self.default_branch)
        self._refuse_nested(name, "branch")
        self._refs.create(name, "branch", cid, branch_id=uuid.uuid4().hex[:16])
        return Branch(self, name)

    def _refuse_nested(self, name: str, kind: Kind) -> None:
        """Refs are stored as paths, so ``a`` and ``a/b`` of one kind cannot both exist (git
        refuses them for the same reason)."""
        for other in self._refs.names(kind):
            if other.startswith(name + "/") or name.startswith(other + "/"):
                raise RefExistsError(
                    f"{kind} {name!r} cannot live beside {kind} {other!r} (one would contain the other)",
                    hint=f"choose another name, or delete {kind} {other!r} first",
                )

    def delete_branch(self, name: str) -> None:
        if name == self.default_branch:
            raise RefusedError(f"the default branch {name!r} cannot be deleted")
        ref = self._refs.require(name)
        if ref.protected:
            raise RefusedError(
                f"branch {name!r} is protected and cannot be deleted", hint=f"lake branch unprotect {name}"
            )
        self._refs.delete(ref)

    def branches(self) -> list[BranchInfo]:
        out = []
        for name in sorted(self._refs.names("branch")):
            ref = self._refs.get(name)
            if ref is not None:
                out.append(BranchInfo(name, ref.commit, ref.protected))
        return out

    def create_tag(self, name: str, ref: str | None = None) -> TagInfo:
        check_ref_name(name, kind="tag")
        cid = self.resolve(ref or self.default_branch)
        self._refuse_nested(name, "tag")
        self._refs.create(name, "tag", cid)
        return TagInfo(name, cid)

    def delete_tag(self, name: str) -> None:
        self._refs.delete(self._refs.require(name, "tag"))

    def tags(self) -> list[TagInfo]:
        out = []
        for name in sorted(self._refs.names("tag")):
            ref = self._refs.get(name, "tag")
            if ref is not None:
                out.append(TagInfo(name, ref.commit))
        return out

    # -- history ---------------------------------------------------------------------------------
    def log(
        self, ref: str | None = None, *, dataset: str | None = None, limit: int | None = None
    ) -> list[CommitInfo]:
        """Commits reachable from ``ref``, newest first; with ``dataset``, those that changed it."""
        start = self.resolve(ref or self.default_branch)

        def changed(_cid: str, commit: Commit) -> bool:
            if dataset is None:
                return True
            parent = self._commits.get(commit.parents[0]).datasets.get(dataset) if commit.parents else None
            return commit.datasets.get(dataset) != parent

        return [CommitInfo(cid, c) for cid, c in walk(self._commits, start, keep=changed, limit=limit)]

    def datasets(self, ref: str | None = None) -> list[DatasetInfo]:
        ref = ref or self.default_branch
        commit = self._commits.get(self.resolve(ref))
        out = []
        for name, snap in sorted(commit.datasets.items()):
            schema = arrow_schema(snap.schema)
            plain = len(snap.layers) == 1 and snap.layers[0].path == "" and not snap.shadowed
            out.append(
                DatasetInfo(
                    name=name,
                    rows=snap.rows,
                    files=snap.files,
                    columns=tuple((f.name, str(f.type)) for f in schema),
                    location=self.table_uri(name) if plain else None,
                )
            )
        return out

    def contract(self, dataset: str, ref: str | None = None) -> Contract | None:
        """The contract in force for ``dataset`` at ``ref`` (None when it has none)."""
        key = self._commits.get(self.resolve(ref or self.default_branch)).contracts.get(dataset)
        return self._contracts.get(key) if key else None

    def check_contract(self, dataset: str, ref: str | None = None) -> ValidationReport:
        """Validate the data of ``dataset`` at ``ref`` against its contract there; writes nothing."""
        contract = self.contract(dataset, ref)
        if contract is None:
            raise DatasetNotFoundError(
                f"dataset {dataset!r} has no contract at {ref or self.default_branch!r}",
                hint=f"set one: lake contract set {dataset} FILE",
            )
        return self._validate_dataset(dataset, ref, contract)

    def _validate_dataset(self, dataset: str, ref: str | None, contract: Contract) -> ValidationReport:
        """Validate the data of ``dataset`` at ``ref`` (none: an empty table) against ``contract``."""
        snap = self._commits.get(self.resolve(ref or self.default_branch)).datasets.get(dataset)
        data = View(self._layers, dataset, snap).to_arrow() if snap else contract.arrow_schema().empty_table()
        typed = cast_to_contract(contract, data)
        report, _ = validate(contract, typed.table, pre=typed.results)
        return report

    def infer_contract(self, dataset: str, ref: str | None = None) -> Contract:
        """Draft a contract from the data of ``dataset`` at ``ref``."""
        return infer_contract(dataset, self.read(dataset, ref))

    def protect(
        self, branch: str, *, protected: bool | None = None, require_contracts: bool | None = None
    ) -> None:
        """Set ``branch``'s rules: ``protected`` (it changes only by merges and cannot be deleted)
        and ``require_contracts`` (every dataset written on it needs a contract)."""
        settings = {
            k: v
            for k, v in (("protected", protected), ("require_contracts", require_contracts))
            if v is not None
        }
        words = ", ".join(f"{k}={'on' if v else 'off'}" for k, v in settings.items())
        while True:
            ref = self._refs.require(branch)
            head = self._commits.get(ref.commit)
            # The change of rules is itself a commit, so that log shows who changed them and when.
            record = Commit(
                parents=(ref.commit,),
                author=default_author(),
                time=now_utc(),
                message=f"Set the rules of {branch}: {words}",
                datasets=head.datasets,
                contracts=head.contracts,
                metadata={"lake.protection": settings},
            )
            try:
                self._refs.move(ref, self._commits.put(record), **settings)
                break
            except ConcurrentUpdateError:
                continue
        if protected:
            for name, snap in head.datasets.items():
                if self._profiles.get(name, snap) is None:
                    self._profiles.build(name, snap)

    def gate(
        self, source: str, *, into: str | None = None, approve_contract_change: str | None = None
    ) -> GateReport:
        """Judge merging ``source`` into ``into`` with the target's contract; changes nothing.
        ``approve_contract_change`` previews the verdict with that approval given."""
        target = into or self.default_branch
        prep = self._prepare_merge(source, target, self._refs.require(target).commit, "fail")
        return evaluate(self, prep, approval=approve_contract_change)

    def _prepare_merge(self, source: str, target: str, target_id: str, strategy: Strategy) -> PreparedMerge:
        s_id = self.resolve(source)
        base_id = merge_base(self._commits, s_id, target_id)
        ref = self._refs.require(target)
        rules = TargetRules(
            ref.protected, ref.require_contracts, rule_changes(self._commits, target_id, base_id)
        )
        s_commit, t_commit = self._commits.get(s_id), self._commits.get(target_id)
        base = self._commits.get(base_id) if base_id else None
        plans: dict[str, DatasetPlan] = {}
        contracts: dict[str, str] = dict(t_commit.contracts)
        conflicts: list[Conflict] = []
        if base_id != s_id:
            contracts, conflicts = merged_contracts(base, s_commit, t_commit)
            names = sorted({n for c in (s_commit, t_commit) for n in (*c.datasets, *c.contracts)})
            plans = {n: self._merge_plan(n, base, s_commit, t_commit, strategy) for n in names}
            conflicts += [c for p in plans.values() for c in p.conflicts]
        return PreparedMerge(
            source,
            target,
            s_id,
            target_id,
            base_id,
            s_commit,
            t_commit,
            base,
            plans,
            contracts,
            tuple(conflicts),
            rules,
        )

    def merge(
        self,
        source: str,
        *,
        into: str | None = None,
        strategy: Strategy = "fail",
        dry_run: bool = False,
        force: bool = False,
        reason: str | None = None,
        approve_contract_change: str | None = None,
        message: str | None = None,
        author: str | None = None,
    ) -> MergeResult:
        """Merge ``source`` (a branch, tag or commit) into the branch ``into`` (default main).

        The merge gate runs first and the merge happens only if it passes; ``force`` with a
        ``reason`` overrides a failed gate, and the override is recorded in the merge commit.
        A change to the contract of a protected target needs ``approve_contract_change`` (the
        reason, recorded in the merge commit with the contract diff the gate showed)."""
        target = into or self.default_branch
        if force and not (reason or "").strip():
            raise InvalidInputError("--force needs --reason: say why the gate is overridden")
        if approve_contract_change is not None and not approve_contract_change.strip():
            raise InvalidInputError("--approve-contract-change needs a reason: say why the contract changes")
        if strategy not in ("fail", "source-wins", "target-wins"):
            raise InvalidInputError(f"unknown strategy {strategy!r}: use fail, source-wins or target-wins")
        ref = self._refs.require(target)
        prep = self._prepare_merge(source, target, ref.commit, strategy)
        s_id, t_id, base_id = prep.source_id, prep.target_id, prep.base_id
        if prep.up_to_date:
            return MergeResult(source, target, base_id, t_id, "up-to-date", {}, (), dry_run)
        gate_meta: dict[str, Any] = {}
        if not dry_run:
            report = evaluate(self, prep, approval=approve_contract_change)
            # conflicts are the merge's own business (MergeConflictError, or a strategy resolves them)
            blocking = [c for c in report.checks if c.status == "fail" and c.category != "merge"]
            if blocking and not force:
                raise GateFailedError(report)
            gate_meta["lake.gate"] = report.summary()
            approved = [c for c in report.checks if c.name == "approval" and c.value == "approved"]
            if approved:
                gate_meta["lake.contract_approval"] = {
                    "reason": approve_contract_change,
                    "by": author or default_author(),
                    "datasets": sorted({c.dataset for c in approved}),
                    "changes": [
                        f"{c.dataset}: {c.name} {c.value}: {c.message}".strip()
                        for c in report.checks
                        if c.category == "contract" and c.name != "approval"
                    ],
                }
            if force and not report.passed:
                gate_meta["lake.override"] = {
                    "reason": reason,
                    "by": author or default_author(),
                    "report": report.summary(),
                }
        summaries = _summaries(prep.plans)
        if base_id == t_id and target != self.default_branch and not gate_meta.get("lake.override"):
            if not dry_run:
                self._refs.move(ref, s_id)  # fast-forward: the target simply points at the source
            return MergeResult(
                source, target, base_id, s_id if not dry_run else None, "fast-forward", summaries, (), dry_run
            )
        conflicts = list(prep.conflicts)
        kind = "fast-forward" if base_id == t_id else "merge"
        if dry_run or (conflicts and strategy == "fail"):
            if conflicts and not dry_run:
                raise MergeConflictError(conflicts)
            return MergeResult(source, target, base_id, None, kind, summaries, tuple(conflicts), dry_run)
        t_commit = prep.target_commit
        contracts = prep.contracts
        ops = [
            Op(name, self._merge_op(name, prep, plan, strategy), merge=True)
            for name, plan in sorted(prep.plans.items())
            if plan.action != "keep"
        ]
        updates: dict[str, str | None] = {
            k: v for k, v in contracts.items() if t_commit.contracts.get(k) != v
        }
        updates.update({k: None for k in t_commit.contracts if k not in contracts})
        result = self._run(
            target,
            ops,
            message=message or f"Merge {source} into {target}",
            author=author,
            metadata={
                "lake.merge": {
                    "source": source,
                    "source_commit": s_id,
                    "base": base_id,
                    "strategy": strategy,
                },
                **gate_meta,
            },
            contract_updates=updates,
            merged=s_id,
        )
        return MergeResult(
            source, target, base_id, result.commit, kind, dict(result.datasets), tuple(conflicts), False
        )

    def _merge_plan(
        self, name: str, base: Commit | None, source: Commit, target: Commit, strategy: Strategy
    ) -> DatasetPlan:
        key_contract = target.contracts.get(name) or source.contracts.get(name)
        pk = list(self._contracts.get(key_contract).primary_key) if key_contract else []
        return plan_dataset(
            self._layers,
            name,
            base.datasets.get(name) if base else None,
            source.datasets.get(name),
            target.datasets.get(name),
            primary_key=pk,
            strategy=strategy,
        )

    def _merge_op(
        self, name: str, prep: PreparedMerge, prepared: DatasetPlan, strategy: Strategy
    ) -> Callable[[View | None, pa.Table | None], Change]:
        base, source = prep.base, prep.source_commit
        planned_on = prep.target_commit.datasets.get(name)

        def plan(view: View | None, _data: pa.Table | None) -> Change:
            current = view.snapshot if view is not None else None
            if current == planned_on and prepared.change is not None:
                return prepared.change  # the target has not moved since the merge was planned
            key_contract = source.contracts.get(name)
            pk = list(self._contracts.get(key_contract).primary_key) if key_contract else []
            p = plan_dataset(
                self._layers,
                name,
                base.datasets.get(name) if base else None,
                source.datasets.get(name),
                current,
                primary_key=pk,
                strategy=strategy,
            )
            if p.conflicts and strategy == "fail":
                raise MergeConflictError(p.conflicts)
            if p.change is None:
                assert view is not None
                return Change("merge", view.schema)
            return p.change

        return plan

    def table_uri(self, dataset: str) -> str:
        """Where main's copy of ``dataset`` lives as a plain Delta table."""
        return self._layers.uri(check_readable_dataset_name(dataset))

    def snapshot(self, dataset: str, ref: str | None = None) -> Snapshot:
        ref = ref or self.default_branch
        snap = self._commits.get(self.resolve(ref)).datasets.get(dataset)
        if snap is None:
            raise DatasetNotFoundError(
                f"no dataset {dataset!r} at {ref!r}", hint=f"'lake datasets --ref {ref}' lists them"
            )
        return snap

    def _view(self, dataset: str, ref: str | None) -> View:
        return View(self._layers, dataset, self.snapshot(dataset, ref))

    def read(self, dataset: str, ref: str | None = None, *, columns: list[str] | None = None) -> pa.Table:
        """``dataset`` at a branch, tag or commit, as a pyarrow Table."""
        view = self._view(dataset, ref)
        if columns:
            unknown = [c for c in columns if c not in view.schema.names]
            if unknown:
                raise InvalidInputError(f"{dataset} has no column(s) {', '.join(unknown)}")
        return view.to_arrow(columns)

    def scan(self, dataset: str, ref: str | None = None) -> pl.LazyFrame:
        """``dataset`` at a branch, tag or commit, as a polars LazyFrame."""
        return self._view(dataset, ref).scan()

    def diff(self, base: str, target: str, *, dataset: str | None = None) -> Diff:
        a_id, b_id = self.resolve(base), self.resolve(target)
        a, b = self._commits.get(a_id).datasets, self._commits.get(b_id).datasets
        names = [dataset] if dataset else sorted(set(a) | set(b))
        out: list[DatasetDiff] = []
        for name in names:
            if a.get(name) == b.get(name):
                continue
            out.append(dataset_diff(self._layers, name, a.get(name), b.get(name)))
        return Diff(a_id, b_id, tuple(out))

    def materialize(
        self, dataset: str, ref: str, target_uri: str, *, storage_options: Mapping[str, str] | None = None
    ) -> str:
        """Write ``dataset`` at ``ref`` as a standalone Delta table any reader can open (copies data)."""
        from deltalake import write_deltalake

        table = self.read(dataset, ref)
        write_deltalake(
            target_uri,
            table,
            mode="overwrite",
            storage_options=dict(storage_options) if storage_options else None,
        )
        return target_uri

    def revert(
        self, commit: str, *, branch: str | None = None, message: str | None = None, author: str | None = None
    ) -> WriteResult:
        """Make a new commit on ``branch`` that undoes the changes ``commit`` made."""
        cid = self.resolve(commit)
        target = self._commits.get(cid)
        if not target.parents:
            raise RefusedError(
                f"commit {cid[:12]} is the repository's first commit; there is nothing to revert"
            )
        parent = self._commits.get(target.parents[0])
        ops: list[Op] = []
        for name in sorted(set(target.datasets) | set(parent.datasets)):
            before, after = parent.datasets.get(name), target.datasets.get(name)
            if before == after:
                continue
            if after is None or (before is not None and before.schema != after.schema):
                raise RefusedError(
                    f"commit {cid[:12]} changed the schema of {name!r} (or dropped it); "
                    "revert cannot undo that",
                    hint="overwrite the dataset with the data you want instead",
                )
            added, removed = file_changes(self._layers, name, before, after)
            ops.append(Op(name, _revert_plan(added, removed)))
        name = branch or self.default_branch
        return Branch(self, name)._run(
            ops,
            message=message or f"Revert {cid[:12]}: {target.message}",
            author=author,
            metadata={"lake.revert": cid},
        )

    # -- writing ---------------------------------------------------------------------------------
    def _refuse_case_clash(self, branch: str, names: Sequence[str]) -> None:
        """Refuse a new dataset whose name differs only in case from one the branch or the
        default branch holds: the two folders would be one on macOS, Windows and in Spark."""
        existing = set(self._commits.get(self._refs.require(branch).commit).datasets)
        new = [n for n in names if n not in existing]
        if not new:
            return
        existing |= set(self._commits.get(self._refs.require(self.default_branch).commit).datasets)
        for name in new:
            other = case_clash(name, existing)
            if other is not None:
                raise InvalidInputError(
                    f"dataset name {name!r} differs from the existing dataset {other!r} only in case",
                    hint=f"write to {other!r}, or choose a name that differs in more than case",
                )

    def _own_layer(self, ref: Ref) -> str:
        return "" if ref.name == self.default_branch else f"_branches/{ref.branch_id}"

    def _run(
        self,
        branch: str,
        ops: Sequence[Op],
        *,
        message: str,
        author: str | None,
        metadata: Mapping[str, Any] | None,
        contract_updates: Mapping[str, str | None] | None = None,
        merged: str | None = None,
    ) -> WriteResult:
        txn = uuid.uuid4().hex
        patience = Patience()
        written: dict[int, Staged] = {}  # files of blind appends, kept across attempts
        updates = dict(contract_updates or {})
        if updates and merged is None and self._refs.require(branch).protected:
            raise RefusedError(
                f"branch {branch!r} is protected: its contracts change only by merges",
                hint="set the contract on a branch and merge it: the gate reviews the change",
            )
        while not patience.exhausted():
            ref = self._refs.require(branch)
            patience.begin(ref.commit)
            head = self._commits.get(ref.commit)
            own = self._own_layer(ref)
            datasets = dict(head.datasets)
            contracts = {k: v for k, v in {**head.contracts, **updates}.items() if v is not None}
            changes: dict[str, DatasetChange] = {}
            reports: dict[str, ValidationReport] = {}
            delta_meta = {"lake.txn": txn, "lake.branch": branch, "lake.message": message[:200]}
            try:
                for index, op in enumerate(ops):
                    snap = datasets.get(op.dataset)
                    if snap is None and not op.needs_data:
                        raise DatasetNotFoundError(f"no dataset {op.dataset!r} on branch {branch!r}")
                    view = View(self._layers, op.dataset, snap) if snap else None
                    if op.merge:
                        change, report, aside, staged = op.plan(view, None), None, None, None
                    else:
                        if ref.protected:
                            raise RefusedError(
                                f"branch {branch!r} is protected: it changes only by merges",
                                hint=f"write on a branch and merge it: lake merge BRANCH --into {branch}",
                            )
                        contract = self._contract_in_force(ref, contracts, op.dataset)
                        change, report, aside, staged = self._prepare(
                            op, view, contract, own, written.get(index)
                        )
                        if staged is not None and _blind_append(change):
                            written[index] = Staged(change.schema, _rows(change), staged)
                    if report is not None:
                        reports[op.dataset] = report
                    targets: list[
                        tuple[str, Change, Snapshot | None, View | None, Future[list[DataFile]] | None]
                    ]
                    targets = [(op.dataset, change, snap, view, staged)]
                    if aside is not None:
                        qname = op.dataset + QUARANTINE_SUFFIX
                        qsnap = datasets.get(qname)
                        qview = View(self._layers, qname, qsnap) if qsnap else None
                        aside = aside.append_column(TXN_COLUMN, pa.array([txn] * aside.num_rows, pa.string()))
                        qchange = plan_write(qview, aside, mode="append", schema_mode="merge")
                        targets.append((qname, qchange, qsnap, qview, None))
                    for name, ch, sn, vw, files in targets:
                        if _is_noop(ch, vw):
                            changes[name] = _merge_changes(changes.get(name), DatasetChange(ch.operation))
                            continue
                        new, done = apply_change(
                            self._layers,
                            name,
                            sn,
                            vw,
                            own,
                            ch,
                            metadata=delta_meta,
                            may_heal=functools.partial(patience.may_heal, name, own),
                            staged=files,
                        )
                        patience.committed(name, own, new.layers[-1].version)
                        datasets[name] = new
                        changes[name] = _merge_changes(changes.get(name), done)
            except VersionTaken:
                patience.backoff()
                continue
            touched = set(changes) | set(updates)
            if all(datasets.get(d) == head.datasets.get(d) for d in changes) and contracts == dict(
                head.contracts
            ):
                return WriteResult(branch, ref.commit, ref.commit, changes, patience.attempts, reports)
            meta: dict[str, Any] = {**(metadata or {}), "lake.txn": txn}
            if reports:
                meta["lake.validation"] = {d: r.summary() for d, r in sorted(reports.items())}
            commit = Commit(
                parents=(ref.commit,) if merged is None else (ref.commit, merged),
                author=author or default_author(),
                time=now_utc(),
                message=message,
                datasets=datasets,
                changes=changes,
                metadata=meta,
                contracts=contracts,
            )
            moved = self._move(ref, head, commit, touched)
            if moved is not None:
                if ref.protected:
                    self._profile(head, datasets, changes)
                return WriteResult(branch, moved, commit.parents[0], changes, patience.attempts, reports)
            patience.backoff()
        raise ConcurrentUpdateError(
            f"branch {branch!r}: no writer made progress for {patience.stall_seconds:.0f} s "
            f"({patience.attempts} attempts); gave up",
            hint="nothing was committed; run the operation again",
        )

    def _profile(self, head: Commit, datasets: Mapping[str, Snapshot], changed: Mapping[str, Any]) -> None:
        """Keep the profiles of a protected branch current (what the gate compares against).
        Best effort: the commit stands whatever happens here; a missing profile only makes the
        next gate scan the target instead."""
        for name in changed:
            if name in datasets:
                with contextlib.suppress(LakeError, OSError, ValueError):
                    self._profiles.advance(name, head.datasets.get(name), datasets[name])

    def _contract_in_force(self, ref: Ref, contracts: Mapping[str, str], dataset: str) -> Contract | None:
        key = contracts.get(dataset)
        if key is not None:
            return self._contracts.get(key)
        if ref.require_contracts and not is_quarantine(dataset):
            raise RefusedError(
                f"branch {ref.name!r} requires a contract for every dataset, and {dataset!r} has none",
                hint=f"set one first: lake contract set {dataset} FILE --branch {ref.name}",
            )
        return None

    def _prepare(
        self, op: Op, view: View | None, contract: Contract | None, own: str, kept: Staged | None = None
    ) -> tuple[Change, ValidationReport | None, pa.Table | None, Future[list[DataFile]] | None]:
        """Plan ``op``; with a contract, validate what the dataset will be. Returns the change,
        the report, the rows set aside for quarantine (if any), and the change's data files
        when they are already written or being written (overlapped with validation). ``kept``
        holds the files an earlier attempt wrote for the same blind append: they are reused."""
        raw = to_arrow(op.data) if op.data is not None else None
        if op.quarantine and raw is not None:
            reserved = [c for c in raw.column_names if c in (VIOLATIONS, TXN_COLUMN)]
            if reserved:
                raise InvalidInputError(
                    f"the data has column(s) {', '.join(reserved)}, which a quarantine write adds itself",
                    hint="rename them, or write without --quarantine (on_violation='reject')",
                )
        if contract is None:
            change = op.plan(view, raw)
            return change, None, None, self._stage(op, change, own, kept)
        typed = cast_to_contract(contract, raw) if raw is not None else None
        table = typed.table if typed is not None else None
        change = op.plan(view, table)
        staged = kept.reuse(change) if kept is not None and not op.quarantine else None
        if (
            staged is None
            and not op.quarantine
            and change.data is not None
            and change.data.num_rows >= OVERLAP_ROWS
        ):
            # Write the files while the checks run; if the checks fail, nothing names the files.
            staged = _STAGING.submit(self._layers.write_files, op.dataset, own, change.data)
        try:
            report, violations = self._check(
                contract, change, view, typed.results if typed else (), blame=op.quarantine
            )
        except BaseException:
            if staged is not None:
                staged.cancel()
            raise
        if report.ok:
            return change, report, None, staged if staged is not None else self._stage(op, change, own, kept)
        if staged is not None:
            staged.cancel()
        if not op.quarantine or raw is None or table is None:
            raise ContractViolationError([report])
        incoming = table.num_rows
        offset = (change.data.num_rows if change.data is not None else 0) - incoming
        names = pl.Series(VIOLATIONS, [[]] * incoming, dtype=pl.List(pl.String))
        if violations is not None:
            lists = violations[VIOLATIONS]
            if offset > 0 and int(lists.head(offset).list.len().sum()):
                raise ContractViolationError([report])  # rows already in the dataset break it
            names = lists.slice(max(offset, 0), incoming)
        if typed is not None and typed.bad_rows is not None:
            failed_types = [r.name for r in typed.results if r.kind == "type"]
            names = (
                pl.DataFrame({"n": names, "b": typed.bad_rows})
                .select(
                    pl.when(pl.col("b"))
                    .then(pl.col("n").list.concat(pl.lit(failed_types)))
                    .otherwise(pl.col("n"))
                )
                .to_series()
            )
        mask = names.list.len() > 0
        if not mask.any():
            raise ContractViolationError([report])  # nothing row-level to set aside (schema, row counts)
        keep = table.filter(pa.array((~mask).to_list()))
        change = op.plan(view, keep)
        final, _ = self._check(contract, change, view, ())
        if not final.ok:
            raise ContractViolationError([final])
        frame = pl.from_arrow(raw.filter(pa.array(mask.to_list())))
        assert isinstance(frame, pl.DataFrame)
        aside = frame.select(pl.all().cast(pl.String, strict=False)).with_columns(names.filter(mask))
        return change, replace(report, quarantined=int(mask.sum())), aside.to_arrow(), None

    def _stage(self, op: Op, change: Change, own: str, kept: Staged | None) -> Future[list[DataFile]] | None:
        """The files of a blind append, written now (or reused from an earlier attempt), so that
        an attempt that loses the race commits the same files again instead of rewriting them."""
        if op.quarantine or op.merge or not _blind_append(change):
            return None
        reused = kept.reuse(change) if kept is not None else None
        if reused is not None:
            return reused
        assert change.data is not None
        done: Future[list[DataFile]] = Future()
        done.set_result(self._layers.write_files(op.dataset, own, change.data))
        return done

    def _check(
        self,
        contract: Contract,
        change: Change,
        view: View | None,
        pre: Sequence[CheckResult],
        *,
        blame: bool = False,
    ) -> tuple[ValidationReport, pl.DataFrame | None]:
        data = change.data if change.data is not None else contract.arrow_schema().empty_table()
        others = KeptRows(view, change.remove) if view is not None else None
        return validate(contract, data, others=others, pre=pre, blame=blame)

    def _move(self, ref: Ref, head: Commit, commit: Commit, touched: set[str]) -> str | None:
        """CAS the ref to ``commit``; on a race, rebase onto the new head when it left our
        datasets alone. None means the datasets moved under us and the write must be redone."""
        while True:
            cid = self._commits.put(commit)
            try:
                self._refs.move(ref, cid)
                return cid
            except ConcurrentUpdateError:
                now = self._refs.require(ref.name)
                if now.branch_id != ref.branch_id:
                    raise RefNotFoundError(
                        f"branch {ref.name!r} was deleted and created again during the write"
                    ) from None
                current = self._commits.get(now.commit)
                if any(
                    current.datasets.get(d) != head.datasets.get(d)
                    or current.contracts.get(d) != head.contracts.get(d)
                    for d in touched
                ):
                    return None
                datasets = dict(current.datasets)
                contracts = dict(current.contracts)
                for d in touched:
                    _carry(d, commit.datasets, datasets)
                    _carry(d, commit.contracts, contracts)
                commit = replace(
                    commit, parents=(now.commit,), datasets=datasets, contracts=contracts, time=now_utc()
                )
                ref, head = now, current


def _summaries(plans: Mapping[str, DatasetPlan]) -> dict[str, DatasetChange]:
    out: dict[str, DatasetChange] = {}
    for name, p in plans.items():
        if p.change is None:
            continue
        ch = p.change
        out[name] = DatasetChange(
            operation=f"merge ({p.action})",
            rows_added=ch.rows_added,
            rows_removed=ch.rows_removed,
            files_added=len(ch.restore) + (1 if ch.data is not None and ch.data.num_rows else 0),
            files_removed=len(ch.remove),
        )
    return out


def _carry(key: str, ours: Mapping[str, T], theirs: dict[str, T]) -> None:
    """Make ``theirs[key]`` what ``ours`` says, absence included."""
    if key in ours:
        theirs[key] = ours[key]
    else:
        theirs.pop(key, None)


def _is_noop(change: Change, view: View | None) -> bool:
    return (
        view is not None
        and not change.remove
        and not change.restore
        and (change.data is None or change.data.num_rows == 0)
        and change.schema_change is None
    )


def _blind_append(change: Change) -> bool:
    """A change that only adds new rows: its files do not depend on what else the layer holds."""
    return (
        change.data is not None
        and not change.remove
        and not change.restore
        and change.schema_change is None
        and change.data.num_rows > 0
    )


def _rows(change: Change) -> int:
    return change.data.num_rows if change.data is not None else 0


@dataclass(frozen=True)
class Staged:
    """The files written for a blind append, with what identifies the rows they hold."""

    schema: pa.Schema
    rows: int
    files: Future[list[DataFile]]

    def reuse(self, change: Change) -> Future[list[DataFile]] | None:
        same = _blind_append(change) and self.rows == _rows(change) and self.schema.equals(change.schema)
        return self.files if same and not self.files.cancelled() else None


def _revert_plan(
    added: Mapping[str, Any], removed: Mapping[str, Any]
) -> Callable[[View | None, pa.Table | None], Change]:
    def plan(view: View | None, _data: pa.Table | None) -> Change:
        if view is None:
            raise DatasetNotFoundError("the dataset to revert no longer exists on this branch")
        present = view.files
        return Change(
            "revert",
            view.schema,
            remove=[present[p] for p in added if p in present],
            restore=[ref for p, ref in removed.items() if p not in present],
            rows_added=sum(r.file.rows for p, r in removed.items() if p not in present),
            rows_removed=sum(present[p].file.rows for p in added if p in present),
        )

    return plan
