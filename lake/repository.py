"""The public Python API: a repository of datasets with branches, tags, commits and diffs.

A write is two atomic steps: one Delta commit per touched dataset (each at exactly the version
after the one the branch names), then one compare-and-swap of the branch ref. Readers go
through refs, so they see a write whole or not at all.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads

from lake.contracts import Contract
from lake.contracts.infer import infer_contract
from lake.errors import (
    AmbiguousRefError,
    ConcurrentUpdateError,
    DatasetNotFoundError,
    GateFailedError,
    InvalidInputError,
    LakeError,
    NotARepositoryError,
    RefExistsError,
    RefNotFoundError,
    RefusedError,
    RepositoryExistsError,
    UsageError,
)
from lake.graph.commits import Commit, CommitStore, Snapshot, now_utc
from lake.graph.history import walk
from lake.graph.names import check_readable_dataset_name, check_ref_name
from lake.graph.refs import Kind, Ref, RefStore
from lake.maintain import owners
from lake.maintain.expired import refuse_expired
from lake.maintain.fsck import FsckResult
from lake.maintain.fsck import fsck as check_repository
from lake.maintain.gc import DEFAULT_GRACE, DEFAULT_OLDER_THAN, GcResult, parse_duration
from lake.maintain.gc import gc as collect_garbage
from lake.merge.gate import GateContext, RowsJudge, evaluate, verdict_metadata
from lake.merge.plan import MergeConflictError, PreparedMerge, Strategy, prepare_merge
from lake.progress import ProgressCallback, reports_progress
from lake.results import (
    BranchInfo,
    BranchStatus,
    CommitInfo,
    DatasetInfo,
    DatasetStatus,
    MergeResult,
    RepositoryStatus,
    TagInfo,
    WriteResult,
)
from lake.storage import ObjectStore, StorageConfig, open_store
from lake.stores.contracts import ContractStore
from lake.stores.profiles import ProfileStore
from lake.table.diff import DatasetDiff, Diff, dataset_diff
from lake.table.engines import Exported, ExportFormat, RefFiles, export, ref_files, write_manifest
from lake.table.engines import dataset as arrow_dataset
from lake.table.foreign import Pending
from lake.table.foreign import adopt as adopt_versions
from lake.table.foreign import scan as foreign_scan
from lake.table.frames import arrow_schema
from lake.table.layers import Layers
from lake.table.pruning import selected, selects
from lake.table.revert import STRATEGIES as REVERT_STRATEGIES
from lake.table.revert import RevertStrategy
from lake.table.views import View
from lake.validation.gate_report import GateReport
from lake.validation.report import ValidationReport
from lake.write.branch import Branch
from lake.write.check import validate_snapshot
from lake.write.commit import HeadMoved, Landed, WriteContext, adopt_foreign, commit, default_author
from lake.write.ops import MergeDataset, Op, Optimize, Revert, SetContract, SetRules
from lake.write.optimize import DEFAULT_TARGET_BYTES
from lake.write.patience import Patience
from lake.write.results import planned_changes

if TYPE_CHECKING:
    import duckdb

CONFIG = "_lake/config.json"
FORMAT = "lakegate/1"
DEFAULT_REPO = ".lake"

__all__ = ["DEFAULT_REPO", "Repository", "default_author"]


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
        self.write_context = WriteContext(
            self._commits,
            self._refs,
            self._layers,
            self._contracts,
            self.default_branch,
            after_commit=self._keep_profiles,
        )
        self._gate_context = GateContext(self._layers, self._contracts, self._profiles)

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def init(
        cls,
        uri: str = DEFAULT_REPO,
        storage_options: Mapping[str, str] | None = None,
        *,
        author: str | None = None,
    ) -> Repository:
        """Create a repository at ``uri`` (a local directory, made if missing, or
        ``s3://bucket/prefix``): a branch ``main`` at a first commit with no datasets, made by
        ``author`` (default: ``$LAKE_AUTHOR``, else the user's login). Raises
        :class:`RepositoryExistsError` when a repository is there already, and
        :class:`InvalidStorageOptionError` for a storage option that is unknown or unusable."""
        config = StorageConfig.parse(uri, storage_options)
        store = open_store(config)
        settings = {"format": FORMAT, "default_branch": "main", "created": now_utc()}
        from lake.storage import PreconditionFailed

        try:
            store.put(CONFIG, json.dumps(settings, indent=2).encode(), if_none_match=True)
        except PreconditionFailed as exc:
            raise RepositoryExistsError(
                f"{config.uri} holds a lakegate repository already",
                hint="use it as it is (lake log --repo ...), or init another location",
            ) from exc
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
        """Open the repository at ``uri`` (a local directory or ``s3://bucket/prefix``). Raises
        :class:`NotARepositoryError` when none is there, and :class:`InvalidStorageOptionError`
        for a storage option that is unknown or unusable."""
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
        if not any(what.startswith(("branch ", "tag ")) for what, _ in candidates):
            refuse_expired(self._store, candidates[0][1])  # a bare commit id: gc may have expired it
        return candidates[0][1]

    def commit(self, ref: str) -> CommitInfo:
        """The commit a branch, tag or commit id names, with its id; :class:`RefNotFoundError`
        when none does (see :meth:`resolve`)."""
        cid = self.resolve(ref)
        return CommitInfo(cid, self._commits.get(cid))

    def branch(self, name: str) -> Branch:
        """The handle of the branch ``name``, to write through; :class:`RefNotFoundError` when
        there is no such branch (:meth:`create_branch` makes one)."""
        self._refs.require(name)
        return Branch(self, name)

    def create_branch(self, name: str, from_ref: str | None = None) -> Branch:
        """Create the branch ``name`` at the commit ``from_ref`` names (default: the default
        branch) and return its handle. No data is copied: the branch writes files of its own only
        where it changes a dataset. Raises :class:`InvalidRefNameError` for a name git would
        refuse, :class:`RefExistsError` when the branch exists (or a branch whose name would hold
        it, or be held by it), and :class:`RefNotFoundError` when ``from_ref`` names nothing."""
        check_ref_name(name)
        cid = self.resolve(from_ref or self.default_branch)
        self._refuse_nested(name, "branch")
        branch_id = uuid.uuid4().hex[:16]
        self._refs.create(name, "branch", cid, branch_id=branch_id)
        owners.record(self._store, branch_id, name, cid)  # whose layers _branches/<id> are, for fsck
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
        """Delete the branch ``name``; what only it reached stays until :meth:`gc` reclaims it.
        Raises :class:`RefusedError` for the default branch or a protected branch,
        :class:`RefNotFoundError` when there is no such branch, and
        :class:`ConcurrentUpdateError` when it moved while being deleted."""
        if name == self.default_branch:
            raise RefusedError(
                f"the default branch {name!r} cannot be deleted",
                hint="the default branch holds the lake's main tables; delete other branches only",
            )
        ref = self._refs.require(name)
        if ref.protected:
            raise RefusedError(
                f"branch {name!r} is protected and cannot be deleted", hint=f"lake branch unprotect {name}"
            )
        self._refs.delete(ref)

    def branches(self) -> list[BranchInfo]:
        """Every branch, by name, with the commit it points at and whether it is protected."""
        out = []
        for name in sorted(self._refs.names("branch")):
            ref = self._refs.get(name)
            if ref is not None:
                out.append(BranchInfo(name, ref.commit, ref.protected))
        return out

    def create_tag(self, name: str, ref: str | None = None) -> TagInfo:
        """Tag the commit ``ref`` names (default: the default branch's head) as ``name``. Raises
        :class:`InvalidRefNameError` for a name git would refuse, :class:`RefExistsError` when the
        tag exists (or a tag whose name would hold it, or be held by it), and
        :class:`RefNotFoundError` when ``ref`` names nothing."""
        check_ref_name(name, kind="tag")
        cid = self.resolve(ref or self.default_branch)
        self._refuse_nested(name, "tag")
        self._refs.create(name, "tag", cid)
        return TagInfo(name, cid)

    def delete_tag(self, name: str) -> None:
        """Delete the tag ``name``; what only it held stays until :meth:`gc` reclaims it.
        :class:`RefNotFoundError` when there is no such tag."""
        self._refs.delete(self._refs.require(name, "tag"))

    def tags(self) -> list[TagInfo]:
        """Every tag, by name, with the commit it names."""
        out = []
        for name in sorted(self._refs.names("tag")):
            ref = self._refs.get(name, "tag")
            if ref is not None:
                out.append(TagInfo(name, ref.commit))
        return out

    # -- housekeeping ----------------------------------------------------------------------------
    @reports_progress
    def gc(
        self,
        *,
        older_than: timedelta | str = DEFAULT_OLDER_THAN,
        grace: timedelta | str = DEFAULT_GRACE,
        dry_run: bool = False,
        progress: ProgressCallback | None = None,
    ) -> GcResult:
        """Delete what no branch, no tag and no commit newer than ``older_than`` can reach (see
        :mod:`lake.maintain.gc`); nothing younger than ``grace``. Commits it expires can no longer
        be read (:class:`~lake.errors.CommitExpiredError`). ``dry_run`` only reports."""
        return collect_garbage(
            self._commits,
            self._refs,
            self._layers,
            self._store,
            self.config,
            older_than=parse_duration(older_than, "older_than"),
            grace=parse_duration(grace, "grace"),
            dry_run=dry_run,
        )

    def fsck(self, *, grace: timedelta | str = DEFAULT_GRACE) -> FsckResult:
        """Check every ref, commit, contract, profile and named file; list foreign and orphaned
        Delta versions, orphan files (older than ``grace``) and the owner of each branch layer
        (see :mod:`lake.maintain.fsck`). Changes nothing."""
        return check_repository(
            self._layers,
            self._store,
            self.config,
            default_branch=self.default_branch,
            grace=parse_duration(grace, "grace"),
        )

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
        """The datasets at a branch, tag or commit (default: the default branch), by name: rows,
        files, columns and, where the ref's data is main's own Delta table, its location.
        :class:`RefNotFoundError` when ``ref`` names nothing."""
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

    def status(self) -> RepositoryStatus:
        """The repository at a glance: the default branch's head and datasets (rows, files,
        contract, partitioning), and every branch with its rules and how many commits it is
        ahead of and behind the default branch."""
        main = self._refs.require(self.default_branch)
        head = self._commits.get(main.commit)
        datasets = tuple(
            DatasetStatus(name, snap.rows, snap.files, head.contracts.get(name), tuple(snap.partition_by))
            for name, snap in sorted(head.datasets.items())
        )
        on_main = self._reachable(main.commit, set())
        branches = []
        for name in sorted(self._refs.names("branch")):
            ref = self._refs.get(name)
            if ref is None:
                continue
            mine = self._reachable(ref.commit, on_main)
            behind = len(on_main - self._reachable(ref.commit, set())) if ref.commit != main.commit else 0
            branches.append(
                BranchStatus(name, ref.commit, ref.protected, ref.require_contracts, len(mine), behind)
            )
        return RepositoryStatus(self.uri, self.default_branch, main.commit, tuple(branches), datasets)

    def _reachable(self, start: str, stop: set[str]) -> set[str]:
        """The commits reachable from ``start`` without passing through one in ``stop``."""
        seen: set[str] = set()
        frontier = [start]
        while frontier:
            cid = frontier.pop()
            if cid in seen or cid in stop:
                continue
            seen.add(cid)
            frontier.extend(self._commits.get(cid).parents)
        return seen

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
        snap = self._commits.get(self.resolve(ref or self.default_branch)).datasets.get(dataset)
        return validate_snapshot(self._layers, dataset, snap, contract)

    def infer_contract(self, dataset: str, ref: str | None = None) -> Contract:
        """Draft a contract from the data of ``dataset`` at ``ref``."""
        return infer_contract(dataset, self.read(dataset, ref))

    def protect(
        self, branch: str, *, protected: bool | None = None, require_contracts: bool | None = None
    ) -> None:
        """Set ``branch``'s rules: ``protected`` (it changes only by merges and cannot be deleted)
        and ``require_contracts`` (every dataset written on it needs a contract)."""
        rules = SetRules(protected, require_contracts)
        words = ", ".join(f"{k}={'on' if v else 'off'}" for k, v in rules.settings.items())
        # The change of rules is itself a commit, so that log shows who changed them and when.
        commit(
            self.write_context,
            branch,
            [rules],
            message=f"Set the rules of {branch}: {words}",
            metadata={"lake.protection": rules.settings},
        )

    def _keep_profiles(self, landed: Landed) -> None:
        """After a commit: keep the profiles of a protected branch current (what the gate compares
        against). Best effort for a write: the commit stands whatever happens here; a missing
        profile only makes the next gate scan the target instead. Protecting a branch profiles
        each of its datasets that has none yet."""
        if landed.ref.protected:
            for name in landed.commit.changes:
                if name in landed.commit.datasets:
                    with contextlib.suppress(LakeError, OSError, ValueError):
                        self._profiles.advance(
                            name, landed.head.datasets.get(name), landed.commit.datasets[name]
                        )
        if landed.rules is not None and landed.rules.get("protected"):
            for name, snap in landed.commit.datasets.items():
                if self._profiles.get(name, snap) is None:
                    self._profiles.build(name, snap)

    @reports_progress
    def gate(
        self,
        source: str,
        *,
        into: str | None = None,
        approve_contract_change: str | None = None,
        judge: RowsJudge | None = None,
        progress: ProgressCallback | None = None,
    ) -> GateReport:
        """Judge merging ``source`` into ``into`` with the target's contract; changes nothing.
        ``approve_contract_change`` previews the verdict with that approval given. ``judge``: an
        engine that judges the rows the merge brings where they are (:func:`lake.spark.gate`)."""
        target = into or self.default_branch
        prep = self._prepare_merge(source, self._refs.require(target), "fail")
        return evaluate(self._judged_by(judge), prep, approval=approve_contract_change)

    def _judged_by(self, judge: RowsJudge | None) -> GateContext:
        return self._gate_context if judge is None else replace(self._gate_context, judge=judge)

    def _prepare_merge(self, source: str, target: Ref, strategy: Strategy) -> PreparedMerge:
        return prepare_merge(
            self._commits,
            self._contracts,
            self._layers,
            source=source,
            source_id=self.resolve(source),
            target=target,
            strategy=strategy,
        )

    @reports_progress
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
        judge: RowsJudge | None = None,
        progress: ProgressCallback | None = None,
    ) -> MergeResult:
        """Merge ``source`` (a branch, tag or commit) into the branch ``into`` (default main).

        The merge gate runs first and the merge happens only if it passes; ``force`` with a
        ``reason`` overrides a failed gate, and the override is recorded in the merge commit.
        A change to the contract of a protected target needs ``approve_contract_change`` (the
        reason, recorded in the merge commit with the contract diff the gate showed). ``judge``:
        as :meth:`gate`'s."""
        target = into or self.default_branch
        if force and not (reason or "").strip():
            raise InvalidInputError(
                "--force needs --reason: say why the gate is overridden",
                hint='add --reason "..."; it is recorded in the merge commit',
            )
        if approve_contract_change is not None and not approve_contract_change.strip():
            raise InvalidInputError("--approve-contract-change needs a reason: say why the contract changes")
        if strategy not in ("fail", "source-wins", "target-wins"):
            raise InvalidInputError(f"unknown strategy {strategy!r}: use fail, source-wins or target-wins")
        # The gate judges the target as it is; if another writer moves it before the merge
        # commits, the merge is prepared and judged again on the new head (never rebased past it).
        patience = Patience()
        while not patience.exhausted():
            ref = self._refs.require(target)
            patience.begin(ref.commit)
            try:
                return self._merge_once(
                    source,
                    ref,
                    strategy=strategy,
                    dry_run=dry_run,
                    force=force,
                    reason=reason,
                    approve_contract_change=approve_contract_change,
                    message=message,
                    author=author,
                    judge=judge,
                    patience=patience,
                )
            except HeadMoved:
                patience.backoff()
        raise ConcurrentUpdateError(
            f"branch {target!r} kept moving while the merge of {source!r} was judged; gave up after "
            f"{patience.attempts} attempts",
            hint="nothing was merged; run the merge again",
        )

    def _merge_once(
        self,
        source: str,
        ref: Ref,
        *,
        strategy: Strategy,
        dry_run: bool,
        force: bool,
        reason: str | None,
        approve_contract_change: str | None,
        message: str | None,
        author: str | None,
        judge: RowsJudge | None,
        patience: Patience,
    ) -> MergeResult:
        """One attempt of :meth:`merge` on the target as ``ref`` holds it: prepare, judge, commit
        on exactly that head (else :class:`HeadMoved`)."""
        target = ref.name
        prep = self._prepare_merge(source, ref, strategy)
        s_id, t_id, base_id = prep.source_id, prep.target_id, prep.base_id
        if prep.up_to_date:
            return MergeResult(source, target, base_id, t_id, "up-to-date", {}, (), dry_run)
        gate_meta: dict[str, Any] = {}
        if not dry_run:
            report = evaluate(self._judged_by(judge), prep, approval=approve_contract_change)
            gate_meta = verdict_metadata(
                report,
                force=force,
                reason=reason,
                approval=approve_contract_change,
                by=author or default_author(),
            )
        summaries = planned_changes(prep.plans)
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
        result = commit(
            self.write_context,
            target,
            _merge_ops(prep, strategy),
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
            merged=s_id,
            expect_head=t_id,
            patience=patience,
        )
        return MergeResult(
            source,
            target,
            base_id,
            result.commit,
            kind,
            dict(result.datasets),
            tuple(conflicts),
            False,
            result.adopted,
        )

    @contextlib.contextmanager
    def publish(
        self,
        into: str | None = None,
        branch: str | None = None,
        *,
        keep_on_error: bool = True,
        report: str | Path | None = None,
        message: str | None = None,
        author: str | None = None,
        approve_contract_change: str | None = None,
    ) -> Iterator[Publication]:
        """Write-audit-publish in one block, the recommended shape of an ETL job::

            with repo.publish(into="main") as b:
                b.write("orders", df)

        Entering creates ``branch`` (default ``publish-<into>-<UTC time>-<id>``) from ``into``
        (default main); the block writes to it. Leaving it normally runs the gate on merging the
        branch into ``into``: on a pass the branch is merged and deleted (``b.result`` is the
        :class:`MergeResult`, ``b.report`` the gate's report); on a block the branch stays for
        inspection and :class:`GateFailedError` carries the report (``.report``) and, when one
        was written, its ``.path``; a merge conflict raises :class:`MergeConflictError` and
        keeps the branch too. ``report``: also write the gate's report there, as its suffix says
        (``.md``, ``.html``, ``.json``, ``.xml`` for JUnit, else text), pass or block. An
        exception inside the block touches nothing of ``into``: it propagates, and the branch
        is kept (``keep_on_error=False`` deletes it). A block that wrote nothing merges nothing
        and deletes its branch."""
        target = into or self.default_branch
        self._refs.require(target)
        name = (
            branch
            or f"publish-{target.replace('/', '-')}-{now_utc()[:19].replace(':', '')}-{uuid.uuid4().hex[:6]}"
        )
        self.create_branch(name, from_ref=target)
        handle = Publication(self, name, target)
        try:
            yield handle
        except BaseException:
            if not keep_on_error:
                self.delete_branch(name)
            raise
        if self.resolve(f"refs/heads/{name}") == self.resolve(f"refs/heads/{target}"):
            self.delete_branch(name)  # nothing written: nothing to publish
            return
        gate = self.gate(name, into=target, approve_contract_change=approve_contract_change)
        handle.report = gate
        path = _write_report(gate, report) if report is not None else None
        try:
            handle.result = self.merge(
                name,
                into=target,
                message=message or f"Publish {name} into {target}",
                author=author,
                approve_contract_change=approve_contract_change,
            )
        except GateFailedError as exc:
            exc.path = path
            raise
        self.delete_branch(name)

    def optimize(
        self,
        dataset: str,
        *,
        branch: str | None = None,
        target_size: int = DEFAULT_TARGET_BYTES,
        author: str | None = None,
    ) -> WriteResult:
        """Compact the small files of ``dataset`` on ``branch`` (default main) into files of about
        ``target_size`` bytes, as one Delta OPTIMIZE commit (``dataChange: false``). No row changes,
        so a protected branch allows it; the commit records it. Old files stay until ``gc``."""
        if target_size < 1:
            raise InvalidInputError(f"--target-size must be positive, not {target_size}")
        name = branch or self.default_branch
        return commit(
            self.write_context,
            name,
            [Optimize(dataset, target_size)],
            message=f"Optimize {dataset} (target file size {target_size:,} bytes)",
            author=author,
            metadata={"lake.optimize": {"dataset": dataset, "target_size": target_size}},
        )

    # -- other engines' commits -------------------------------------------------------------------
    def foreign(self, branch: str | None = None, *, dataset: str | None = None) -> list[Pending]:
        """The Delta versions other engines committed to ``branch``'s tables (default: main's,
        the documented plain tables) that no lake commit names yet, per dataset."""
        ref = self._refs.require(branch or self.default_branch)
        head = self._commits.get(ref.commit)
        own = self.write_context.own_layer(ref)
        names = [dataset] if dataset else sorted(head.datasets)
        out = []
        for name in names:
            snap = head.datasets.get(name)
            mine = snap.layer(own) if snap else None
            found = foreign_scan(self._layers, name, own, mine.version if mine else None)
            if found is not None and (found.foreign or found.versions is None):
                out.append(found)
        return out

    def repair_foreign(
        self,
        dataset: str,
        decision: Literal["adopt", "undo"],
        *,
        reason: str,
        branch: str | None = None,
        force: bool = False,
        author: str | None = None,
    ) -> WriteResult | None:
        """Decide what becomes of the Delta versions another engine committed to ``dataset``'s table
        on ``branch`` (default main): ``adopt`` them (on a protected branch the gate judges them as
        it judges a merge; ``force`` overrides a failed gate) or ``undo`` them (a new Delta version
        without their files; no file is deleted). ``reason`` is recorded in the commit. None: there
        was nothing to decide."""
        if not reason.strip():
            raise InvalidInputError("a repair needs --reason: say why the foreign change is kept or undone")
        if decision not in ("adopt", "undo"):
            raise InvalidInputError(f"unknown repair {decision!r}: use adopt or undo")
        name = branch or self.default_branch
        found = self.foreign(name, dataset=dataset)
        if not found:
            return None
        by = author or default_author()
        meta: dict[str, Any] = {"lake.repair": {"decision": decision, "reason": reason, "by": by}}
        ref = self._refs.require(name)
        if decision == "adopt" and ref.protected and found[0].data_change:
            meta.update(self._judge_foreign(ref, found[0], force=force, reason=reason, by=by))
        return adopt_foreign(self.write_context, name, found[0], decision, **meta)

    def _judge_foreign(
        self, ref: Ref, found: Pending, *, force: bool, reason: str, by: str
    ) -> dict[str, Any]:
        """The gate's verdict on foreign versions, judged as a merge of a commit holding them into
        ``ref`` (the commit is written but no ref names it: gc reclaims it)."""
        head = self._commits.get(ref.commit)
        snap = head.datasets.get(found.dataset)

        def wait(_latest: int) -> bool:
            return False  # a lake writer in the middle of a commit: judge once it is done

        new, done = adopt_versions(self._layers, found.dataset, snap, found, metadata={}, may_heal=wait)
        proposal = Commit(
            parents=(ref.commit,),
            author=by,
            time=now_utc(),
            message=f"Foreign change to {found.dataset}, as a merge for the gate",
            datasets={**head.datasets, found.dataset: new},
            changes={found.dataset: done},
            contracts=dict(head.contracts),
        )
        source = f"foreign versions {', '.join(str(v.version) for v in found.foreign)} of {found.dataset}"
        prep = prepare_merge(
            self._commits,
            self._contracts,
            self._layers,
            source=source,
            source_id=self._commits.put(proposal),
            target=ref,
            strategy="fail",
        )
        report = evaluate(self._gate_context, prep)
        return verdict_metadata(report, force=force, reason=reason, approval=None, by=by)

    def table_uri(self, dataset: str) -> str:
        """Where main's copy of ``dataset`` lives as a plain Delta table."""
        return self._layers.uri(check_readable_dataset_name(dataset))

    def snapshot(self, dataset: str, ref: str | None = None) -> Snapshot:
        """What ``dataset`` is at a branch, tag or commit (default: the default branch): its
        layers, schema, rows and files. Raises :class:`DatasetNotFoundError` when the ref holds no
        such dataset, and :class:`RefNotFoundError` when ``ref`` names nothing."""
        ref = ref or self.default_branch
        snap = self._commits.get(self.resolve(ref)).datasets.get(dataset)
        if snap is None:
            raise DatasetNotFoundError(
                f"no dataset {dataset!r} at {ref!r}", hint=f"'lake datasets --ref {ref}' lists them"
            )
        return snap

    def _view(self, dataset: str, ref: str | None) -> View:
        return View(self._layers, dataset, self.snapshot(dataset, ref))

    @reports_progress
    def read(
        self,
        dataset: str,
        ref: str | None = None,
        *,
        columns: list[str] | None = None,
        where: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> pa.Table:
        """``dataset`` at a branch, tag or commit, as a pyarrow Table; ``where`` (SQL) keeps the
        rows it selects, reading only the files whose statistics may hold one."""
        view = self._view(dataset, ref)
        if columns:
            unknown = [c for c in columns if c not in view.schema.names]
            if unknown:
                raise InvalidInputError(f"{dataset} has no column(s) {', '.join(unknown)}")
        if where is None:
            return view.to_arrow(columns)
        table = view.to_arrow(refs=selected(view, where).files)
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        kept = table.filter(selects(frame, where).to_arrow())
        return kept.select(columns) if columns else kept

    def scan(self, dataset: str, ref: str | None = None, *, where: str | None = None) -> pl.LazyFrame:
        """``dataset`` at a branch, tag or commit, as a polars LazyFrame; ``where`` (SQL) keeps the
        rows it selects, scanning only the files whose statistics may hold one."""
        view = self._view(dataset, ref)
        if where is None:
            return view.scan()
        chosen = selected(view, where)
        return view.scan(chosen.files).filter(chosen.predicate)

    def diff(self, base: str, target: str, *, dataset: str | None = None) -> Diff:
        """What changed from ``base`` to ``target`` (branches, tags or commits): for each dataset
        that differs, the files and rows added and removed and its schema changes. ``dataset``
        limits it to that one (a dataset neither holds gives an empty diff).
        :class:`RefNotFoundError` when a ref names nothing."""
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
        """Write ``dataset`` at ``ref`` as a standalone Delta table any reader can open, replacing
        what is there (copies data, a file at a time); see :meth:`export`."""
        return self.export(dataset, target_uri, ref, overwrite=True, storage_options=storage_options).uri

    @reports_progress
    def export(
        self,
        dataset: str,
        to: str,
        ref: str | None = None,
        *,
        format: ExportFormat = "delta",
        overwrite: bool = False,
        storage_options: Mapping[str, str] | None = None,
        progress: ProgressCallback | None = None,
    ) -> Exported:
        """Copy ``dataset`` at a branch, tag or commit to ``to`` (a local path or ``s3://`` URI)
        as a plain Delta table (``format='delta'``, partitioned as the dataset is) or as parquet
        files, holding exactly the ref's rows: any engine reads it without lakegate. Streams a
        file at a time. An S3 target uses the repository's endpoint and credentials unless
        ``storage_options`` are given. Refuses a target that holds files unless ``overwrite``."""
        commit = self._commit_of(ref)  # resolved once: the commit reported is the one exported
        view = self._view(dataset, commit)
        return export(
            view,
            commit,
            to,
            self.config,
            fmt=format,
            overwrite=overwrite,
            storage_options=storage_options,
        )

    def files(self, dataset: str, ref: str | None = None, *, manifest: str | None = None) -> RefFiles:
        """The data files of ``dataset`` at a ref and the schema to read them with, for engines
        that read a file list (Spark, DuckDB, Trino, Presto). ``manifest``: also write Delta's
        symlink-format manifest below that folder (``_symlink_format_manifest/manifest``, one a
        partition), which Presto, Trino and Athena read as a table. The files are the lake's own:
        ``lake gc`` may remove them once no ref needs them, so read them while the ref holds."""
        commit = self._commit_of(ref)  # resolved once: the commit reported is the one listed
        view = self._view(dataset, commit)
        listed = ref_files(view, commit)
        if manifest is not None:
            write_manifest(view, manifest, self.config)
        return listed

    def to_arrow_dataset(self, dataset: str, ref: str | None = None) -> pads.Dataset:
        """``dataset`` at a ref as a pyarrow dataset: lazy, read by file, with projections and
        filters (partition columns included) pushed into the scan; any Arrow engine scans it."""
        return arrow_dataset(self._view(dataset, ref))

    def to_duckdb(
        self, dataset: str, ref: str | None = None, connection: duckdb.DuckDBPyConnection | None = None
    ) -> duckdb.DuckDBPyRelation:
        """``dataset`` at a ref as a DuckDB relation (on ``connection``, default a new in-memory
        one), read through pyarrow: local disk and S3 alike, with no DuckDB extension to
        download. Needs the ``duckdb`` extra (``pip install 'lakegate[duckdb]'``)."""
        try:
            import duckdb
        except ImportError as exc:
            raise UsageError(
                "DuckDB is not installed", hint="pip install 'lakegate[duckdb]' (or pip install duckdb)"
            ) from exc
        con = connection if connection is not None else duckdb.connect()
        return con.from_arrow(self.to_arrow_dataset(dataset, ref))

    def _commit_of(self, ref: str | None) -> str:
        return self.resolve(ref or self.default_branch)

    def revert(
        self,
        commit: str,
        *,
        branch: str | None = None,
        parent: int | None = None,
        strategy: RevertStrategy = "fail",
        message: str | None = None,
        author: str | None = None,
    ) -> WriteResult:
        """Make a new commit on ``branch`` that undoes the rows ``commit`` changed: the rows it
        added that are still there go, the rows it removed come back, however later commits
        rewrote its files. Rows match by the primary key of the contract in force (the
        branch's, else the commit's), else by whole rows, counting duplicates.

        A row a later commit changed again is a conflict: ``strategy`` ``fail`` (default)
        raises :class:`RevertConflictError`, ``revert-wins`` brings the row before the commit
        back anyway, ``current-wins`` keeps the branch's row. A merge commit is reverted
        against one of its parents, ``parent`` (1-based, as git's ``-m``: 1 is the branch
        merged into), and refused without one."""
        if strategy not in REVERT_STRATEGIES:
            raise InvalidInputError(
                f"unknown revert strategy {strategy!r}", hint=f"use one of {', '.join(REVERT_STRATEGIES)}"
            )
        cid = self.resolve(commit)
        target = self._commits.get(cid)
        parents = target.parents
        if not parents:
            raise RefusedError(
                f"commit {cid[:12]} is the repository's first commit; there is nothing to revert"
            )
        listed = ", ".join(f"{i} = {p[:12]}" for i, p in enumerate(parents, 1))
        if parent is None and len(parents) > 1:
            raise InvalidInputError(
                f"commit {cid[:12]} is a merge (parents {listed}): say which parent is the mainline",
                hint=f"lake revert {cid[:12]} --parent 1 undoes what the merge brought into the branch "
                "it was merged into (Python: parent=1)",
            )
        if parent is not None and not 1 <= parent <= len(parents):
            raise InvalidInputError(
                f"commit {cid[:12]} has no parent {parent} (parents {listed})",
                hint=f"--parent takes 1 to {len(parents)}",
            )
        mainline = parents[(parent or 1) - 1]
        base = self._commits.get(mainline)
        on = branch or self.default_branch
        head = self._commits.get(self.resolve(f"refs/heads/{on}"))
        ops: list[Op] = []
        for name in sorted(set(target.datasets) | set(base.datasets)):
            before, after = base.datasets.get(name), target.datasets.get(name)
            if before == after:
                continue
            if after is None or (before is not None and before.schema != after.schema):
                raise RefusedError(
                    f"commit {cid[:12]} changed the schema of {name!r} (or dropped it); "
                    "revert cannot undo that",
                    hint="overwrite the dataset with the data you want instead",
                )
            contract = head.contracts.get(name) or target.contracts.get(name)
            key = tuple(self._contracts.get(contract).primary_key) if contract else ()
            ops.append(Revert(name, cid, before, after, key, strategy))
        metadata: dict[str, Any] = {"lake.revert": cid}
        if len(parents) > 1 or parent is not None:
            metadata["lake.revert_parent"] = parent
        if strategy != "fail":
            metadata["lake.revert_strategy"] = strategy
        return Branch(self, on).commit(
            ops,
            message=message or f"Revert {cid[:12]}: {target.message}",
            author=author,
            metadata=metadata,
        )


def _merge_ops(prep: PreparedMerge, strategy: Strategy) -> list[Op]:
    """The operations of a merge commit: the target's new contracts, then each dataset's merge,
    carrying the plan the gate judged (and the key it was made by)."""
    before = prep.target_commit.contracts
    ops: list[Op] = [SetContract(k, v) for k, v in prep.contracts.items() if before.get(k) != v]
    ops += [SetContract(k, None) for k in before if k not in prep.contracts]
    base, source, target = prep.base, prep.source_commit, prep.target_commit
    for name, plan in sorted(prep.plans.items()):
        if plan.action != "keep":
            ops.append(
                MergeDataset.planned(
                    plan,
                    base=base.datasets.get(name) if base else None,
                    source=source.datasets.get(name),
                    target=target.datasets.get(name),
                    strategy=strategy,
                )
            )
    return ops


class Publication(Branch):
    """The branch of a :meth:`Repository.publish` block: write to it as to any branch. After the
    block, ``result`` is the merge's result (None until it merged, or when nothing was written)
    and ``report`` the gate's report."""

    def __init__(self, repo: Repository, name: str, target: str) -> None:
        super().__init__(repo, name)
        self.target = target
        self.result: MergeResult | None = None
        self.report: GateReport | None = None


def _write_report(report: GateReport, path: str | Path) -> str:
    """Write ``report`` at ``path`` in the format its suffix names; return the path."""
    target = Path(path)
    suffix = target.suffix.lower()
    text = {
        ".md": report.to_markdown,
        ".markdown": report.to_markdown,
        ".html": report.to_html,
        ".json": report.to_json,
        ".xml": report.to_junit,
    }.get(suffix, report.to_text)()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot write the gate report to {target}: {exc.strerror or exc}") from exc
    return str(target)
