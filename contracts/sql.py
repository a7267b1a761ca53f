"""SQL checks are parsed with sqlglot. Only a boolean expression over the dataset's columns is
accepted: no statement, no subquery, no unknown column, no function outside the allow-list.
sqlglot loads with the first check parsed, not with the contracts package."""

from __future__ import annotations

from collections.abc import Collection
from functools import cache
from typing import TYPE_CHECKING

from lake.sql_bounds import unbounded

if TYPE_CHECKING:
    from sqlglot import exp


def regex_error(exc: Exception) -> str:
    """What is wrong with a regular expression, on one line: polars (Rust's regex) explains it
    over several lines, the pattern drawn with a caret, then ``error: <the reason>``."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reasons = [line.removeprefix("error:").strip() for line in lines if line.startswith("error:")]
    return reasons[0] if reasons else (lines[0] if lines else type(exc).__name__)


@cache
def allowed_functions() -> tuple[type[exp.Expression], ...]:
    """Functions a check may call: pure, row-wise, and understood by polars' SQL."""
    from sqlglot import exp

    return (
        exp.Abs,
        exp.Lower,
        exp.Upper,
        exp.Length,
        exp.Coalesce,
        exp.Cast,
        exp.TryCast,
        exp.Trim,
        exp.Round,
        exp.Floor,
        exp.Ceil,
        exp.Substring,
        exp.StartsWith,
        exp.EndsWith,
        exp.Sqrt,
        exp.Ln,
        exp.Log,
        exp.Pow,
        exp.If,
        exp.Case,
        exp.Nullif,
        exp.RegexpLike,
        exp.Greatest,
        exp.Least,
        exp.Sign,
        exp.Concat,
        exp.ArrayContains,
    )


def check_predicate(sql: str, columns: Collection[str]) -> exp.Expression:
    """Parse ``sql`` and return its tree, or raise ValueError with the reason it is refused."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError

    boolean = (exp.Predicate, exp.Connector, exp.Not, exp.Boolean, exp.Paren, exp.ArrayContains)
    shown = sql if len(sql) <= 80 else sql[:77] + "..."
    if (why := unbounded(sql)) is not None:
        raise ValueError(why)
    try:
        statements = sqlglot.parse(sql)
    except ParseError as exc:
        first = exc.errors[0]["description"] if exc.errors else str(exc)
        raise ValueError(f"cannot parse SQL {shown!r}: {first}") from None
    except RecursionError:
        raise ValueError(f"{shown!r} is nested too deeply to parse (NOT inside NOT ...)") from None
    if len(statements) != 1 or statements[0] is None:
        raise ValueError(f"{sql!r} must be one boolean expression")
    tree = statements[0]
    if isinstance(tree, exp.Query | exp.Command | exp.DDL | exp.DML) or tree.find(exp.Query):
        raise ValueError(f"{sql!r} is a statement or holds a subquery; a check is one boolean expression")
    inner = tree.unnest() if isinstance(tree, exp.Paren) else tree
    if not isinstance(inner, boolean):
        raise ValueError(f"{sql!r} is not a boolean expression (a comparison, IN, IS NULL, AND/OR, ...)")
    for node in tree.walk():
        if isinstance(node, exp.Column):
            if node.table:
                raise ValueError(f"{sql!r} names a table ({node.table}); name columns only")
            if node.name not in columns:
                raise ValueError(f"{sql!r} names an unknown column {node.name!r}")
        elif isinstance(node, exp.Func) and not isinstance(node, (*allowed_functions(), *boolean)):
            name = node.sql_name() if not isinstance(node, exp.Anonymous) else node.name
            raise ValueError(f"{sql!r} calls {name}(), which is not allowed in a check")
        elif isinstance(node, exp.RegexpLike):
            _check_regex(sql, node.expression)
    assert isinstance(tree, exp.Expression)
    return tree


def _check_regex(sql: str, pattern: exp.Expression) -> None:
    """Refuse a REGEXP_LIKE whose pattern (a string literal) polars cannot compile: Rust's regex
    has no backreferences or look-around, which Python's ``re`` accepts."""
    from sqlglot import exp

    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        return
    import polars as pl

    try:
        pl.Series([""], dtype=pl.String).str.contains(pattern.this)
    except pl.exceptions.ComputeError as exc:
        raise ValueError(
            f"{sql!r} holds an invalid regular expression {pattern.this!r}: {regex_error(exc)}"
        ) from None
