"""The check step of the commit loop: plan a write with the rows cast to the dataset's contract,
judge what the dataset will be, and either pass the change on, refuse it, or set the rows that
break the contract aside for ``<dataset>__quarantine`` (``on_violation='quarantine'``)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import polars as pl
import pyarrow as pa

from lake.contracts import Contract
from lake.errors import InvalidInputError, RefusedError
from lake.graph.commits import Snapshot
from lake.graph.names import QUARANTINE_SUFFIX, is_quarantine
from lake.stores.contracts import ContractStore
from lake.stores.summaries import kept_rows
from lake.table.change import Change
from lake.table.layers import Layers
from lake.table.views import FileRef, KeptRows, View
from lake.validation.engine import VIOLATIONS, Typed, add_name, cast_to_contract
from lake.validation.report import ContractViolationError, ValidationReport
from lake.validation.rows import CheckedRows, check_rows
from lake.write.draft import Draft
from lake.write.ops import Append, Batch, Delete, Overwrite, Revert, batch_of, plan, quarantines
from lake.write.stage import Files, Staged, overlap, stage

TXN_COLUMN = "_lake_txn"  # quarantined rows name the transaction that set them aside

Written = Batch | Delete | Revert  # the operations a person writes, each checked on its own


@dataclass(frozen=True)
class SetAside:
    """Rows a streamed write set aside for quarantine, in files of the quarantine dataset's
    layer already (each row naming the transaction, as :func:`quarantine_op` adds)."""

    schema: pa.Schema
    files: tuple[FileRef, ...]


@dataclass(frozen=True)
class Checked:
    change: Change
    report: ValidationReport | None = None  # None: the dataset has no contract
    aside: pa.Table | SetAside | None = None  # the rows set aside for quarantine, as strings
    files: Files | None = None  # the change's data files, written or being written


def contract_in_force(store: ContractStore, draft: Draft, dataset: str) -> Contract | None:
    key = draft.contracts.get(dataset)
    if key is not None:
        return store.get(key)
    if draft.ref.require_contracts and not is_quarantine(dataset):
        raise RefusedError(
            f"branch {draft.branch!r} requires a contract for every dataset, and {dataset!r} has none",
            hint=f"set one first: lake contract set {dataset} FILE --branch {draft.branch}",
        )
    return None


def partitioned_as(op: Written, contract: Contract) -> Written:
    """``op`` with the contract's partition columns, which it may repeat but not contradict."""
    wanted = tuple(contract.partition_by)
    if not wanted or not isinstance(op, Batch):
        return op
    if op.partition_by is not None and tuple(op.partition_by) != wanted:
        raise InvalidInputError(
            f"the contract of {op.dataset!r} partitions it by {list(wanted)}; the write asks for "
            f"{list(op.partition_by)}",
            hint="leave partition_by out (the contract's applies), or change the contract",
        )
    return replace(op, partition_by=wanted)


def check(
    layers: Layers, op: Written, draft: Draft, contract: Contract | None, kept: Staged | None
) -> Checked:
    """Plan ``op``; with a contract, validate what the dataset will be. ``kept`` holds the files
    an earlier attempt wrote for the same blind append: they are reused."""
    raw = batch_of(op)
    aside = quarantines(op)
    if aside and raw is not None:
        refuse_reserved(raw)
    if contract is None:
        change = plan(op, draft, raw)
        assert change is not None
        return Checked(change, files=None if aside else stage(layers, op.dataset, draft.own, change, kept))
    typed = cast_to_contract(contract, raw) if raw is not None else None
    op = partitioned_as(op, contract)
    if isinstance(op, Overwrite) and op.replace_where and typed is not None and not aside:
        if typed.bad_rows is not None and bool(typed.bad_rows.any()):
            # A value that cannot be cast would be a NULL, outside the predicate: the cast is the verdict.
            raise ContractViolationError([check_rows(contract, typed.table, cast=typed.results).report])
    change = plan(op, draft, typed.table if typed is not None else None)
    assert change is not None
    files = None if aside else (kept.reuse(change) if kept is not None else None)
    files = files or (None if aside else overlap(layers, op.dataset, draft.own, change))
    try:
        checked = judge(contract, change, draft.view(op.dataset), typed, blame=aside)
    except BaseException:
        if files is not None:
            files.cancel()
        raise
    if checked.report.ok:
        files = files or (None if aside else stage(layers, op.dataset, draft.own, change, kept))
        return Checked(change, checked.report, None, files)
    if files is not None:
        files.cancel()
    if not aside or raw is None or typed is None:
        raise ContractViolationError([checked.report])
    return _quarantine(op, draft, contract, raw, typed, change, checked)


def judge(
    contract: Contract, change: Change, view: View | None, typed: Typed | None, *, blame: bool = False
) -> CheckedRows:
    """The rows ``change`` brings, checked with the rows the dataset keeps besides them."""
    others = kept_rows(KeptRows(view, change.remove), contract) if view is not None else None
    cast = typed.results if typed is not None else ()
    return check_rows(contract, change.data, others=others, cast=cast, blame=blame)


def refuse_reserved(raw: pa.Table) -> None:
    reserved = [c for c in raw.column_names if c in (VIOLATIONS, TXN_COLUMN)]
    if reserved:
        raise InvalidInputError(
            f"the data has column(s) {', '.join(reserved)}, which a quarantine write adds itself",
            hint="rename them, or write without --quarantine (on_violation='reject')",
        )


def _quarantine(
    op: Written,
    draft: Draft,
    contract: Contract,
    raw: pa.Table,
    typed: Typed,
    change: Change,
    checked: CheckedRows,
) -> Checked:
    """Plan ``op`` again without the incoming rows that break the contract, which go aside."""
    names = broken_checks(typed, change.data.num_rows if change.data is not None else 0, checked)
    mask = names.list.len() > 0
    if not mask.any():
        raise ContractViolationError([checked.report])  # nothing row-level to set aside
    keep = typed.table.filter(pa.array((~mask).to_list()))
    kept_change = plan(op, draft, keep)
    assert kept_change is not None
    final = judge(contract, kept_change, draft.view(op.dataset), None).report
    if not final.ok:
        raise ContractViolationError([final])
    aside = aside_rows(raw.filter(pa.array(mask.to_list())), names.filter(mask))
    report = replace(checked.report, quarantined=int(mask.sum()))
    return Checked(kept_change, report, aside, None)


def aside_rows(raw: pa.Table, names: pl.Series) -> pa.Table:
    """Rows set aside for quarantine: their values as strings (as they came), and the names of
    the checks each breaks."""
    frame = pl.from_arrow(raw)
    assert isinstance(frame, pl.DataFrame)
    return (
        frame.select(pl.all().cast(pl.String, strict=False)).with_columns(names.alias(VIOLATIONS)).to_arrow()
    )


def broken_checks(typed: Typed, checked_rows: int, checked: CheckedRows) -> pl.Series:
    """Per incoming row, the names of the checks it breaks (rule, uniqueness or type);
    ``checked_rows``: how many rows were checked (the incoming ones last)."""
    incoming = typed.table.num_rows
    offset = checked_rows - incoming
    names = pl.Series(VIOLATIONS, [[]] * incoming, dtype=pl.List(pl.String))
    if checked.violations is not None:
        lists = checked.violations[VIOLATIONS]
        if offset > 0 and int(lists.head(offset).list.len().sum()):
            raise ContractViolationError([checked.report])  # rows already in the dataset break it
        names = lists.slice(max(offset, 0), incoming)
    if not typed.failing:
        return names
    for check, bad in typed.failing.items():
        names = add_name(names, bad, check)
    return names


def named_by(aside: pa.Table, txn: str) -> pa.Table:
    """Rows set aside, each naming the transaction that set them aside."""
    return aside.append_column(TXN_COLUMN, pa.array([txn] * aside.num_rows, pa.string()))


def quarantine_op(dataset: str, aside: pa.Table, txn: str) -> Batch:
    """The append of rows set aside to ``<dataset>__quarantine``, each naming the transaction."""
    return Append(dataset + QUARANTINE_SUFFIX, named_by(aside, txn), schema_mode="merge")


def validate_snapshot(
    layers: Layers, dataset: str, snapshot: Snapshot | None, contract: Contract
) -> ValidationReport:
    """Validate the rows of ``snapshot`` (None: an empty table) against ``contract``."""
    rows = View(layers, dataset, snapshot).to_arrow() if snapshot else None
    return check_rows(contract, rows).report
