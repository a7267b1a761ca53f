"""Reference checks in the commit loop: a column's ``references: {dataset, column}`` holds at
the commit being built, across every dataset the transaction writes.

Each operation is checked before its Delta commit. A reference is checked by the last operation
of the transaction that writes either of its datasets (a transaction that writes orders and then
the customers they name passes), against the datasets as that operation leaves them. What is read
grows with the change, not the datasets:

- the referencing rows the transaction adds (its new files and in-memory rows) are probed against
  the referenced column, reading only the referenced files whose min/max statistics may hold a
  probed value, and only that column;
- the referenced values the transaction removes (the column of the files it drops, less those
  still present) are looked for in the referencing dataset's older rows, again through the files'
  statistics.

A merge goes through the same loop, so it is checked against the merged state of both datasets;
the gate reports the same check before it (:mod:`lake.merge.references`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa

from lake.contracts import Contract
from lake.contracts.model import Reference
from lake.graph.commits import Snapshot
from lake.table.change import Change
from lake.table.layers import Layers
from lake.table.views import FileRef, View, read_files
from lake.validation.references import reference_result
from lake.validation.report import CheckResult


@dataclass
class State:
    """One dataset as the transaction leaves it after the operation being checked: its files
    (those it keeps and those a merge takes back) and the rows the operation writes."""

    layers: Layers
    dataset: str
    files: dict[str, FileRef] = field(default_factory=dict)
    data: pa.Table | None = None
    schema: pa.Schema | None = None

    @classmethod
    def of(cls, layers: Layers, dataset: str, view: View | None, change: Change | None = None) -> State:
        files = dict(view.files) if view is not None else {}
        schema = view.schema if view is not None else None
        if change is None:
            return cls(layers, dataset, files, None, schema)
        for ref in change.remove:
            files.pop(ref.path, None)
        for ref in change.restore:
            files[ref.path] = ref
        return cls(layers, dataset, files, change.data, change.schema)

    @property
    def exists(self) -> bool:
        return self.schema is not None

    @property
    def rows(self) -> int:
        return sum(r.file.rows for r in self.files.values()) + (
            self.data.num_rows if self.data is not None else 0
        )

    def has(self, column: str) -> bool:
        return self.schema is not None and column in self.schema.names

    def read(self, refs: Iterable[FileRef], columns: Sequence[str], *, data: bool) -> pl.DataFrame:
        """``columns`` of the files ``refs`` (and, with ``data``, of the in-memory rows)."""
        assert self.schema is not None
        names = [c for c in dict.fromkeys(columns) if c in self.schema.names]
        schema = pa.schema([self.schema.field(c) for c in names])
        parts = []
        chosen = list(refs)
        if chosen:
            parts.append(read_files(self.layers, self.dataset, chosen, schema))
        if data and self.data is not None and self.data.num_rows:
            parts.append(self.data.select([c for c in names if c in self.data.column_names]).cast(schema))
        table = pa.concat_tables(parts) if parts else schema.empty_table()
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return frame

    def present(self, column: str, values: pl.Series) -> pl.Series:
        """Those of ``values`` (distinct, non-null) that the column holds: only the files whose
        statistics may hold one of them are read."""
        if not values.len() or not self.has(column):
            return values.head(0)
        ordered = values.sort()
        refs = [r for r in self.files.values() if _may_hold_any(r, column, ordered)]
        found = self.read(refs, [column], data=True)[column]
        want = ordered.cast(found.dtype, strict=False)
        return found.filter(found.is_in(want.implode())).unique()


def _may_hold_any(ref: FileRef, column: str, ordered: pl.Series) -> bool:
    """False only when the file's min/max statistics prove none of ``ordered`` is in it."""
    bounds = ref.file.bounds(column)
    if bounds is None:
        return True
    try:
        values = ordered.to_numpy()
        at = int(np.searchsorted(values, bounds[0], side="left"))
        return at < len(values) and bool(values[at] <= bounds[1])
    except (TypeError, ValueError):  # statistics of another type than the values
        return True


@dataclass(frozen=True)
class Edge:
    """A reference: ``dataset.column`` names values of ``reference.dataset.reference.column``."""

    dataset: str
    column: str
    reference: Reference
    contract: Contract


def edges(contracts: dict[str, Contract]) -> list[Edge]:
    return [
        Edge(name, col, spec.references, contract)
        for name, contract in sorted(contracts.items())
        for col, spec in contract.columns.items()
        if spec.references is not None
    ]


def check_references(
    layers: Layers,
    changes: dict[str, Change],
    contracts: dict[str, Contract],
    view: Callable[[str], View | None],
    head: dict[str, Snapshot],
    later: Collection[str] = (),
    also: Collection[str] = (),
) -> dict[str, list[CheckResult]]:
    """The reference checks ``changes`` (by dataset) must pass, by referencing dataset: those of
    every reference with an end in ``changes`` and none in ``later`` (the datasets later
    operations of the transaction write: the last of them checks it). ``view(name)`` is a dataset
    as the transaction holds it before the changes; ``head`` the datasets before the transaction
    (``{}``: every row is checked, as when a contract is first set). References with an end in
    ``also`` are checked too (a dataset whose contract changes)."""
    out: dict[str, list[CheckResult]] = {}
    states: dict[str, State] = {}

    def state(name: str) -> State:
        if name not in states:
            states[name] = State.of(layers, name, view(name), changes.get(name))
        return states[name]

    def before(name: str) -> dict[str, FileRef]:
        snap = head.get(name)
        return View(layers, name, snap).files if snap is not None else {}

    for edge in edges(contracts):
        target = edge.reference.dataset
        if not ({edge.dataset, target} & {*changes, *also}) or edge.dataset in later or target in later:
            continue
        out.setdefault(edge.dataset, []).append(_check(edge, state(edge.dataset), state(target), before))
    return out


def _check(
    edge: Edge, source: State, target: State, before: Callable[[str], dict[str, FileRef]]
) -> CheckResult:
    ref, col = edge.reference, edge.column
    keys = list(edge.contract.primary_key)
    sql = edge.contract.columns[col].where
    selects = pl.sql_expr(sql).fill_null(False) if sql is not None else None
    wanted = [*keys, col, *(selects.meta.root_names() if selects is not None else [])]
    if not source.exists or not source.has(col):
        return reference_result(col, ref, pl.DataFrame({col: []}), 0, keys)
    if not target.exists or not target.has(ref.column):
        missing = "dataset" if not target.exists else f"column {ref.column!r} of the dataset"
        why = f"the branch has no {missing} {ref.dataset!r} at this commit"
        rows = source.read(source.files.values(), wanted, data=True)
        if selects is not None:
            rows = rows.filter(selects)
        rows = rows.drop_nulls(col)
        return reference_result(col, ref, rows, source.rows, keys, cause=why)
    old = before(edge.dataset)
    new_refs = [r for p, r in source.files.items() if p not in old]
    new_rows = source.read(new_refs, wanted, data=True)
    if selects is not None:
        new_rows = new_rows.filter(selects)
    probe = new_rows[col].drop_nulls().unique()
    found = target.present(ref.column, probe)
    missing_values = probe.filter(~probe.is_in(found.cast(probe.dtype, strict=False).implode()))
    orphans = new_rows.filter(pl.col(col).is_in(missing_values.implode()))
    cause = ""
    gone_from = [r for p, r in before(ref.dataset).items() if p not in target.files]
    if gone_from:  # values the transaction may have taken out of the referenced column
        removed = target.read(gone_from, [ref.column], data=False)[ref.column].drop_nulls().unique()
        still = target.present(ref.column, removed)
        gone = removed.filter(~removed.is_in(still.implode()))
        if gone.len():
            kept = [r for p, r in source.files.items() if p in old]
            ordered = gone.cast(source.read([], [col], data=False)[col].dtype, strict=False).sort()
            hit = [r for r in kept if _may_hold_any(r, col, ordered)]
            older = source.read(hit, wanted, data=False)
            if selects is not None:
                older = older.filter(selects)
            lost = older.filter(pl.col(col).is_in(ordered.implode()))
            if lost.height:
                orphans = pl.concat([orphans, lost.select(orphans.columns)], how="vertical_relaxed")
                cause = f"{lost.height} existing row(s) lost their {ref.dataset} row in this change"
    return reference_result(col, ref, orphans, source.rows, keys, cause=cause)
