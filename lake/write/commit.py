"""The commit loop. Every change to a branch goes through it: writes, deletes, upserts,
transactions, merges, reverts, contract changes and changes of the branch's rules.

One attempt, as docs/architecture.md tells it ("The commit and ref protocol"):

1. :func:`_begin`: read the branch's ref and its head commit, and draft the next commit;
2. :func:`_apply` each operation: plan it (:func:`lake.write.ops.plan`), check it against the
   dataset's contract (:mod:`lake.write.check`), write its files, and :func:`_delta_commit` one
   Delta version of the dataset's layer at exactly the version after the one the head names;
3. :func:`_commit_object`: the commit, content-addressed;
4. :func:`_move`: compare-and-swap the ref. If it moved, rebase onto the new head when that left
   the touched datasets alone; else start over at 1. A Delta version taken by another writer
   also starts over (:class:`~lake.write.patience.Patience` says when to heal, wait or give up);
5. the after-commit hook the repository injects (it keeps the profiles of protected branches).
"""

from __future__ import annotations

import functools
import getpass
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from lake import kill
from lake.errors import ConcurrentUpdateError, InvalidInputError, RefNotFoundError, RefusedError
from lake.graph.commits import Commit, CommitStore, DatasetChange, now_utc
from lake.graph.names import QUARANTINE_SUFFIX, case_clash
from lake.graph.refs import Ref, RefStore
from lake.stores.contracts import ContractStore
from lake.table.change import Change, apply_change
from lake.table.foreign import ForeignVersions, Pending
from lake.table.layers import Layers, VersionTaken
from lake.write.adopt import apply_adopt
from lake.write.check import Checked, SetAside, Written, check, contract_in_force, quarantine_op
from lake.write.draft import Draft
from lake.write.ops import (
    Adopt,
    Decision,
    Delete,
    MergeDataset,
    Op,
    Optimize,
    SetContract,
    SetRules,
    plan,
)
from lake.write.optimize import compact
from lake.write.patience import Patience
from lake.write.references import refuse_orphans, written
from lake.write.results import WriteResult
from lake.write.stage import Files, Staged, blind_append, is_noop, rows
from lake.write.stream import Streamed, aside_change, check_stream, is_stream

T = TypeVar("T")


def default_author() -> str:
    return os.environ.get("LAKE_AUTHOR") or getpass.getuser()


@dataclass(frozen=True)
class Landed:
    """A commit that moved its branch, as the after-commit hook is told of it."""

    id: str
    commit: Commit  # as it landed (rebased, if another writer had moved the branch meanwhile)
    ref: Ref  # the branch as the attempt found it: its rules before the commit
    head: Commit  # the commit the attempt built on
    rules: Mapping[str, bool] | None  # the rules the commit set, if any


class HeadMoved(Exception):
    """The branch is no longer at the head the caller judged (``commit(expect_head=...)``):
    nothing was committed; judge the branch as it is now, and commit again."""


def _nothing(_landed: Landed) -> None:
    return None


@dataclass(frozen=True)
class WriteContext:
    """What the commit loop works with: one repository's stores, and what to do after a commit."""

    commits: CommitStore
    refs: RefStore
    layers: Layers
    contracts: ContractStore
    default_branch: str = "main"
    after_commit: Callable[[Landed], None] = _nothing

    def own_layer(self, ref: Ref) -> str:
        """The layer a branch writes its files to: main's table itself, else its own."""
        return "" if ref.name == self.default_branch else f"_branches/{ref.branch_id}"


@dataclass
class Txn:
    """One transaction, across the attempts the loop makes of it."""

    branch: str
    message: str
    author: str = ""  # who the commit names (the caller's, else default_author())
    parameters: dict[str, str] = field(default_factory=dict)  # Delta operation parameters for all
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    patience: Patience = field(default_factory=Patience)
    staged: dict[int, Staged] = field(default_factory=dict)  # files of blind appends, by op
    streamed: dict[int, Streamed] = field(default_factory=dict)  # what streamed ops wrote, by op
    adopted: list[Mapping[str, Any]] = field(default_factory=list)  # foreign versions adopted first

    def delta_metadata(self) -> dict[str, str]:
        meta = {"lake.txn": self.id, "lake.branch": self.branch, "lake.message": self.message[:200]}
        return {**meta, "lake.author": self.author}


def commit(
    ctx: WriteContext,
    branch: str,
    ops: Sequence[Op],
    *,
    message: str,
    author: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    merged: str | None = None,
    expect_head: str | None = None,
    patience: Patience | None = None,
) -> WriteResult:
    """Make ``ops`` one commit on ``branch`` (with ``merged`` as second parent: a merge).
    ``expect_head``: commit only on top of that head (what a merge's gate judged), never rebased
    or redone on another: raise :class:`HeadMoved` instead. ``patience``: the caller's, kept
    across its attempts (the Delta versions an earlier attempt left are then healed at once)."""
    txn = Txn(branch, message, author or default_author(), _delta_parameters(metadata or {}))
    if patience is not None:
        txn.patience = patience
    while not txn.patience.exhausted():
        draft = _begin(ctx, txn, merged)
        if expect_head is not None and draft.ref.commit != expect_head:
            raise HeadMoved(branch)
        try:
            for index, op in enumerate(ops):
                _apply(ctx, draft, txn, index, op, written(ops[index + 1 :]))
        except VersionTaken:
            txn.patience.backoff()
            continue
        except ForeignVersions as found:
            if any(isinstance(op, Adopt) and op.dataset == found.pending.dataset for op in ops):
                raise  # an adoption that meets more foreign versions: start it over from the top
            adopted = adopt_foreign(ctx, branch, found.pending)
            txn.adopted.extend(adopted.adopted)
            continue
        if draft.unchanged():
            return _result(txn, draft, draft.ref.commit)
        landed = _move(ctx, draft, _commit_object(draft, txn, metadata), rebase=expect_head is None)
        if landed is not None:
            ctx.after_commit(landed)
            return _result(txn, draft, landed.id)
        txn.patience.backoff()
    raise ConcurrentUpdateError(
        f"branch {branch!r}: no writer made progress for {txn.patience.stall_seconds:.0f} s "
        f"({txn.patience.attempts} attempts); gave up",
        hint="nothing was committed; run the operation again",
    )


def adopt_foreign(
    ctx: WriteContext, branch: str, found: Pending, decision: Decision = "auto", **meta: Any
) -> WriteResult:
    """Make the foreign versions ``found`` a commit of their own on ``branch``, before the work
    that met them goes on (see :mod:`lake.write.adopt`): author and operation from their commitInfo."""
    versions = found.foreign
    first = versions[0] if versions else None
    what = ", ".join(f"{v.version} ({v.operation})" for v in versions) or "(unknown)"
    verb = {"auto": "Adopt", "adopt": "Adopt", "undo": "Undo"}[decision]
    record = {
        "dataset": found.dataset,
        "decision": decision,
        "versions": [v.version for v in versions],
        "operations": [v.operation for v in versions],
        "engines": sorted({v.engine for v in versions}),
        "data_change": found.data_change,
    }
    result = commit(
        ctx,
        branch,
        [Adopt(found.dataset, decision)],
        message=f"{verb} Delta version(s) {what} of {found.dataset}, written by "
        f"{first.engine if first else 'another engine'}",
        author=(first.author or first.engine) if first else None,
        metadata={"lake.adopt": record, **meta},
    )
    return replace(result, adopted=({"commit": result.commit, **record}, *result.adopted))


def _delta_parameters(metadata: Mapping[str, Any]) -> dict[str, str]:
    """What a merge or a revert adds to the parameters of every Delta commit it makes."""
    merge = metadata.get("lake.merge")
    if isinstance(merge, Mapping):
        return {
            "source": f"{merge.get('source')}@{str(merge.get('source_commit', ''))[:12]}",
            "strategy": str(merge.get("strategy", "")),
        }
    if metadata.get("lake.revert"):
        return {"commit": str(metadata["lake.revert"])}
    return {}


def _begin(ctx: WriteContext, txn: Txn, merged: str | None) -> Draft:
    ref = ctx.refs.require(txn.branch)
    txn.patience.begin(ref.commit)
    return Draft.begin(ctx.layers, ref, ctx.commits.get(ref.commit), ctx.own_layer(ref), merged)


def _apply(ctx: WriteContext, draft: Draft, txn: Txn, index: int, op: Op, later: set[str]) -> None:
    """Carry ``op`` out on ``draft``: an operation on the commit edits it; one on a dataset's
    rows is planned, checked (references across datasets by the last operation of the
    transaction that writes either end), and committed to the dataset's Delta layer."""
    if isinstance(op, SetContract | SetRules):
        plan(op, draft)
        return
    if isinstance(op, Optimize):
        compacted = compact(ctx.layers, draft.existing(op.dataset), draft.own, op.target_size)
        if compacted is not None:
            _delta_commit(ctx, draft, txn, op.dataset, compacted[0], compacted[1])
        return
    if isinstance(op, Adopt):
        apply_adopt(
            ctx.layers,
            draft,
            op,
            contract_in_force(ctx.contracts, draft, op.dataset) if op.dataset in draft.datasets else None,
            metadata=txn.delta_metadata(),
            may_heal=functools.partial(txn.patience.may_heal, op.dataset, draft.own),
        )
        return
    if isinstance(op, MergeDataset):
        checked = Checked(_planned(op, draft))  # judged by the merge gate, not per write
    else:
        checked = _check(ctx, draft, txn, index, op)
    if checked.report is not None:
        draft.reports[op.dataset] = checked.report
    refuse_orphans(ctx.layers, ctx.contracts, draft, op.dataset, checked, later)
    _delta_commit(ctx, draft, txn, op.dataset, checked.change, checked.files)
    if isinstance(checked.aside, SetAside):
        change = aside_change(op.dataset, checked.aside, draft)
        _delta_commit(ctx, draft, txn, op.dataset + QUARANTINE_SUFFIX, change, None)
    elif checked.aside is not None:
        aside = quarantine_op(op.dataset, checked.aside, txn.id)
        _delta_commit(ctx, draft, txn, aside.dataset, _planned(aside, draft), None)


def _planned(op: Op, draft: Draft) -> Change:
    change = plan(op, draft)
    assert change is not None
    return change


def _check(ctx: WriteContext, draft: Draft, txn: Txn, index: int, op: Written) -> Checked:
    """Plan and check an operation a person wrote, under the branch's rules and contracts."""
    if isinstance(op, Delete):
        draft.existing(op.dataset)
    if draft.ref.protected:
        raise RefusedError(
            f"branch {draft.branch!r} is protected: it changes only by merges",
            hint=f"write on a branch and merge it: lake merge BRANCH --into {draft.branch}",
        )
    if op.dataset not in draft.datasets:
        _refuse_case_clash(ctx, draft, op.dataset)
    contract = contract_in_force(ctx.contracts, draft, op.dataset)
    if is_stream(op):
        streamed = txn.streamed[index] = check_stream(
            ctx.layers, op, draft, contract, txn.streamed.get(index), txn.id
        )
        return streamed.checked
    checked = check(ctx.layers, op, draft, contract, txn.staged.get(index))
    if checked.files is not None and blind_append(checked.change):
        txn.staged[index] = Staged(checked.change.schema, rows(checked.change), checked.files)
    return checked


def _delta_commit(
    ctx: WriteContext, draft: Draft, txn: Txn, dataset: str, change: Change, files: Files | None
) -> None:
    """Commit ``change`` as one Delta version of ``dataset``'s layer on this branch, at exactly
    the version after the one the draft names (else :class:`VersionTaken`)."""
    view = draft.view(dataset)
    if is_noop(change, view):
        draft.record(dataset, None, DatasetChange(change.operation))
        return
    new, done = apply_change(
        ctx.layers,
        dataset,
        draft.datasets.get(dataset),
        view,
        draft.own,
        change,
        metadata=txn.delta_metadata(),
        may_heal=functools.partial(txn.patience.may_heal, dataset, draft.own),
        staged=files,
        parameters=txn.parameters,
    )
    txn.patience.committed(dataset, draft.own, new.layers[-1].version)
    draft.record(dataset, new, done)


def _commit_object(draft: Draft, txn: Txn, metadata: Mapping[str, Any] | None) -> Commit:
    meta: dict[str, Any] = {**(metadata or {})}
    if draft.rules is None:  # a change of rules alone has always been recorded without it
        meta["lake.txn"] = txn.id
    if draft.reports:
        meta["lake.validation"] = {d: r.summary() for d, r in sorted(draft.reports.items())}
    return Commit(
        parents=(draft.ref.commit,) if draft.merged is None else (draft.ref.commit, draft.merged),
        author=txn.author,
        time=now_utc(),
        message=txn.message,
        datasets=draft.datasets,
        changes=draft.changes,
        metadata=meta,
        contracts=draft.contracts,
    )


def _move(ctx: WriteContext, draft: Draft, commit: Commit, *, rebase: bool = True) -> Landed | None:
    """Compare-and-swap the branch to ``commit``. On a race, rebase onto the new head when it
    left the touched datasets (and their contracts) alone; None: it did not, redo the work.
    Without ``rebase``, a race raises :class:`HeadMoved`."""
    ref, head, settings = draft.ref, draft.head, draft.rules or {}
    while True:
        kill.point("commit.stored.before")
        cid = ctx.commits.put(commit)
        kill.point("commit.stored")
        try:
            ctx.refs.move(ref, cid, **settings)
            return Landed(cid, commit, draft.ref, draft.head, draft.rules)
        except ConcurrentUpdateError:
            now = ctx.refs.require(ref.name)
            if _landed_below(ctx.commits, now.commit, ref.commit, cid):
                # our swap landed though its answer was lost, and another writer built on it
                return Landed(cid, commit, draft.ref, draft.head, draft.rules)
            if not rebase:
                raise HeadMoved(ref.name) from None
            if now.branch_id != ref.branch_id:
                raise RefNotFoundError(
                    f"branch {ref.name!r} was deleted and created again during the write"
                ) from None
            current = ctx.commits.get(now.commit)
            if any(
                current.datasets.get(d) != head.datasets.get(d)
                or current.contracts.get(d) != head.contracts.get(d)
                for d in draft.touched
            ):
                return None
            commit = _rebase(commit, now.commit, current, draft.touched)
            ref, head = now, current


def _landed_below(commits: CommitStore, head: str, old: str, mine: str) -> bool:
    """Whether ``mine`` is on the first-parent chain from ``head`` down to ``old`` (the head this
    attempt built on): the branch moved past a commit of ours whose swap did land."""
    at: str | None = head
    while at is not None and at != old:
        if at == mine:
            return True
        parents = commits.get(at).parents
        at = parents[0] if parents else None
    return False


def _rebase(commit: Commit, onto_id: str, onto: Commit, touched: set[str]) -> Commit:
    """``commit`` made on top of ``onto``: its datasets and contracts for ``touched``, the
    rest as ``onto`` holds them."""
    datasets = dict(onto.datasets)
    contracts = dict(onto.contracts)
    for d in touched:
        _carry(d, commit.datasets, datasets)
        _carry(d, commit.contracts, contracts)
    parents = (onto_id, *commit.parents[1:])  # a merge stays a merge: its second parent is kept
    return replace(commit, parents=parents, datasets=datasets, contracts=contracts, time=now_utc())


def _carry(key: str, ours: Mapping[str, T], theirs: dict[str, T]) -> None:
    """Make ``theirs[key]`` what ``ours`` says, absence included."""
    if key in ours:
        theirs[key] = ours[key]
    else:
        theirs.pop(key, None)


def _result(txn: Txn, draft: Draft, commit_id: str) -> WriteResult:
    return WriteResult(
        txn.branch,
        commit_id,
        draft.ref.commit,
        draft.changes,
        txn.patience.attempts,
        draft.reports,
        tuple(txn.adopted),
    )


def _refuse_case_clash(ctx: WriteContext, draft: Draft, name: str) -> None:
    """Refuse a new dataset whose name differs only in case from one the branch (as the draft
    holds it) or the default branch holds: the two folders would be one on macOS, Windows and
    in Spark. Only a dataset's first write pays the default branch's head read."""
    existing = set(draft.datasets)
    if draft.branch != ctx.default_branch:
        existing |= set(ctx.commits.get(ctx.refs.require(ctx.default_branch).commit).datasets)
    other = case_clash(name, existing)
    if other is not None:
        raise InvalidInputError(
            f"dataset name {name!r} differs from the existing dataset {other!r} only in case",
            hint=f"write to {other!r}, or choose a name that differs in more than case",
        )
