"""Checking rows against a contract: cast them to the contract's types, then run every check on
them, with the rows the dataset keeps besides them for the table-wide rules. The write path, the
merge gate and ``check_contract`` all judge data this one way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from lake.contracts.model import Contract

from .engine import cast_to_contract, validate
from .others import OtherRows
from .report import CheckResult, ValidationReport


@dataclass(frozen=True)
class CheckedRows:
    table: pa.Table  # the rows as they were checked: cast to the contract's types
    report: ValidationReport
    violations: pl.DataFrame | None  # with blame: the names of the checks each row breaks


def check_rows(
    contract: Contract,
    rows: pa.Table | None,
    *,
    others: OtherRows | None = None,
    cast: Sequence[CheckResult] | None = None,
    blame: bool = False,
    now: dt.datetime | None = None,
    rows_only: bool = False,
) -> CheckedRows:
    """Check ``rows`` (None: no rows) as ``contract`` says; ``others`` are the rows the dataset
    keeps besides them (uniqueness, row counts and freshness hold across both).

    The rows are cast to the contract first, unless ``cast`` holds the results of the cast
    already made (the write path casts an incoming batch before it plans with it). ``rows_only``:
    the row rules alone (see :func:`~lake.validation.engine.validate`)."""
    table = rows if rows is not None else contract.arrow_schema().empty_table()
    if cast is None:
        typed = cast_to_contract(contract, table)
        table, cast = typed.table, typed.results
    report, violations = validate(
        contract, table, others=others, pre=cast, blame=blame, now=now, rows_only=rows_only
    )
    return CheckedRows(table, report, violations)
