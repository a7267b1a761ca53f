"""What the commit loop does with Delta versions another engine committed to a branch's layer.

The rules (docs/architecture.md, "Foreign commits"):

* a compaction (every action ``dataChange: false``) is adopted at once, even on a protected branch:
  it changes no rows;
* a data change on an unprotected branch is adopted once the dataset, as the change leaves it,
  passes its contract (the rows the versions added, checked with the rows the dataset keeps);
  else the operation stops naming the versions and the failing checks, and nothing is lost;
* a data change on a protected branch skipped the gate: it is refused until a person decides
  with ``lake fsck --repair adopt`` (the gate judges it as a merge) or ``--repair undo``;
* what the lake cannot read (partitions, deletion vectors, a newer reader protocol) is refused
  with that reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lake.contracts import Contract
from lake.errors import ForeignChangeError, failed_checks
from lake.graph.commits import Snapshot
from lake.table.change import Change
from lake.table.foreign import Pending, adopt, refusal, scan, undo
from lake.table.layers import Layers
from lake.table.views import View
from lake.validation.engine import cast_to_contract
from lake.write.check import judge
from lake.write.draft import Draft
from lake.write.ops import Adopt


def apply_adopt(
    layers: Layers,
    draft: Draft,
    op: Adopt,
    contract: Contract | None,
    *,
    metadata: Mapping[str, Any],
    may_heal: Callable[[int], bool],
) -> Pending | None:
    """Adopt or undo the foreign versions of ``op.dataset`` on the draft's branch; returns what
    was found (None: nothing foreign)."""
    snap = draft.datasets.get(op.dataset)
    mine = snap.layer(draft.own) if snap else None
    found = scan(layers, op.dataset, draft.own, mine.version if mine else None)
    if found is None or not (found.foreign or found.versions is None):
        return None
    why = refusal(found) if op.decision != "undo" else None  # an undo takes anything back
    if why is not None:
        raise ForeignChangeError(
            f"{found.describe()}; the lake cannot adopt it: {why}",
            hint=f"undo it with 'lake fsck --repair undo --dataset {op.dataset} --reason ...', "
            "or rewrite the change through the lake",
            found=found,
        )
    if op.decision == "undo":
        if snap is None or mine is None:
            raise ForeignChangeError(
                f"{found.describe()}; the branch {draft.branch!r} holds no files in that table, "
                "so there is nothing to go back to",
                hint="adopt it instead: lake fsck --repair adopt",
                found=found,
            )
        new, done = undo(layers, op.dataset, snap, found, metadata=metadata)
    else:
        if op.decision == "auto" and found.data_change and draft.ref.protected:
            _refuse_protected(draft, op.dataset, found)
        new, done = adopt(layers, op.dataset, snap, found, metadata=metadata, may_heal=may_heal)
        if op.decision == "auto" and found.data_change and contract is not None:
            _judge(layers, op.dataset, snap, new, found, contract)
    draft.record(op.dataset, new, done)
    return found


def _refuse_protected(draft: Draft, dataset: str, found: Pending) -> None:
    raise ForeignChangeError(
        f"{found.describe()}. It changed the data of the protected branch {draft.branch!r} "
        "without passing the merge gate, so operations on this dataset are refused until "
        "someone decides",
        hint=f"review it with 'lake fsck', then run 'lake fsck --repair adopt --dataset {dataset} "
        f"--reason ...' (the gate judges it as a merge) or 'lake fsck --repair undo --dataset "
        f"{dataset} --reason ...' (a new Delta version without its files)",
        found=found,
    )


def _judge(
    layers: Layers, dataset: str, snap: Snapshot | None, new: Snapshot, found: Pending, contract: Contract
) -> None:
    """Refuse an adoption whose data breaks the contract: the rows the foreign versions added,
    checked with the rows the dataset keeps besides them."""
    before = View(layers, dataset, snap) if snap is not None else None
    after = View(layers, dataset, new)
    added = [ref for path, ref in after.files.items() if before is None or path not in before.files]
    removed = [ref for path, ref in (before.files if before else {}).items() if path not in after.files]
    typed = cast_to_contract(contract, after.to_arrow(refs=added)) if added else None
    change = Change("adopt", after.schema, data=typed.table if typed else None, remove=removed)
    checked = judge(contract, change, before, typed)
    if not checked.report.ok:
        failed = failed_checks(checked.report)
        raise ForeignChangeError(
            f"{found.describe()}. The data it leaves breaks the contract of {dataset!r}: {failed}. "
            "Nothing was committed and nothing was lost: the version stays in the Delta table",
            hint=f"fix the rows with another engine, or undo the change: 'lake fsck --repair undo "
            f"--dataset {dataset} --reason ...'; or adopt it anyway: 'lake fsck --repair adopt "
            f"--dataset {dataset} --force --reason ...'",
            found=found,
            reports=[checked.report],
        )
