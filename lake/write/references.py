"""Reference checks in the commit loop: a column's ``references: {dataset, column}`` holds at
the commit being built, across every dataset the transaction writes.

Each operation is checked before its Delta commit. A reference is checked by the last operation
of the transaction that writes either of its datasets (a transaction that writes orders and then
the customers they name passes), against both datasets as that operation would leave them, so
nothing that breaks a reference reaches a layer when it can be known before. What is read grows
with the change, not with the datasets (:class:`lake.table.wouldbe.WouldBe`):

- the referencing rows the transaction adds are probed against the referenced column, reading
  only that column, of only the files whose min/max statistics may hold a probed value;
- the referenced values the transaction removes (the column of the files it drops, less those
  still present) are looked for in the referencing rows it keeps, through the statistics too.

A merge goes through the same loop (its ``MergeDataset`` operations), so it is checked against the
merged state of both datasets; the gate reports the same check before it
(:mod:`lake.merge.references`)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace

from lake.contracts import Contract
from lake.graph.commits import Snapshot
from lake.stores.contracts import ContractStore
from lake.table.change import Change
from lake.table.layers import Layers
from lake.table.views import View
from lake.table.wouldbe import WouldBe
from lake.validation.references import check_references, due, edges
from lake.validation.report import CheckResult, ContractViolationError, ValidationReport
from lake.write.check import Checked
from lake.write.draft import Draft
from lake.write.ops import Append, Delete, MergeDataset, Op, Overwrite, Revert, Upsert


def written(ops: Sequence[Op]) -> set[str]:
    """The datasets whose rows ``ops`` change."""
    return {
        op.dataset
        for op in ops
        if isinstance(op, Append | Overwrite | Upsert | Delete | Revert | MergeDataset)
    }


def refuse_orphans(
    layers: Layers,
    contracts: ContractStore,
    draft: Draft,
    dataset: str,
    checked: Checked,
    later: Collection[str],
) -> None:
    """Check the references due now that ``checked`` changes ``dataset`` (none of whose ends
    ``later`` operations write), on the datasets as the change leaves them; add the results to
    the referencing datasets' reports, and refuse the transaction (before its Delta commit) if
    one fails."""
    specs = {name: contracts.get(key) for name, key in draft.contracts.items()}
    checks = due(edges(specs), {dataset}, later)
    if not checks:
        return
    views = {name: draft.view(name) for e in checks for name in (e.dataset, e.target)}
    found = check_references(
        checks,
        lambda name: _end(
            layers, name, views[name], checked.change if name == dataset else None, draft.head.datasets
        ),
    )
    failed = []
    for name, results in found.items():
        rows = max(r.rows for r in results)
        report = draft.reports.get(name) or ValidationReport(name, specs[name].hash, rows)
        report = draft.reports[name] = replace(report, results=(*report.results, *results))
        if not report.ok:
            failed.append(report)
    if failed:
        if checked.files is not None:
            checked.files.cancel()
        error = ContractViolationError(failed)
        error.hint = (
            "write the rows they name first or in the same transaction (Branch.transaction()), "
            "or change or delete the rows that name them first; quarantine does not set aside "
            "rows whose reference breaks"
        )
        raise error


def references_of(
    layers: Layers, dataset: str, contract: Contract, datasets: Mapping[str, Snapshot]
) -> list[CheckResult]:
    """The references of ``contract`` (about to be ``dataset``'s) on every row the branch holds
    (``datasets``): a contract is set only on rows that keep it."""
    checks = edges({dataset: contract})
    views = {name: View(layers, name, snap) for name, snap in datasets.items()}
    before = {name: snap for name, snap in datasets.items() if name != dataset}  # its own rows: all new
    found = check_references(checks, lambda name: _end(layers, name, views.get(name), None, before))
    return found.get(dataset, [])


def _end(
    layers: Layers, name: str, view: View | None, change: Change | None, head: Mapping[str, Snapshot]
) -> WouldBe:
    """``name`` as the transaction leaves it after ``change``; its rows in ``head`` (the commit the
    transaction builds on) were checked before."""
    snap = head.get(name)
    return WouldBe.of(layers, name, view, change, View(layers, name, snap) if snap is not None else None)
