"""Streamed writes: an append or an overwrite whose rows arrive as a :class:`Stream`, written in
bounded memory.

The stream is read in slices of a quarter of a data file. Each slice is cast to the contract,
checked with the rows the dataset keeps *and the slices before it* (so a key repeated across
slices, or one already kept, fails exactly; row rules add up), and written at once into the
branch's layer, as the next rows of a file that rolls over at a whole write's file size
(:mod:`lake.table.rolling`); nothing references the files yet. After the last slice, the row
counts, freshness and metrics are judged once over everything (:mod:`lake.validation.slices`).
Only then is anything committed: the files join the dataset in the commit loop's one Delta commit,
as files the change takes in (``Change.restore``), so a failure anywhere commits nothing (the
files written are garbage for ``lake gc``). With ``on_violation='quarantine'`` each slice's
failing rows are set aside as it goes, into rolling files of ``<dataset>__quarantine``'s layer
that the same commit takes in: a stream's bad rows are never held either.

The files do not depend on what the dataset held (an append adds, an overwrite replaces all), so
when the commit loop starts over (another writer moved the branch) they are kept; the checks are
made again, reading the written files back one at a time, if the dataset changed meanwhile.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from typing import TypeGuard

import pyarrow as pa
import pyarrow.compute as pc

from lake import progress
from lake.contracts import Contract
from lake.graph.commits import Snapshot
from lake.graph.names import QUARANTINE_SUFFIX
from lake.stores.summaries import kept_rows
from lake.table.change import Change
from lake.table.frames import conform, delta_schema_json
from lake.table.layers import TARGET_FILE_BYTES, DataFile, Layers
from lake.table.rolling import FileRoller
from lake.table.streams import Distributed
from lake.table.views import FileRef, KeptRows, View, read_files
from lake.validation import slices
from lake.validation.engine import Typed, cast_to_contract
from lake.validation.others import OtherRows
from lake.validation.report import ContractViolationError, ValidationReport
from lake.validation.rows import check_rows
from lake.write.check import (
    Checked,
    SetAside,
    aside_rows,
    broken_checks,
    named_by,
    partitioned_as,
    refuse_reserved,
)
from lake.write.draft import Draft
from lake.write.ops import Append, Overwrite, plan

# A slice is a quarter of a whole write's file. A slice, its cast, its checks and its parquet
# encoding are what a streamed write holds besides the lake's imports; measured at 20M rows
# (bench/streaming_memory.py), peak RSS against write_deltalake's was 1.04x at 16 MiB slices, 1.12x
# at 24 MiB, 1.2-1.4x at 32 MiB (write_deltalake's own peak varies by 20% from run to run).
SLICE_BYTES = TARGET_FILE_BYTES // 4
# The slices go into files that roll over at a whole write's file size (:mod:`lake.table.rolling`).
ROLL_BYTES = TARGET_FILE_BYTES


@dataclass(frozen=True)
class Streamed:
    """What a streamed operation wrote and found, kept across the commit loop's attempts."""

    snapshot: Snapshot | None  # the dataset as the checks saw it
    checked: Checked
    files: tuple[DataFile, ...]  # every file written, in order


def check_stream(
    layers: Layers,
    op: Append | Overwrite,
    draft: Draft,
    contract: Contract | None,
    before: Streamed | None,
    txn: str,
) -> Streamed:
    """Read, check and write the stream of ``op``; ``before``: what an earlier attempt did;
    ``txn``: the transaction's id, which rows set aside carry."""
    snapshot = draft.datasets.get(op.dataset)
    if isinstance(op.data, Distributed):  # checked where its rows are, again if the dataset moved
        if before is not None and before.snapshot == snapshot:
            return before
        done = op.data.run(layers, op, draft, contract, txn, SLICE_BYTES)
        assert isinstance(done, Streamed)
        return done
    if before is not None:
        if before.snapshot == snapshot:
            return before
        return _again(layers, op, draft, contract, before, txn)
    assert not isinstance(op.data, pa.Table)
    if contract is not None:
        partitioned = partitioned_as(op, contract)
        assert isinstance(partitioned, Append | Overwrite)
        op = partitioned
    quarantine = op.on_violation == "quarantine" and contract is not None
    change: Change | None = None
    view = draft.view(op.dataset)
    written: list[FileRef] = []
    set_aside: list[FileRef] = []
    reports: list[ValidationReport] = []
    taken = 0
    with contextlib.ExitStack() as stack:
        aside_files = _aside_roller(stack, layers, op, draft) if quarantine else None
        files: FileRoller | None = None
        aside_schema: pa.Schema | None = None
        for raw in op.data.slices(SLICE_BYTES):
            if quarantine:
                refuse_reserved(raw)
            typed = cast_to_contract(contract, raw) if contract is not None else None
            rows = typed.table if typed is not None else raw
            if change is None:
                change = plan(op, draft, rows)
                assert change is not None and change.data is not None
                rows = change.data
                view = view or empty_view(layers, op.dataset, change)
                files = _data_roller(stack, layers, op, draft, change, contract)
            else:
                rows = conform(rows, change.schema, allow_new_columns=False)[0]
            assert files is not None
            if contract is not None and typed is not None:
                assert view is not None
                kept = KeptRows(view, change.remove, written, files.pending())
                others = kept_rows(kept, contract)
                rows, report, aside = _check_slice(contract, raw, typed, rows, others, quarantine, txn)
                if aside is not None:
                    assert aside_files is not None
                    aside_schema = aside.schema
                    set_aside += _refs(draft, aside_files.add(aside))
                reports.append(report)
            written += _refs(draft, files.add(rows))
            taken += raw.num_rows
            progress.advance("write", taken, None, "rows", op.dataset)
        assert change is not None and view is not None and files is not None
        written += _refs(draft, files.close())
        set_aside += _refs(draft, aside_files.close()) if aside_files is not None else []
    final = judge_whole(contract, view, change, written, reports)
    if final is not None and refused(final):
        raise ContractViolationError([final])
    done = taking(change, written)
    stash = SetAside(aside_schema, tuple(set_aside)) if aside_schema is not None else None
    return Streamed(snapshot, Checked(done, final, stash, None), tuple(r.file for r in written))


def _data_roller(
    stack: contextlib.ExitStack[bool | None],
    layers: Layers,
    op: Append | Overwrite,
    draft: Draft,
    change: Change,
    contract: Contract | None,
) -> FileRoller:
    """The rolling files of the stream's rows, keeping what uniqueness checks compare."""
    keep = slices.compared_columns(contract) if contract is not None else []
    roller = FileRoller(
        layers,
        op.dataset,
        draft.own,
        partition_by=change.partition_by or (),
        keep=keep,
        target_bytes=ROLL_BYTES,
    )
    return stack.enter_context(roller)


def _aside_roller(
    stack: contextlib.ExitStack[bool | None], layers: Layers, op: Append | Overwrite, draft: Draft
) -> FileRoller:
    """The rolling files of the rows a stream sets aside, in the quarantine dataset's layer."""
    return stack.enter_context(
        FileRoller(layers, op.dataset + QUARANTINE_SUFFIX, draft.own, target_bytes=ROLL_BYTES)
    )


def _refs(draft: Draft, files: list[DataFile]) -> list[FileRef]:
    return [FileRef(draft.own, f) for f in files]


def aside_change(dataset: str, aside: SetAside, draft: Draft) -> Change:
    """The append to ``<dataset>__quarantine`` of the rows a streamed write set aside: their
    files, written already, taken in by reference (and the quarantine's schema merged)."""
    op = Append(dataset + QUARANTINE_SUFFIX, aside.schema.empty_table(), schema_mode="merge")
    change = plan(op, draft)
    assert change is not None
    return taking(change, list(aside.files))


def _check_slice(
    contract: Contract,
    raw: pa.Table,
    typed: Typed,
    rows: pa.Table,
    others: OtherRows,
    quarantine: bool,
    txn: str,
) -> tuple[pa.Table, ValidationReport, pa.Table | None]:
    """Check one slice (``rows``: ``raw`` cast and conformed); return the rows to write, the
    slice's report, and the rows set aside (with quarantine), naming the transaction."""
    got = check_rows(contract, rows, others=others, cast=typed.results, blame=quarantine)
    report = got.report
    if not quarantine and slices.doomed(report):  # stop reading: nothing is committed
        raise ContractViolationError([report])
    if not quarantine or slices.row_level_ok(report):
        return rows, report, None
    names = broken_checks(typed, rows.num_rows, got)
    mask = names.list.len() > 0
    if not mask.any():
        raise ContractViolationError([report])
    keep = pa.array((~mask).to_list())
    kept = rows.filter(keep)
    if not slices.row_level_ok(check_rows(contract, kept, others=others).report):
        raise ContractViolationError([report])  # the rows kept still break it
    aside = named_by(aside_rows(raw.filter(pc.invert(keep)), names.filter(mask)), txn)
    return kept, replace(report, quarantined=int(mask.sum())), aside  # what broke, and what went aside


def _again(
    layers: Layers,
    op: Append | Overwrite,
    draft: Draft,
    contract: Contract | None,
    before: Streamed,
    txn: str,
) -> Streamed:
    """The checks of an earlier attempt made again on the dataset as it is now, reading the files
    that attempt wrote (one at a time). A file that still passes is kept; with quarantine, the
    rows of one that now fails (a key another writer added meanwhile) go aside, and the rest are
    written again."""
    first = before.checked.change
    again = plan(replace(op, data=first.schema.empty_table()), draft, first.schema.empty_table())
    assert again is not None
    # the files the first attempt took in are taken in again below (or their rewrites)
    change = replace(first, remove=again.remove, rows_removed=again.rows_removed, restore=again.restore)
    view = draft.view(op.dataset) or empty_view(layers, op.dataset, change)
    quarantine = op.on_violation == "quarantine" and contract is not None
    earlier = before.checked.aside if isinstance(before.checked.aside, SetAside) else None
    set_aside = list(earlier.files) if earlier is not None else []
    aside_schema = earlier.schema if earlier is not None else None
    written: list[FileRef] = []
    reports: list[ValidationReport] = []
    with contextlib.ExitStack() as stack:
        files = _data_roller(stack, layers, op, draft, change, contract)
        aside_files = _aside_roller(stack, layers, op, draft) if quarantine else None
        for f in before.files:
            ref = FileRef(draft.own, f)
            if contract is None:
                written.append(ref)
                continue
            rows = read_files(layers, op.dataset, [ref], change.schema)
            typed = cast_to_contract(contract, rows)
            others = kept_rows(KeptRows(view, change.remove, written, files.pending()), contract)
            kept, report, aside = _check_slice(contract, rows, typed, typed.table, others, quarantine, txn)
            reports.append(report)
            if aside is None:
                written.append(ref)
                continue
            assert aside_files is not None
            aside_schema = aside_schema or aside.schema
            set_aside += _refs(draft, aside_files.add(aside))
            written += _refs(draft, files.add(conform(kept, change.schema, allow_new_columns=False)[0]))
        written += _refs(draft, files.close())
        set_aside += _refs(draft, aside_files.close()) if aside_files is not None else []
    final = judge_whole(contract, view, change, written, reports)
    if final is not None and refused(final):
        raise ContractViolationError([final])
    if final is not None and before.checked.report is not None:
        final = replace(final, quarantined=final.quarantined + before.checked.report.quarantined)
    stash = SetAside(aside_schema, tuple(set_aside)) if aside_schema is not None else before.checked.aside
    checked = Checked(taking(change, written), final, stash, None)
    return Streamed(draft.datasets.get(op.dataset), checked, tuple(r.file for r in written))


def judge_whole(
    contract: Contract | None,
    view: View,
    change: Change,
    written: list[FileRef],
    reports: list[ValidationReport],
) -> ValidationReport | None:
    """The write's report: the slices' and the dataset-wide checks over everything written."""
    if contract is None:
        return None
    empty = contract.arrow_schema().empty_table()
    whole = check_rows(contract, empty, others=kept_rows(KeptRows(view, change.remove, written), contract))
    batch = None
    if slices.has_batch_metrics(contract):
        alone = slices.as_dataset_scope(contract)
        fresh = View(view.layers, view.dataset, _snapshot(change))
        batch = check_rows(alone, empty, others=kept_rows(KeptRows(fresh, [], written), alone)).report
    return slices.merge(contract, reports or [whole.report], whole.report, batch)


def refused(report: ValidationReport) -> bool:
    """Whether ``report`` refuses the write: a dataset-wide check fails, or a row-level one does
    and no row was set aside for it (with quarantine, the rows that broke it went aside)."""
    whole = any(r.status == "fail" and r.kind in slices.WHOLE for r in report.results)
    return whole or (not report.ok and not report.quarantined)


def taking(change: Change, written: list[FileRef]) -> Change:
    """``change`` with the written files as the rows it brings (taken in by reference)."""
    rows = sum(r.file.rows for r in written)
    return replace(change, data=None, restore=[*change.restore, *written], rows_added=rows)


def _snapshot(change: Change) -> Snapshot:
    return Snapshot((), delta_schema_json(change.schema), 0, 0, partition_by=change.partition_by or ())


def empty_view(layers: Layers, dataset: str, change: Change) -> View:
    """A view of no files, for checking the slices of a dataset's first write."""
    return View(layers, dataset, _snapshot(change))


def is_stream(op: object) -> TypeGuard[Append | Overwrite]:
    """Whether ``op`` brings its rows as a stream."""
    return isinstance(op, Append | Overwrite) and not isinstance(op.data, pa.Table)
