"""Reference checks: every non-null value of a column exists in a column of another dataset (or
of its own), at the same commit. The lake finds the values that do not (it reads storage; see
:mod:`lake.write.references`); this module turns them into the check's result: how many rows
break it, which values, and sample rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from lake.contracts.model import Reference

from .report import MAX_SAMPLES, CheckResult, Status

SHOWN_VALUES = 20


def reference_name(column: str) -> str:
    return f"{column}.references"


def reference_result(
    column: str,
    reference: Reference,
    orphans: pl.DataFrame,
    checked_rows: int,
    keys: Sequence[str],
    *,
    cause: str = "",
) -> CheckResult:
    """The check's result, given ``orphans``, the rows (with ``keys`` and ``column``) whose value
    is not in the referenced column, out of ``checked_rows`` rows checked. ``cause`` says what
    made them orphans when it was not their own write (a delete in the referenced dataset)."""
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
    cols = list(dict.fromkeys([*keys, column]))
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
