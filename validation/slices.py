"""One report for a write checked slice by slice (a streamed write, :mod:`lake.write.stream`).

Each slice is checked with the rows the dataset keeps besides it *and the slices before it*, so
that a row rule and a uniqueness check over a slice are exact: their failing rows add up across
slices (a ``mostly`` share is judged on the sums). Row counts, freshness and metrics are about the
whole dataset (or the whole write, for ``scope: batch`` metrics), so they are judged once, after
the last slice, by a check of no new rows against everything written (``whole``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from lake.contracts.model import Contract

from .compiled import CompiledCheck
from .engine import _compiled, _status
from .report import MAX_SAMPLES, CheckResult, Status, ValidationReport

WHOLE = frozenset({"row_count", "freshness", "metric"})  # judged over everything, once
_RANK: dict[Status, int] = {"pass": 0, "warn": 1, "fail": 2}


def row_level_ok(report: ValidationReport) -> bool:
    """Whether ``report`` (of one slice) holds no row-level failure."""
    return not any(r.status == "fail" and r.kind not in WHOLE for r in report.results)


def doomed(report: ValidationReport) -> bool:
    """Whether ``report`` (of one slice) already dooms the write: a row-level check that allows
    no failing row failed (a ``mostly`` share is judged on the sums, after the last slice)."""
    return any(r.status == "fail" and r.kind not in WHOLE and r.mostly >= 1.0 for r in report.results)


def merge(
    contract: Contract,
    slices: Sequence[ValidationReport],
    whole: ValidationReport,
    whole_batch: ValidationReport | None = None,
) -> ValidationReport:
    """The report of the write: the slices' row-level results summed, the rest from ``whole``
    (``whole_batch``: the same check of the write's rows alone, for ``scope: batch`` metrics)."""
    compiled = {c.name: c for c in _compiled(contract)}
    rows = sum(s.rows for s in slices)
    summed: dict[str, CheckResult] = {}
    for part in slices:
        for r in part.results:
            if r.kind in WHOLE:
                continue
            seen = summed.get(r.name)
            summed[r.name] = r if seen is None else _add(seen, r)
    out: list[CheckResult] = []
    for r in summed.values():
        check = compiled.get(r.name)
        status = _status(r.failed_rows, r.rows, check) if check is not None else r.status
        out.append(replace(r, status=status))
    batch_scoped = _batch_metrics(contract)
    for r in whole.results:
        if r.kind not in WHOLE:
            continue
        if r.name in batch_scoped and whole_batch is not None:
            r = next((b for b in whole_batch.results if b.name == r.name), r)
        out.append(replace(r, rows=rows) if r.kind != "metric" else r)
    quarantined = sum(s.quarantined for s in slices)
    return ValidationReport(contract.dataset, contract.hash, rows, tuple(out), quarantined)


def _add(a: CheckResult, b: CheckResult) -> CheckResult:
    samples = (*a.samples, *b.samples)[:MAX_SAMPLES]
    status = a.status if _RANK[a.status] >= _RANK[b.status] else b.status
    message = a.message or b.message
    return replace(
        a,
        failed_rows=a.failed_rows + b.failed_rows,
        rows=a.rows + b.rows,
        samples=samples,
        status=status,
        message=message,
    )


def _batch_metrics(contract: Contract) -> set[str]:
    """The names of the contract's checks that are metrics over the write's rows alone."""
    return {c.name for c in _compiled(contract) if c.bound is not None and c.bound.scope == "batch"}


def as_dataset_scope(contract: Contract) -> Contract:
    """``contract`` with its ``scope: batch`` metrics over the dataset instead: checked against a
    dataset that holds only the write's rows, they measure the write."""
    columns = {}
    for name, spec in contract.columns.items():
        metrics = {
            metric: [b.model_copy(update={"scope": "dataset"}) for b in bounds]
            for metric, bounds in spec.metrics.items()
        }
        columns[name] = spec.model_copy(update={"metrics": metrics})
    return contract.model_copy(update={"columns": columns})


def compared_columns(contract: Contract) -> list[str]:
    """The columns a uniqueness check compares across slices (its key and what its ``where:``
    names): what a slice must see of the rows before it that no file holds yet."""
    return compared_by(_compiled(contract))


def compared_by(checks: Iterable[CompiledCheck]) -> list[str]:
    """The columns the uniqueness checks among ``checks`` compare (keys, and their ``where:``'s)."""
    names: list[str] = []
    for check in checks:
        if check.unique_on:
            names += [*check.unique_on, *(check.where.meta.root_names() if check.where is not None else [])]
    return list(dict.fromkeys(names))


def has_batch_metrics(contract: Contract) -> bool:
    return bool(_batch_metrics(contract))
