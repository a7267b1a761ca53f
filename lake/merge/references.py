"""The gate's reference check: the references the merge could break, judged on the would-be
merged state of both datasets, as the merge commit itself will judge them
(:mod:`lake.write.references`), with the target's contracts (trusted, as every gate check)."""

from __future__ import annotations

from typing import Protocol

from lake.merge.plan import PreparedMerge
from lake.stores.contracts import ContractStore
from lake.table.change import Change
from lake.table.layers import Layers
from lake.table.views import View
from lake.table.wouldbe import WouldBe
from lake.validation.gate_report import GateCheck
from lake.validation.references import check_references, edges


class _Context(Protocol):
    """What the check reads of the gate's ``GateContext``."""

    @property
    def layers(self) -> Layers: ...

    @property
    def contracts(self) -> ContractStore: ...


class _Dataset(Protocol):
    """What the check reads of a ``DatasetUnderReview``."""

    @property
    def name(self) -> str: ...

    @property
    def merge(self) -> PreparedMerge: ...


def references(context: _Context, ds: _Dataset) -> list[GateCheck]:
    """Per dataset the merge changes: its own references (the rows it brings must name values
    the merged referenced dataset holds), and those of datasets the merge keeps into it (the
    values it removes must not be named by their rows). A reference between two changed
    datasets is reported once, by the referencing one."""
    prep = ds.merge
    target = prep.target_commit
    changes: dict[str, Change] = {
        name: plan.change
        for name, plan in prep.plans.items()
        if plan.action != "keep" and plan.change is not None
    }
    specs = {name: context.contracts.get(key) for name, key in target.contracts.items()}
    checks = [
        e for e in edges(specs) if e.dataset == ds.name or (e.target == ds.name and e.dataset not in changes)
    ]
    if not checks:
        return []

    def end(name: str) -> WouldBe:
        snap = target.datasets.get(name)
        view = View(context.layers, name, snap) if snap is not None else None
        return WouldBe.of(context.layers, name, view, changes.get(name), view)

    found = sorted(check_references(checks, end).items())
    return [GateCheck.of_result(dataset, r) for dataset, results in found for r in results]
