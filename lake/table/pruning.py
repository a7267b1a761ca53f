"""Which files a SQL predicate may select, from their min/max statistics alone.

The predicate is parsed by sqlglot; comparisons of a column with a literal (``=``, ``<``, ``<=``,
``>``, ``>=``), ``IN``, ``BETWEEN``, and ``AND``/``OR`` of those bound the values a selected row can
hold. A file whose statistics put every value of such a column outside those bounds holds no row
the predicate selects (a row where the predicate is NULL is not selected either), so a delete need
not read it. Anything else (functions, NOT, IS NULL, columns compared with columns, literals of
another type than the column) may match any file: pruning only ever skips files it can prove
irrelevant.

Bounds are compared where the statistics bound the values: numbers, booleans, dates
(``YYYY-MM-DD`` strings compare as dates) and strings (delta-rs writes them whole; Spark truncates
long ones to a prefix for the minimum and a prefix with a tie-breaker above it for the maximum,
which still bound the values, as upserts' pruning already relies on). Timestamps are kept at
millisecond precision in the statistics, so they never prune.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from lake.errors import InvalidInputError

from .views import FileRef, View

if TYPE_CHECKING:
    from sqlglot import exp

MayMatch = Callable[[FileRef], bool]


def _always(_: FileRef) -> bool:
    return True


def _kind(t: pa.DataType) -> str | None:
    if pa.types.is_integer(t):
        return "int"  # polars compares an integer column with a literal exactly
    if pa.types.is_float64(t):
        return "float"  # polars casts the literal to float64 first
    # float32 is not pruned: polars casts the literal to float32, the statistics hold float64s
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_boolean(t):
        return "bool"
    return None


def _literal(node: exp.Expression, kind: str) -> Any:
    """The literal's value in the terms of the statistics of a ``kind`` column, or None."""
    from sqlglot import exp

    if isinstance(node, exp.Cast) and kind == "date":
        node = node.this  # only an ISO date (below): polars reads other spellings too
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        value = _literal(node.this, kind)
        return -value if isinstance(value, int | float | decimal.Decimal) else None
    if isinstance(node, exp.Boolean) and kind == "bool":
        return bool(node.this)
    if not isinstance(node, exp.Literal):
        return None
    if kind in ("int", "float") and not node.is_string:
        text = str(node.this)
        try:
            exact = decimal.Decimal(text)  # 4.9999999999999999 is not 5
        except decimal.InvalidOperation:
            return None  # a spelling polars reads and Python does not: no pruning
        if not exact.is_finite():
            return None
        if kind == "float":
            return float(exact)  # as polars compares it
        return int(exact) if exact == exact.to_integral_value() else exact
    if kind == "string" and node.is_string:
        return str(node.this)
    if kind == "date" and node.is_string and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", str(node.this)):
        return str(node.this)
    return None


def _bounds(ref: FileRef, column: str, kind: str) -> tuple[Any, Any] | None:
    bounds = ref.file.bounds(column)
    if bounds is None:
        return None
    low, high = bounds
    if kind == "date" and (len(str(low)) != 10 or len(str(high)) != 10):
        return None
    return low, high


def _compare(column: str, kind: str, test: Callable[[Any, Any], bool]) -> MayMatch:
    def may(ref: FileRef) -> bool:
        bounds = _bounds(ref, column, kind)
        if bounds is None:
            return True
        try:
            return bool(test(*bounds))
        except TypeError:  # statistics of another type (after a retype)
            return True

    return may


def _column(node: exp.Expression, kinds: dict[str, str]) -> str | None:
    from sqlglot import exp

    if isinstance(node, exp.Column) and not node.table and node.name in kinds:
        return str(node.name)
    return None


def _build(node: exp.Expression, kinds: dict[str, str]) -> MayMatch:
    from sqlglot import exp

    if isinstance(node, exp.Paren):
        return _build(node.this, kinds)
    if isinstance(node, exp.And):
        left, right = _build(node.this, kinds), _build(node.expression, kinds)
        return lambda ref: left(ref) and right(ref)
    if isinstance(node, exp.Or):
        left, right = _build(node.this, kinds), _build(node.expression, kinds)
        return lambda ref: left(ref) or right(ref)
    flipped: dict[type[exp.Expression], type[exp.Expression]] = {
        exp.GT: exp.LT,
        exp.GTE: exp.LTE,
        exp.LT: exp.GT,
        exp.LTE: exp.GTE,
        exp.EQ: exp.EQ,
    }
    if type(node) in flipped:
        op: type[exp.Expression] = type(node)
        col, other = _column(node.this, kinds), node.expression
        if col is None:
            col, other, op = _column(node.expression, kinds), node.this, flipped[op]
        if col is None:
            return _always
        kind = kinds[col]
        v = _literal(other, kind)
        if v is None:
            return _always
        if kind == "float" and op in (exp.GT, exp.GTE):
            # polars ranks NaN above every number, and statistics other engines write ignore NaN
            return _always
        tests: dict[type, Callable[[Any, Any], bool]] = {
            exp.EQ: lambda lo, hi: lo <= v <= hi,
            exp.GT: lambda lo, hi: hi > v,
            exp.GTE: lambda lo, hi: hi >= v,
            exp.LT: lambda lo, hi: lo < v,
            exp.LTE: lambda lo, hi: lo <= v,
        }
        return _compare(col, kind, tests[op])
    if isinstance(node, exp.In) and not node.args.get("query"):
        col = _column(node.this, kinds)
        if col is None:
            return _always
        values = [_literal(e, kinds[col]) for e in node.expressions]
        if not values or any(v is None for v in values):
            return _always
        return _compare(col, kinds[col], lambda lo, hi: any(lo <= v <= hi for v in values))
    if isinstance(node, exp.Between):
        col = _column(node.this, kinds)
        if col is None:
            return _always
        low, high = (_literal(node.args[k], kinds[col]) for k in ("low", "high"))
        if low is None or high is None:
            return _always
        return _compare(col, kinds[col], lambda lo, hi: hi >= low and lo <= high)
    return _always


def may_match(where: str, schema: pa.Schema) -> MayMatch:
    """A test that is False only for files whose statistics prove ``where`` selects none of
    their rows (True for every file when the predicate cannot be read this way)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        tree = sqlglot.parse_one(where)
    except SqlglotError:
        return _always
    assert isinstance(tree, exp.Expression)
    kinds = {f.name: k for f in schema if (k := _kind(f.type)) is not None}
    return _build(tree, kinds)


def predicate(where: str) -> pl.Expr:
    """``where`` as polars runs it; a predicate polars cannot read is an InvalidInputError."""
    try:
        return pl.sql_expr(where)
    except Exception as exc:
        raise InvalidInputError(f"cannot parse the predicate {where!r}: {exc}") from exc


def selects(frame: pl.DataFrame, where: str) -> pl.Series:
    """Per row of ``frame``, whether ``where`` selects it (NULL: not), a constant predicate
    (``true``) broadcast to every row."""
    mask = "__lakegate_selected__"
    try:
        return frame.with_columns(predicate(where).fill_null(False).alias(mask)).get_column(mask)
    except pl.exceptions.PolarsError as exc:
        raise InvalidInputError(f"cannot apply the predicate {where!r}: {exc}") from None


def selected(view: View, where: str) -> tuple[list[FileRef], pl.Expr]:
    """The files of ``view`` whose statistics may hold a row ``where`` selects, and the predicate."""
    may = may_match(where, view.schema)
    return [r for r in view.files.values() if may(r)], predicate(where)
