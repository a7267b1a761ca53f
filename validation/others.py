"""What validation may ask of the rows a dataset keeps besides a write's own: the lake answers
(:class:`lake.table.views.KeptRows`, or with per-file summaries
:class:`lake.stores.summaries.SummarizedRows`); validation never reads storage itself."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import polars as pl

if TYPE_CHECKING:
    from .metrics import ColumnSummary


class OtherRows(Protocol):
    """The rows the dataset keeps besides the batch, as the lake exposes them to validation."""

    @property
    def rows(self) -> int: ...

    def candidates(
        self, columns: Sequence[str], low: Any, high: Any, where: pl.Expr | None = None
    ) -> pl.LazyFrame:
        """``columns`` of the kept rows in files whose statistics for ``columns[0]`` overlap
        ``[low, high]`` (files without statistics are always included), of the rows ``where``
        selects when it is given."""
        ...

    def column_max(self, column: str, where: pl.Expr | None = None) -> Any: ...

    def count(self, where: pl.Expr) -> int:
        """How many kept rows ``where`` selects (a scan of the columns it names)."""
        ...

    def scan(self, columns: Sequence[str]) -> pl.LazyFrame:
        """``columns`` of every kept row (exact metrics read them)."""
        ...

    def summary(self, column: str) -> ColumnSummary | None:
        """The merged summary of ``column`` over the kept rows, or None where none is kept."""
        ...
