"""Reference checks: every non-null value of a column exists in a column of another dataset (or
of its own), at the same commit.

A reference has two ends, and a change to either can break it: rows added to the referencing
dataset may name values the referenced column lacks, and values removed from the referenced
column may still be named by rows the referencing dataset keeps. This module decides both from
what a :class:`DatasetEnd` answers (the lake answers, reading only what the questions need:
:class:`lake.table.wouldbe.WouldBe`); validation never reads storage itself. It says which
references a change must check (:func:`due`), and turns what it finds into the check's
:class:`~lake.validation.report.CheckResult`: how many rows break it, which values, sample rows.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import polars as pl

from lake.contracts import Contract
from lake.contracts.model import Reference

from .report import MAX_SAMPLES, CheckResult, Status

SHOWN_VALUES = 20
"""How many orphan values a message names ("... and N more")."""


class DatasetEnd(Protocol):
    """One end of a reference: a dataset as the commit being built would hold it."""

    @property
    def exists(self) -> bool:
        """Whether the branch holds the dataset at this commit."""
        ...

    @property
    def rows(self) -> int: ...

    def has(self, column: str) -> bool: ...

    def added(self, columns: Sequence[str]) -> pl.DataFrame:
        """``columns`` of the rows the change adds (every row, when nothing was checked before)."""
        ...

    def removed(self, column: str) -> pl.Series:
        """The distinct non-null values of ``column`` in the rows the change removes (some may
        still be present in other rows)."""
        ...

    def present(self, column: str, values: pl.Series) -> pl.Series:
        """Those of ``values`` (distinct, non-null) that ``column`` holds after the change."""
        ...

    def holding(self, column: str, values: pl.Series, columns: Sequence[str]) -> pl.DataFrame:
        """``columns`` of the rows the change keeps (not those it adds) whose ``column`` is one
        of ``values``."""
        ...


@dataclass(frozen=True)
class Edge:
    """A reference: ``dataset.column`` names values of ``reference.dataset.reference.column``."""

    dataset: str
    column: str
    reference: Reference
    contract: Contract

    @property
    def target(self) -> str:
        return self.reference.dataset


def edges(contracts: Mapping[str, Contract]) -> list[Edge]:
    """The references the contracts declare, by referencing dataset and column."""
    return [
        Edge(name, col, spec.references, contract)
        for name, contract in sorted(contracts.items())
        for col, spec in contract.columns.items()
        if spec.references is not None
    ]


def due(all_edges: Iterable[Edge], changed: Collection[str], later: Collection[str] = ()) -> list[Edge]:
    """The references a change of the datasets ``changed`` must check now: those with an end
    among them and none in ``later`` (datasets that later operations of the same transaction
    write: the last of them checks it, against the transaction's result)."""
    return [
        e
        for e in all_edges
        if {e.dataset, e.target} & set(changed) and e.dataset not in later and e.target not in later
    ]


def check_references(
    checks: Iterable[Edge], end: Callable[[str], DatasetEnd]
) -> dict[str, list[CheckResult]]:
    """The results of ``checks`` by referencing dataset; ``end(name)`` is a dataset as the
    change leaves it."""
    out: dict[str, list[CheckResult]] = {}
    for edge in checks:
        out.setdefault(edge.dataset, []).append(check_reference(edge, end(edge.dataset), end(edge.target)))
    return out


def check_reference(edge: Edge, source: DatasetEnd, target: DatasetEnd) -> CheckResult:
    """One reference after a change: the rows the change adds to ``source`` must name values
    ``target`` holds, and the values the change removes from ``target`` must not be named by
    the rows ``source`` keeps. Only the rows the column's ``where:`` selects must hold."""
    col, ref = edge.column, edge.reference
    keys = list(edge.contract.primary_key)
    sql = edge.contract.columns[col].where
    selects = pl.sql_expr(sql).fill_null(False) if sql is not None else None
    wanted = list(dict.fromkeys([*keys, col, *(selects.meta.root_names() if selects is not None else [])]))
    if not source.exists or not source.has(col):
        return reference_result(edge, pl.DataFrame({col: []}), 0)

    def chosen(rows: pl.DataFrame) -> pl.DataFrame:
        rows = rows if selects is None else rows.filter(selects)
        return rows.drop_nulls(col)

    causes = []
    if not target.exists or not target.has(ref.column):
        missing = (
            f"dataset {ref.dataset!r}" if not target.exists else f"column {ref.column!r} in {ref.dataset!r}"
        )
        causes.append(
            f"the branch has no {missing} at this commit: write it (in the same transaction) "
            f"or correct the reference of {edge.dataset}.{col}"
        )
    added = chosen(source.added(wanted))
    probe = added[col].unique()
    found = target.present(ref.column, probe) if causes == [] else probe.head(0)
    orphans = added.filter(pl.col(col).is_in(probe.filter(~probe.is_in(found.implode())).implode()))
    removed = target.removed(ref.column)
    if removed.len():
        gone = removed.filter(~removed.is_in(target.present(ref.column, removed).implode()))
        lost = chosen(source.holding(col, gone, wanted)) if gone.len() else added.head(0)
        if lost.height:
            orphans = pl.concat([orphans, lost.select(orphans.columns)], how="vertical_relaxed")
            causes.append(
                f"{lost.height} row(s) of {edge.dataset} lost their {ref.dataset} row in this change"
            )
    return reference_result(edge, orphans, source.rows, "; ".join(causes))


def reference_name(column: str) -> str:
    return f"{column}.references"


def reference_result(edge: Edge, orphans: pl.DataFrame, checked_rows: int, cause: str = "") -> CheckResult:
    """The check's result, given ``orphans``, the rows (with the primary key and the column)
    whose value is not in the referenced column, out of ``checked_rows`` rows. ``cause`` says
    why, where it is not plain (a missing dataset, a delete in the referenced dataset)."""
    column, reference = edge.column, edge.reference
    target = f"{reference.dataset}.{reference.column}"
    failed = orphans.height
    status: Status = "pass" if not failed else ("fail" if reference.severity == "error" else "warn")
    message = ""
    if failed:
        values = orphans[column].unique().sort()
        shown = ", ".join(repr(_plain(v)) for v in values.head(SHOWN_VALUES).to_list())
        more = f" and {values.len() - SHOWN_VALUES} more" if values.len() > SHOWN_VALUES else ""
        message = f"{values.len()} value(s) not in {target}: {shown}{more}"
        if cause:
            message += f" ({cause})"
    cols = list(dict.fromkeys([*edge.contract.primary_key, column]))
    samples = tuple(
        {k: _plain(v) for k, v in row.items()}
        for row in orphans.select([c for c in cols if c in orphans.columns]).head(MAX_SAMPLES).to_dicts()
    )
    return CheckResult(
        reference_name(column),
        "references",
        column,
        status,
        reference.severity,
        f"in {target}",
        failed,
        checked_rows,
        message=message,
        samples=samples,
    )


def _plain(value: Any) -> Any:
    return value if isinstance(value, int | float | str | bool) or value is None else str(value)
