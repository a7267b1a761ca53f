"""``lake.validate``: a contract's checks on data that is not in a lake yet, so an ETL job's own
CI can judge its output before anything touches the lake. The data stands for the whole dataset
(uniqueness, row counts, freshness and dataset metrics hold over it); it is judged the one way
the lake judges writes (:func:`lake.validation.rows.check_rows`). References to other datasets
need a repository: they are reported as warnings that say so."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa

from lake.contracts.model import Contract
from lake.table.frames import to_arrow
from lake.validation.report import CheckResult, ValidationReport
from lake.validation.rows import check_rows


def validate(
    data: Any, contract: Contract | str | Path, *, now: dt.datetime | None = None
) -> ValidationReport:
    """Check ``data`` (a pyarrow Table, RecordBatch or RecordBatchReader, a pandas or polars
    DataFrame, a polars LazyFrame) against ``contract`` (a Contract, a YAML file path or YAML
    text). Returns the report; ``report.ok`` is the verdict. Writes nothing, needs no lake."""
    spec = contract if isinstance(contract, Contract) else Contract.from_yaml(contract)
    report = check_rows(spec, _table(data), now=now).report
    unchecked = tuple(_reference_notes(spec))
    return replace(report, results=report.results + unchecked) if unchecked else report


def _table(data: Any) -> pa.Table:
    module, kind = type(data).__module__.split(".")[0], type(data).__name__
    if module == "polars" and kind == "LazyFrame":
        table: pa.Table = data.collect().to_arrow()
        return table
    return to_arrow(data)


def _reference_notes(contract: Contract) -> Iterator[CheckResult]:
    for name, spec in contract.columns.items():
        ref = spec.references
        if ref is None:
            continue
        yield CheckResult(
            f"{name}.references",
            "references",
            name,
            "warn",
            ref.severity,
            f"in {ref.dataset}.{ref.column}",
            message=f"not checked: {ref.dataset} is another dataset, and a reference is checked "
            "against it in a repository (on every write and merge)",
        )
