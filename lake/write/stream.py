"""Streamed writes: an append or an overwrite whose rows arrive as a :class:`Stream`, written in
bounded memory.

The stream is read in slices of about a data file's size. Each slice is cast to the contract,
checked with the rows the dataset keeps *and the slices already written* (so a key repeated
across slices, or one already kept, fails exactly; row rules add up), and written at once as the
next data file(s) of the branch's layer, which nothing references yet. After the last slice, the
row counts, freshness and metrics are judged once over everything (:mod:`lake.validation.slices`).
Only then is anything committed: the files join the dataset in the commit loop's one Delta commit,
as files the change takes in (``Change.restore``), so a failure anywhere commits nothing (the
files written are garbage for ``lake gc``). With ``on_violation='quarantine'`` each slice's
failing rows are set aside as it goes; only those rows are held until the commit.

The files do not depend on what the dataset held (an append adds, an overwrite replaces all), so
when the commit loop starts over (another writer moved the branch) they are kept; the checks are
made again, reading the written files back one at a time, if the dataset changed meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypeGuard

import pyarrow as pa
import pyarrow.compute as pc

from lake.contracts import Contract
from lake.graph.commits import Snapshot
from lake.stores.summaries import kept_rows
from lake.table.change import Change
from lake.table.frames import conform, delta_schema_json
from lake.table.layers import TARGET_FILE_BYTES, DataFile, Layers
from lake.table.views import FileRef, KeptRows, View, read_files
from lake.validation import slices
from lake.validation.engine import cast_to_contract
from lake.validation.report import ContractViolationError, ValidationReport
from lake.validation.rows import check_rows
from lake.write.check import Checked, aside_rows, broken_checks, partitioned_as, refuse_reserved
from lake.write.draft import Draft
from lake.write.ops import Append, Overwrite, plan

# One slice, one data file: a quarter of a whole write's file. A slice, its cast, its checks and its
# parquet encoding are what a streamed write holds besides the lake's imports; measured at 20M rows
# (bench/streaming_memory.py), peak RSS against write_deltalake's was 1.04x at 16 MiB slices, 1.12x
# at 24 MiB, 1.2-1.4x at 32 MiB (write_deltalake's own peak varies by 20% from run to run).
SLICE_BYTES = TARGET_FILE_BYTES // 4


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
) -> Streamed:
    """Read, check and write the stream of ``op``; ``before``: what an earlier attempt did."""
    snapshot = draft.datasets.get(op.dataset)
    if before is not None:
        if before.snapshot == snapshot:
            return before
        return _again(layers, op, draft, contract, before)
    assert not isinstance(op.data, pa.Table)
    if contract is not None:
        partitioned = partitioned_as(op, contract)
        assert isinstance(partitioned, Append | Overwrite)
        op = partitioned
    quarantine = op.on_violation == "quarantine" and contract is not None
    change: Change | None = None
    view = draft.view(op.dataset)
    written: list[FileRef] = []
    reports: list[ValidationReport] = []
    aside: list[pa.Table] = []
    for raw in op.data.slices(SLICE_BYTES):
        if quarantine:
            refuse_reserved(raw)
        typed = cast_to_contract(contract, raw) if contract is not None else None
        rows = typed.table if typed is not None else raw
        if change is None:
            change = plan(op, draft, rows)
            assert change is not None and change.data is not None
            rows = change.data
            view = view or _empty(layers, op.dataset, change)
        else:
            rows = conform(rows, change.schema, allow_new_columns=False)[0]
        if contract is not None and typed is not None:
            assert view is not None
            others = kept_rows(KeptRows(view, change.remove, written), contract)
            got = check_rows(contract, rows, others=others, cast=typed.results, blame=quarantine)
            report = got.report
            if not quarantine and slices.doomed(report):  # stop reading: nothing is committed
                raise ContractViolationError([report])
            if quarantine and not slices.row_level_ok(report):
                names = broken_checks(typed, rows.num_rows, got)
                mask = names.list.len() > 0
                if not mask.any():
                    raise ContractViolationError([report])
                keep = pa.array((~mask).to_list())
                rows = rows.filter(keep)
                aside.append(aside_rows(raw.filter(pc.invert(keep)), names.filter(mask)))
                if not slices.row_level_ok(check_rows(contract, rows, others=others).report):
                    raise ContractViolationError([report])  # the rows kept still break it
                report = replace(report, quarantined=int(mask.sum()))  # what broke, and what went aside
            reports.append(report)
        files = layers.write_files(op.dataset, draft.own, rows, partition_by=change.partition_by or ())
        written += [FileRef(draft.own, f) for f in files]
    assert change is not None and view is not None
    final = _judge_whole(contract, view, change, written, reports)
    if final is not None and _refused(final):
        raise ContractViolationError([final])
    done = _taking(change, written)
    stash = pa.concat_tables(aside, promote_options="permissive") if aside else None
    return Streamed(snapshot, Checked(done, final, stash, None), tuple(r.file for r in written))


def _again(
    layers: Layers, op: Append | Overwrite, draft: Draft, contract: Contract | None, before: Streamed
) -> Streamed:
    """The checks of an earlier attempt made again on the dataset as it is now, reading the files
    that attempt wrote (one at a time); the files are kept."""
    first = before.checked.change
    again = plan(replace(op, data=first.schema.empty_table()), draft, first.schema.empty_table())
    assert again is not None
    change = replace(first, remove=again.remove, rows_removed=again.rows_removed)
    view = draft.view(op.dataset) or _empty(layers, op.dataset, change)
    written: list[FileRef] = []
    reports: list[ValidationReport] = []
    for f in before.files:
        ref = FileRef(draft.own, f)
        if contract is not None:
            rows = read_files(layers, op.dataset, [ref], change.schema)
            typed = cast_to_contract(contract, rows)
            others = kept_rows(KeptRows(view, change.remove, written), contract)
            report = check_rows(contract, typed.table, others=others, cast=typed.results).report
            if slices.doomed(report):
                raise ContractViolationError([report])
            reports.append(report)
        written.append(ref)
    final = _judge_whole(contract, view, change, written, reports)
    if final is not None and not final.ok:
        raise ContractViolationError([final])
    if final is not None and before.checked.report is not None:
        final = replace(final, quarantined=before.checked.report.quarantined)
    checked = Checked(_taking(change, written), final, before.checked.aside, None)
    return Streamed(draft.datasets.get(op.dataset), checked, before.files)


def _judge_whole(
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


def _refused(report: ValidationReport) -> bool:
    """Whether ``report`` refuses the write: a dataset-wide check fails, or a row-level one does
    and no row was set aside for it (with quarantine, the rows that broke it went aside)."""
    whole = any(r.status == "fail" and r.kind in slices.WHOLE for r in report.results)
    return whole or (not report.ok and not report.quarantined)


def _taking(change: Change, written: list[FileRef]) -> Change:
    """``change`` with the written files as the rows it brings (taken in by reference)."""
    rows = sum(r.file.rows for r in written)
    return replace(change, data=None, restore=[*change.restore, *written], rows_added=rows)


def _snapshot(change: Change) -> Snapshot:
    return Snapshot((), delta_schema_json(change.schema), 0, 0, partition_by=change.partition_by or ())


def _empty(layers: Layers, dataset: str, change: Change) -> View:
    """A view of no files, for checking the slices of a dataset's first write."""
    return View(layers, dataset, _snapshot(change))


def is_stream(op: object) -> TypeGuard[Append | Overwrite]:
    """Whether ``op`` brings its rows as a stream."""
    return isinstance(op, Append | Overwrite) and not isinstance(op.data, pa.Table)
