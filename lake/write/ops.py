"""The operations a commit is made of, as the write path plans and applies them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

from lake.errors import DatasetNotFoundError, InvalidInputError
from lake.table.change import Change
from lake.table.views import View

OnViolation = Literal["reject", "quarantine"]


@dataclass(frozen=True)
class Op:
    dataset: str
    plan: Callable[[View | None, pa.Table | None], Change]
    data: Any = None  # the rows the operation brings, if any
    needs_data: bool = True  # False: the dataset must exist already
    quarantine: bool = False  # set rows that break the contract aside instead of refusing all
    merge: bool = False  # part of a merge: checked by the merge gate, not per write


def check_on_violation(mode: str) -> None:
    if mode not in ("reject", "quarantine"):
        raise InvalidInputError(f"unknown on_violation {mode!r}: use 'reject' or 'quarantine'")


def exists(view: View | None, dataset: str) -> View:
    if view is None:
        raise DatasetNotFoundError(f"no dataset {dataset!r} on this branch")
    return view
