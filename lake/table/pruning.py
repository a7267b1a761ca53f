"""Which files a SQL predicate may select, from their min/max statistics alone.

The predicate is parsed by sqlglot; comparisons of a column with a literal (``=``, ``<``, ``<=``,
``>``, ``>=``), ``IN``, ``BETWEEN``, and ``AND``/``OR`` of those bound the values a selected row can
hold. A file whose statistics put every value of such a column outside those bounds holds no row
the predicate selects (a row where the predicate is NULL is not selected either), so a delete need
not read it. Anything else (functions, NOT, IS NULL, columns compared with columns, literals of
another type than the column) may match any file: pruning only ever skips files it can prove
irrelevant.

A partitioned dataset's files are also pruned exactly by their partition values: each AND-ed
part of the predicate that names partition columns only (any SQL polars runs) is evaluated on
each partition's values; a file where one is false holds no selected row, and a file where every
part is such a part, and true, has every row selected (a delete drops it unread).

Bounds are compared where the statistics bound the values: numbers, booleans, dates
(``YYYY-MM-DD`` strings compare as dates) and strings (delta-rs writes them whole; Spark truncates
long ones to a prefix for the minimum and a prefix with a tie-breaker above it for the maximum,
which still bound the values, as upserts' pruning already relies on). Timestamps are kept at
millisecond precision in the statistics, so they never prune.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from lake.errors import InvalidInputError, first_line
from lake.sql_bounds import unbounded

from . import partitions
from .partitions import Partition
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
    tree = _parse(where)
    if tree is None:
        return _always
    kinds = {f.name: k for f in schema if (k := _kind(f.type)) is not None}
    return _build(tree, kinds)


def _parse(where: str) -> exp.Expression | None:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    refuse_unbounded(where)
    try:
        tree = sqlglot.parse_one(where)
    except SqlglotError:
        return None
    return tree if isinstance(tree, exp.Expression) else None


def _plain(tree: exp.Expression) -> bool:
    """Whether ``tree`` uses only what sqlglot writes back as polars reads it: columns, literals,
    comparisons, IN, BETWEEN, IS NULL, AND, OR, NOT and parentheses. Functions and operators whose
    spelling differs between dialects (``log2(k)`` comes back as ``LOG(2, k)``, which polars reads
    as another logarithm) are not, so no rewritten text of them is ever run."""
    from sqlglot import exp

    allowed = (
        exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Neg, exp.Not,
        exp.And, exp.Or, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.In, exp.Between,
    )  # fmt: skip
    for node in tree.walk():
        if isinstance(node, exp.Is):
            if not isinstance(node.expression, exp.Null):
                return False
            continue
        if not isinstance(node, allowed):
            return False
    return True


def _coerced(where: str, dates: Collection[str], times: Collection[str]) -> str:
    """``where`` with each string literal compared to a date (``times``: a timestamp) column cast
    to that type, as Spark and Delta read ``day = '2026-11-01'``; polars would compare a date with
    a string and fail."""
    from sqlglot import exp

    if not dates and not times:
        return where
    tree = _parse(where)
    if tree is None or not _plain(tree):
        return where  # run as written (a date compared with a string then needs DATE '...')
    changed = False

    def cast(node: exp.Expression, column: exp.Expression) -> exp.Expression:
        nonlocal changed
        if not (isinstance(node, exp.Literal) and node.is_string and isinstance(column, exp.Column)):
            return node
        if column.name in dates:
            changed = True
            return exp.cast(node, "DATE")
        if column.name in times:
            changed = True
            return exp.cast(node, "TIMESTAMP")
        return node

    for binary in list(tree.find_all(exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)):
        left, right = binary.this, binary.expression
        binary.set("this", cast(left, right))
        binary.set("expression", cast(right, left))
    for within in list(tree.find_all(exp.In)):
        within.set("expressions", [cast(e, within.this) for e in within.expressions])
    for between in list(tree.find_all(exp.Between)):
        for key in ("low", "high"):
            between.set(key, cast(between.args[key], between.this))
    return tree.sql() if changed else where


PREDICATE_HINT = (
    "write one boolean SQL expression over the dataset's columns, e.g. \"id > 10 AND region = 'EU'\" "
    "(no statement, no subquery); 'lake datasets' shows each dataset's columns"
)


def _temporal(schema: pa.Schema) -> tuple[set[str], set[str]]:
    """The date columns and the zone-less timestamp columns of ``schema``."""
    dates = {f.name for f in schema if pa.types.is_date(f.type)}
    times = {f.name for f in schema if pa.types.is_timestamp(f.type) and f.type.tz is None}
    return dates, times


def refuse_unbounded(where: str) -> None:
    """Refuse a predicate past :mod:`lake.sql_bounds` before sqlglot or polars reads it."""
    if (why := unbounded(where)) is not None:
        raise InvalidInputError(f"the predicate is too large: {why}", hint=PREDICATE_HINT)


def predicate(where: str, schema: pa.Schema | None = None) -> pl.Expr:
    """``where`` as polars runs it on rows of ``schema``; a predicate polars cannot read is an
    InvalidInputError."""
    refuse_unbounded(where)
    try:
        sql = _coerced(where, *_temporal(schema)) if schema is not None else where
        return pl.sql_expr(sql)
    except RecursionError:
        raise InvalidInputError(
            f"the predicate {where!r} is nested too deeply", hint=PREDICATE_HINT
        ) from None
    except Exception as exc:
        raise InvalidInputError(
            f"cannot parse the predicate {where!r}: {first_line(exc)}", hint=PREDICATE_HINT
        ) from exc


def selects(frame: pl.DataFrame, where: str) -> pl.Series:
    """Per row of ``frame``, whether ``where`` selects it (NULL: not), a constant predicate
    (``true``) broadcast to every row."""
    mask = "__lakegate_selected__"
    try:
        pred = predicate(where, frame.head(0).to_arrow().schema)
        return frame.with_columns(pred.fill_null(False).alias(mask)).get_column(mask)
    except pl.exceptions.PolarsError as exc:
        raise InvalidInputError(f"cannot apply the predicate {where!r}: {exc}") from None


@dataclass(frozen=True)
class Selection:
    """The files of a view a predicate may select rows of, and the predicate as polars runs it.
    ``whole``: the paths of those files whose every row it selects (their partition values alone
    decide it), which a delete drops without reading them."""

    files: list[FileRef]
    predicate: pl.Expr
    whole: frozenset[str] = frozenset()

    @property
    def partly(self) -> list[FileRef]:
        """The files whose rows must be read to tell which the predicate selects."""
        return [r for r in self.files if r.path not in self.whole]


def selected(view: View, where: str) -> Selection:
    """The files of ``view`` that may hold a row ``where`` selects: pruned by the partition
    values of a partitioned dataset (exactly), then by the files' statistics."""
    may = may_match(where, view.schema)
    files = [r for r in view.files.values() if may(r)]
    pred = predicate(where, view.schema)
    if not view.partition_by or not files:
        return Selection(files, pred)
    excluded, whole = _by_partition(where, view.schema, view.partition_by, files)
    kept = [r for r in files if r.file.partition not in excluded]
    return Selection(kept, pred, frozenset(r.path for r in kept if r.file.partition in whole))


def _by_partition(
    where: str, schema: pa.Schema, partition_by: Sequence[str], files: Sequence[FileRef]
) -> tuple[set[Partition], set[Partition]]:
    """The partitions (among ``files``') that ``where`` selects no row of, and those it selects
    every row of: each AND-ed part of it that names partition columns only is evaluated on the
    partition values. A part that cannot be evaluated that way decides nothing."""
    from sqlglot import exp

    tree = _parse(where)
    if tree is None:
        return set(), set()
    conjuncts = list(tree.flatten()) if isinstance(tree, exp.And) else [tree]
    distinct = list(dict.fromkeys(r.file.partition for r in files))
    values = partitions.frame(distinct, schema)
    excluded: set[Partition] = set()
    decided = 0
    for part in conjuncts:
        names = {c.name for c in part.find_all(exp.Column)}
        if not names or not names <= set(partition_by) or any(c.table for c in part.find_all(exp.Column)):
            continue
        if part.find(exp.Select, exp.Subquery) is not None:
            continue
        if len(conjuncts) > 1 and not (isinstance(part, exp.Expression) and _plain(part)):
            continue  # only the user's own text of a part with functions may be run
        try:
            mask = selects(values, where if len(conjuncts) == 1 else part.sql()).to_list()
        except InvalidInputError:
            continue
        decided += 1
        excluded |= {p for p, hit in zip(distinct, mask, strict=True) if not hit}
    everything = decided == len(conjuncts)
    whole = {p for p in distinct if p not in excluded} if everything else set()
    return excluded, whole
