"""The operations a commit is made of, as data, and the one dispatch that plans each of them.

Every operation is a frozen dataclass: a transaction's operations can be printed, compared and
tested. :func:`plan` is one ``functools.singledispatch`` over them, as pyiceberg applies its
``TableUpdate``s (``_apply_table_update``): for an operation on a dataset's rows it returns the
:class:`~lake.table.change.Change` it makes to the dataset as the draft holds it; an operation on
the commit itself (its contracts, the branch's rules) edits the draft and returns None.
What happens around the plan (checks, files, Delta commits, the ref) is
:mod:`lake.write.commit`'s.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import pyarrow as pa

from lake.errors import InvalidInputError, MergeConflictError
from lake.graph.commits import Snapshot
from lake.table.change import Change
from lake.table.revert import RevertStrategy
from lake.table.streams import Stream
from lake.table.threeway import DatasetPlan, Strategy, plan_dataset
from lake.write.draft import Draft
from lake.write.plan import SchemaMode, plan_delete, plan_revert, plan_upsert, plan_write

OnViolation = Literal["reject", "quarantine"]


def _repr(op: Any) -> str:
    """Fields as the dataclass repr shows them, but a table as its size: ``<3 rows>``."""
    shown = []
    for f in fields(op):
        value = getattr(op, f.name)
        if isinstance(value, pa.Table):
            shown.append(f"{f.name}=<{value.num_rows} rows>")
        elif f.metadata.get("shown") == "if set" and value is None:
            continue
        elif f.repr:
            shown.append(f"{f.name}={value!r}")
    return f"{type(op).__name__}({', '.join(shown)})"


@dataclass(frozen=True, repr=False)
class Append:
    dataset: str
    data: pa.Table | Stream  # a stream is read once, slice by slice (lake.write.stream)
    schema_mode: SchemaMode = "strict"
    on_violation: OnViolation = "reject"
    # for a new dataset (None: the contract's, or none)
    partition_by: tuple[str, ...] | None = field(default=None, metadata={"shown": "if set"})
    __repr__ = _repr


@dataclass(frozen=True, repr=False)
class Overwrite:
    dataset: str
    data: pa.Table | Stream
    schema_mode: SchemaMode = "strict"
    on_violation: OnViolation = "reject"
    replace_where: str | None = None  # SQL: replace only the rows it selects (Delta's replaceWhere)
    # a new dataset's, or a new layout with schema_mode='overwrite'
    partition_by: tuple[str, ...] | None = field(default=None, metadata={"shown": "if set"})
    __repr__ = _repr


@dataclass(frozen=True, repr=False)
class Upsert:
    dataset: str
    data: pa.Table
    key: tuple[str, ...]
    schema_mode: SchemaMode = "strict"
    on_violation: OnViolation = "reject"
    # for a new dataset (None: the contract's, or none)
    partition_by: tuple[str, ...] | None = field(default=None, metadata={"shown": "if set"})
    __repr__ = _repr


@dataclass(frozen=True)
class Delete:
    dataset: str
    where: str  # a SQL predicate: the rows for which it is true go


@dataclass(frozen=True)
class Revert:
    """Undo the rows one commit changed in the dataset: from ``before`` (the dataset at the
    commit's mainline parent; None: the commit created it) to ``after`` (at the commit).
    Rows match by ``key`` (the primary key, chosen once when the revert was asked for; empty:
    whole rows); later changes to the same rows are conflicts that ``strategy`` decides."""

    dataset: str
    commit: str  # the commit undone
    before: Snapshot | None = field(repr=False)
    after: Snapshot = field(repr=False)
    key: tuple[str, ...] = ()
    strategy: RevertStrategy = "fail"


@dataclass(frozen=True)
class MergeDataset:
    """Merge ``source`` into the target's snapshot of the dataset, against ``base``. Planned when
    the merge was prepared (``prepared``, judged by the gate) while the target still holds
    ``target``; planned again, by the same ``key`` and ``strategy``, if it moved since."""

    dataset: str
    base: Snapshot | None
    source: Snapshot | None
    target: Snapshot | None
    key: tuple[str, ...]  # the primary key, chosen once when the merge was prepared
    strategy: Strategy
    prepared: Change | None = field(default=None, repr=False, compare=False)  # follows from the rest

    @classmethod
    def planned(
        cls,
        plan: DatasetPlan,
        *,
        base: Snapshot | None,
        source: Snapshot | None,
        target: Snapshot | None,
        strategy: Strategy,
    ) -> MergeDataset:
        return cls(plan.dataset, base, source, target, plan.key, strategy, plan.change)


@dataclass(frozen=True)
class SetContract:
    dataset: str
    contract: str | None  # the contract's key in the contract store; None removes the contract


@dataclass(frozen=True)
class SetRules:
    """Change the branch's rules (None: leave that rule as it is)."""

    protected: bool | None = None
    require_contracts: bool | None = None

    @property
    def settings(self) -> dict[str, bool]:
        pairs = (("protected", self.protected), ("require_contracts", self.require_contracts))
        return {k: v for k, v in pairs if v is not None}


@dataclass(frozen=True)
class Optimize:
    """Compact the small files of ``dataset`` into files of about ``target_size`` bytes: no row
    changes (:mod:`lake.write.optimize`), so it is allowed on a protected branch."""

    dataset: str
    target_size: int


Decision = Literal["auto", "adopt", "undo"]


@dataclass(frozen=True)
class Adopt:
    """Take in the Delta versions another engine committed to the branch's layer of ``dataset``
    (:mod:`lake.table.foreign`). ``auto``: what the commit loop does when it meets them (a
    compaction always; a data change on an unprotected branch once the contract passes; else
    refuse); ``adopt``: a person decided to keep them (the gate has judged them); ``undo``: a
    person decided to take them out of the table."""

    dataset: str
    decision: Decision = "auto"


Batch = Append | Overwrite | Upsert  # the operations that bring rows (checked by the contract)
DataOp = Batch | Delete | Revert | MergeDataset  # the operations on a dataset's rows
Op = DataOp | SetContract | SetRules | Adopt | Optimize


def check_on_violation(mode: str) -> None:
    if mode not in ("reject", "quarantine"):
        raise InvalidInputError(f"unknown on_violation {mode!r}: use 'reject' or 'quarantine'")


def plan(op: Op, draft: Draft, rows: pa.Table | None = None) -> Change | None:
    """What ``op`` does to ``draft``. ``rows`` are the rows a :data:`Batch` brings as they will
    be written (cast to the dataset's contract, less any set aside). The change names the
    partition columns its files are written by."""
    change = _plan(op, draft, rows)
    if change is not None and change.partition_by is None:
        view = draft.view(op.dataset) if isinstance(op, DataOp) else None
        change.partition_by = view.snapshot.partition_by if view is not None else ()
    return change


@functools.singledispatch
def _plan(op: Op, draft: Draft, rows: pa.Table | None = None) -> Change | None:
    raise TypeError(f"no planner for {type(op).__name__}")


@_plan.register(Append)
def _append(op: Append, draft: Draft, rows: pa.Table | None = None) -> Change:
    data = op.data if rows is None else rows
    return plan_write(
        draft.view(op.dataset), data, mode="append", schema_mode=op.schema_mode, partition_by=op.partition_by
    )


@_plan.register(Overwrite)
def _overwrite(op: Overwrite, draft: Draft, rows: pa.Table | None = None) -> Change:
    data = op.data if rows is None else rows
    return plan_write(
        draft.view(op.dataset),
        data,
        mode="overwrite",
        schema_mode=op.schema_mode,
        replace_where=op.replace_where,
        partition_by=op.partition_by,
    )


@_plan.register(Upsert)
def _upsert(op: Upsert, draft: Draft, rows: pa.Table | None = None) -> Change:
    data = op.data if rows is None else rows
    return plan_upsert(
        draft.view(op.dataset), data, op.key, schema_mode=op.schema_mode, partition_by=op.partition_by
    )


@_plan.register(Delete)
def _delete(op: Delete, draft: Draft, rows: pa.Table | None = None) -> Change:
    return plan_delete(draft.existing(op.dataset), op.where)


@_plan.register(Revert)
def _revert(op: Revert, draft: Draft, rows: pa.Table | None = None) -> Change:
    return plan_revert(
        op.dataset,
        draft.view(op.dataset),
        op.before,
        op.after,
        commit=op.commit,
        key=op.key,
        strategy=op.strategy,
    )


@_plan.register(MergeDataset)
def _merge(op: MergeDataset, draft: Draft, rows: pa.Table | None = None) -> Change:
    view = draft.view(op.dataset)
    current = view.snapshot if view is not None else None
    if current == op.target and op.prepared is not None:
        return op.prepared  # the target has not moved since the merge was planned
    again = plan_dataset(
        draft.layers, op.dataset, op.base, op.source, current, primary_key=op.key, strategy=op.strategy
    )
    if again.conflicts and op.strategy == "fail":
        raise MergeConflictError(again.conflicts)
    if again.change is None:
        assert view is not None
        return Change("merge", view.schema)
    return again.change


@_plan.register(SetContract)
def _set_contract(op: SetContract, draft: Draft, rows: pa.Table | None = None) -> None:
    draft.set_contract(op.dataset, op.contract)


@_plan.register(SetRules)
def _set_rules(op: SetRules, draft: Draft, rows: pa.Table | None = None) -> None:
    draft.set_rules(op.settings)


def batch_of(op: Op) -> pa.Table | None:
    """The rows ``op`` brings, if it brings any in memory (a stream is checked slice by slice)."""
    return op.data if isinstance(op, Batch) and isinstance(op.data, pa.Table) else None


def quarantines(op: Op) -> bool:
    """Whether rows of ``op`` that break the contract are set aside instead of refusing all."""
    return isinstance(op, Batch) and op.on_violation == "quarantine"
