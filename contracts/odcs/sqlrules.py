"""ODCS ``type: sql`` rules, translated into lakegate checks, or refused with the reason.

A SQL rule is a query that returns one value, compared with the rule's threshold. The query is
parsed by sqlglot in the dialect of the contract's servers (``LIST_CONTAINS`` is duckdb's,
``count_if`` Spark's), and the forms people write are translated:

- ``SELECT COUNT(*) FROM t WHERE <bad row>`` that must be 0 is a row rule ``NOT (<bad row>)``
  (each failing row is reported); with a percent threshold it keeps that tolerance as ``mostly``;
- ``COUNT(*)`` (with ``WHERE``, ``FILTER (WHERE ...)``, ``count_if``) within bounds is a
  ``row_count`` check on the rows the condition selects;
- ``AVG``, ``MIN``, ``MAX``, ``SUM``, ``STDDEV``, quantiles and distinct counts of one column
  are that column's metrics.

Everything else (joins, windows, ``QUALIFY``, subqueries, time travel, sampling, functions
lakegate's checks cannot run) is refused, saying which part.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..sql import check_predicate
from .thresholds import Threshold

if TYPE_CHECKING:
    from sqlglot import exp

TABLE = "__lakegate_table__"
_PLACEHOLDER = re.compile(r"(\$)?\{\s*(\w+)\s*\}")
_STRING = re.compile(r"'(?:[^']|'')*'")  # a SQL string literal: placeholders are not looked for in it
_COLUMN_WORDS = frozenset({"column", "field", "property", "columnname", "column_name", "fieldname"})
# ``{word}`` without ``$`` is a placeholder only for these (``{5}`` in a regex is not one)
_BARE_WORDS = _COLUMN_WORDS | {
    "model",
    "table",
    "object",
    "schema",
    "dataset",
    "project",
    "database",
    "catalog",
}

# server types (ODCS ``servers[].type``) -> sqlglot dialects; files are read with duckdb
DIALECTS = {
    "postgres": "postgres",
    "postgresql": "postgres",
    "bigquery": "bigquery",
    "snowflake": "snowflake",
    "databricks": "databricks",
    "spark": "spark",
    "kafka": "spark",
    "dataframe": "spark",
    "duckdb": "duckdb",
    "local": "duckdb",
    "s3": "duckdb",
    "gcs": "duckdb",
    "azure": "duckdb",
    "api": "duckdb",
    "trino": "trino",
    "presto": "presto",
    "athena": "athena",
    "redshift": "redshift",
    "mysql": "mysql",
    "oracle": "oracle",
    "sqlserver": "tsql",
    "mssql": "tsql",
    "synapse": "tsql",
    "impala": "hive",
    "hive": "hive",
    "clickhouse": "clickhouse",
    "teradata": "teradata",
    "sqlite": "sqlite",
}


class UntranslatableSql(ValueError):
    """The reason a SQL rule has no lakegate equivalent."""


@dataclass(frozen=True)
class RowRule:
    """Every row satisfies ``predicate`` (or a share ``mostly`` of them)."""

    predicate: str
    mostly: float = 1.0
    where: str | None = None  # the rows the share is of (a count_if's WHERE)


@dataclass(frozen=True)
class CountRule:
    """The number of rows (that ``where`` selects) is within bounds."""

    where: str | None
    low: int | None
    high: int | None


@dataclass(frozen=True)
class MetricRule:
    column: str
    metric: str
    low: float | None
    high: float | None
    p: float | None = None
    where: str | None = None


@dataclass(frozen=True)
class FreshRule:
    """Some row's ``column`` is within ``max_age`` of now: ``COUNT(*) WHERE col > now() - age``
    that must be above 0 is lakegate's freshness check."""

    column: str
    max_age: str


Translation = RowRule | CountRule | MetricRule | FreshRule

# aggregates that sqlglot leaves as plain function calls in some dialects
_ANONYMOUS_METRICS = {
    "QUANTILE_CONT": "quantile",
    "QUANTILE": "quantile",
    "APPROX_QUANTILE": "quantile",
    "PERCENTILE_APPROX": "quantile",
    "APPROX_PERCENTILE": "quantile",
    "NDV": "distinct_count",
    "APPROX_COUNT_DISTINCT": "distinct_count",
    "APPROX_DISTINCT": "distinct_count",
}
_NOW = frozenset({"NOW", "GETDATE", "GETUTCDATE", "SYSDATE", "SYSTIMESTAMP", "CURRENT_TIMESTAMP"})
_SECONDS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400, "WEEK": 7 * 86400}


def row_query(predicate: str) -> str:
    """The SQL rule of a row predicate, as lakegate's export writes it: the rows breaking it."""
    return f"SELECT COUNT(*) FROM ${{object}} WHERE NOT ({predicate})"


def identifier(name: str) -> str:
    """``name`` as a SQL column: bare where it reads back as that column, else double-quoted
    (a column named ``null``, ``true``, ``select`` or ``unit price``)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    bare = exp.to_identifier(name).sql()
    try:
        node = sqlglot.parse_one(bare)
    except SqlglotError:
        node = None
    if isinstance(node, exp.Column) and node.name == name and not node.table:
        return str(bare)
    return str(exp.to_identifier(name, quoted=True).sql())


def _fill(query: str, column: str | None) -> str:
    def sub(m: re.Match[str]) -> str:
        word = m.group(2).lower()
        if not m.group(1) and word not in _BARE_WORDS:
            return m.group(0)
        if word in _COLUMN_WORDS:
            if column is None:
                raise UntranslatableSql(f"{m.group(0)} names a column, but the rule is not on a column")
            return identifier(column)
        return TABLE

    out, at = [], 0
    for literal in _STRING.finditer(query):
        out += [_PLACEHOLDER.sub(sub, query[at : literal.start()]), literal.group(0)]
        at = literal.end()
    return "".join([*out, _PLACEHOLDER.sub(sub, query[at:])])


def _parse(query: str, dialects: list[str | None]) -> tuple[exp.Expression, str | None]:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    last = ""
    for dialect in dialects or [None]:
        try:
            trees = sqlglot.parse(query, read=dialect)
        except SqlglotError as exc:
            last = f"{str(exc).splitlines()[0]}" + (f" (read as {dialect})" if dialect else "")
            continue
        found = [t for t in trees if t is not None]
        if len(found) != 1:
            raise UntranslatableSql(f"the query holds {len(found)} statements; a SQL rule is one SELECT")
        tree = found[0]
        assert isinstance(tree, exp.Expression)
        return tree, dialect
    raise UntranslatableSql(f"cannot parse the query: {last}")


def _shape(tree: exp.Expression, tables: Collection[str]) -> exp.Select:
    from sqlglot import exp

    if not isinstance(tree, exp.Select):
        raise UntranslatableSql(f"the query is a {tree.key.upper()}, not a SELECT")
    for part, what in (
        ("with", "a WITH clause"),
        ("joins", "a JOIN"),
        ("group", "GROUP BY"),
        ("having", "HAVING"),
        ("qualify", "QUALIFY"),
        ("distinct", "SELECT DISTINCT"),
        ("laterals", "LATERAL"),
    ):
        if tree.args.get(part):
            raise UntranslatableSql(
                f"the query uses {what}; lakegate translates one aggregate over one table"
            )
    if tree.args.get("offset") or (
        isinstance(tree.args.get("limit"), exp.Limit) and tree.args["limit"].args.get("offset")
    ):
        raise UntranslatableSql("the query uses OFFSET: it skips the one row an aggregate returns")
    limit = tree.args.get("limit")
    if limit is not None:
        n = limit.expression if isinstance(limit, exp.Limit) else None
        if not (isinstance(n, exp.Literal) and not n.is_string and re.fullmatch(r"[1-9][0-9]{0,17}", n.this)):
            raise UntranslatableSql("the query uses LIMIT (or TOP) other than on its one row")
    if tree.find(exp.Window):
        raise UntranslatableSql("the query uses a window function (OVER ...)")
    if any(s is not tree for s in tree.find_all(exp.Select)) or tree.find(exp.Subquery):
        raise UntranslatableSql("the query holds a subquery")
    source = tree.args.get("from") or tree.args.get("from_")
    table = source.this if source is not None else None
    if not isinstance(table, exp.Table) or not isinstance(table.this, exp.Identifier):
        raise UntranslatableSql("the query does not read a table (FROM <the dataset>)")
    if table.args.get("version") or table.args.get("when"):
        raise UntranslatableSql("the query reads an older version of the table (time travel)")
    if table.args.get("sample"):
        raise UntranslatableSql("the query samples the table (TABLESAMPLE)")
    names = {t.lower() for t in tables} | {TABLE.lower()}
    if table.name.lower() not in names:
        raise UntranslatableSql(
            f"the query reads table {table.name!r}, not this dataset ({', '.join(tables)})"
        )
    if len(tree.expressions) != 1:
        raise UntranslatableSql(f"the query selects {len(tree.expressions)} values; a SQL rule returns one")
    alias = table.alias_or_name.lower()
    for col in tree.find_all(exp.Column):
        qualifier = col.table.lower()
        if qualifier and qualifier not in names | {alias}:
            raise UntranslatableSql(f"the query names a column of another table ({col.sql()})")
        if qualifier:
            col.set("table", None)
            col.set("db", None)
            col.set("catalog", None)
    return tree


def _predicate(node: exp.Expression, columns: Collection[str], what: str) -> str:
    sql = node.sql()
    try:
        check_predicate(sql, columns)
    except ValueError as exc:
        raise UntranslatableSql(f"{what}: {exc}") from None
    return sql


def _normalise(tree: exp.Expression) -> exp.Expression:
    """Dialect functions sqlglot leaves anonymous, as the expressions they are."""
    from sqlglot import exp

    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous):
            name = node.name.upper()
            args = node.expressions
            if name in ("LIST_CONTAINS", "ARRAY_HAS", "LIST_HAS", "ARRAY_CONTAINS") and len(args) == 2:
                return exp.ArrayContains(this=args[0], expression=args[1])
            if name in ("COUNT_IF", "COUNTIF") and len(args) == 1:
                return exp.CountIf(this=args[0])
        return node

    return tree.transform(fix)


def _count_where(value: exp.Expression) -> tuple[bool, exp.Expression | None]:
    """Whether ``value`` counts rows, and the condition it counts them under."""
    from sqlglot import exp

    if isinstance(value, exp.Count) and (
        isinstance(value.this, exp.Star) or (isinstance(value.this, exp.Literal) and not value.this.is_string)
    ):
        return True, None
    if isinstance(value, exp.CountIf):
        return True, value.this
    if isinstance(value, exp.Filter) and isinstance(value.expression, exp.Where):
        inner, cond = _count_where(value.this)
        if inner and cond is None:
            return True, value.expression.this
    return False, None


_METRICS = {
    "Avg": "mean",
    "Min": "min",
    "Max": "max",
    "Sum": "sum",
    "Stddev": "stddev",
    "StddevSamp": "stddev",
    "ApproxDistinct": "distinct_count",
    "Median": "quantile",
    "Quantile": "quantile",
    "ApproxQuantile": "quantile",
    "PercentileCont": "quantile",
}


def _metric(value: exp.Expression) -> tuple[str, exp.Expression, float | None]:
    from sqlglot import exp

    name = type(value).__name__
    if isinstance(value, exp.Anonymous) and value.name.upper() in _ANONYMOUS_METRICS:
        metric = _ANONYMOUS_METRICS[value.name.upper()]
        args = value.expressions
        if metric == "distinct_count" and len(args) == 1:
            return metric, args[0], None
        if metric == "quantile" and len(args) == 2:
            q = args[1]
            if isinstance(q, exp.Literal) and not q.is_string:
                return metric, args[0], float(q.this)
        raise UntranslatableSql(
            f"{value.sql()}: lakegate reads {value.name}(column{', p' if metric == 'quantile' else ''})"
        )
    if isinstance(value, exp.Count) and isinstance(value.this, exp.Distinct):
        args = value.this.expressions
        if len(args) != 1:
            raise UntranslatableSql("COUNT(DISTINCT ...) of several columns has no lakegate metric")
        return "distinct_count", args[0], None
    if name not in _METRICS:
        raise UntranslatableSql(
            f"the query returns {value.sql()}, which lakegate does not translate "
            "(it takes COUNT(*), AVG, MIN, MAX, SUM, STDDEV, quantiles and COUNT(DISTINCT col))"
        )
    metric = _METRICS[name]
    p: float | None = None
    if name == "Median":
        p = 0.5
    elif metric == "quantile":
        q = value.args.get("quantile") or value.args.get("expression")
        if not isinstance(q, exp.Literal) or q.is_string:
            raise UntranslatableSql(f"{value.sql()}: the quantile must be a number")
        p = float(q.this)
    return metric, value.this, p


def translate(
    query: str,
    threshold: Threshold | None,
    *,
    value_threshold: Threshold | None = None,
    columns: Collection[str],
    tables: Collection[str],
    column: str | None = None,
    dialects: list[str | None] | None = None,
) -> Translation:
    """The lakegate check a SQL rule stands for; :class:`UntranslatableSql` says why there is none.
    ``threshold`` compares counts (a strict bound moves by 1), ``value_threshold`` (default: the same)
    compares measured values such as a mean (a strict bound moves by the least float step)."""
    from sqlglot import exp

    if not isinstance(query, str) or not query.strip():
        raise UntranslatableSql("the rule has no query")
    if threshold is None:
        raise UntranslatableSql("the rule gives no comparison (mustBe, mustBeLessThan, ...)")
    parsed, dialect = _parse(_fill(query, column), dialects or [None])
    tree = _shape(_normalise(parsed), tables)
    value = tree.expressions[0]
    value = value.this if isinstance(value, exp.Alias) else value
    where_node = tree.args.get("where")
    where = where_node.this if where_node is not None else None
    counts, condition = _count_where(value)
    if counts:
        of_rows = None  # a percent of the rows a WHERE selects, when the count has its own condition
        if condition is not None and where is not None:
            of_rows = where
            condition = exp.and_(where, condition).assert_is(exp.Expression)
        elif condition is None:
            condition = where
        if threshold.percent:
            if condition is None:
                raise UntranslatableSql(f"{threshold.text} percent: a share of all rows is always 100")
            if of_rows is not None:
                inner = _count_where(value)[1]
                assert inner is not None
                scope = _predicate(of_rows, columns, "its WHERE")
                return RowRule(_bad_row(inner, columns), threshold.share(), scope)
            return RowRule(_bad_row(condition, columns), threshold.share())
        if condition is not None and threshold.zero:
            return RowRule(_bad_row(condition, columns))
        fresh = _freshness(condition, dialect)
        # "at least one fresh row" is exactly freshness; "at least 1,000 fresh rows" is not
        if fresh is not None and threshold.low == 1 and threshold.high is None:
            if fresh.column not in columns:
                raise UntranslatableSql(f"its condition names an unknown column {fresh.column!r}")
            return fresh
        sql = None if condition is None else _predicate(condition, columns, "its condition")
        return CountRule(sql, *threshold.rows())
    if threshold.percent:
        raise UntranslatableSql(f"{threshold.text} percent: a percent applies to counts of rows")
    metric, arg, p = _metric(value)
    if metric != "distinct_count" and value_threshold is not None:
        threshold = value_threshold
    if not isinstance(arg, exp.Column):
        raise UntranslatableSql(f"{value.sql()}: lakegate's metrics are of one column, not of {arg.sql()}")
    if arg.name not in columns:
        raise UntranslatableSql(f"{value.sql()} names an unknown column {arg.name!r}")
    sql = None if where is None else _predicate(where, columns, "its WHERE")
    return MetricRule(arg.name, metric, threshold.low, threshold.high, p, sql)


def _bad_row(condition: exp.Expression, columns: Collection[str]) -> str:
    """The row rule that no row matches ``condition``: ``NOT (condition)``, or ``P`` itself when the
    condition is ``NOT (P)`` (as lakegate's own export writes it). A row where the condition is
    NULL is not counted by the query, and a NULL rule passes in lakegate: the two agree."""
    from sqlglot import exp

    inner = condition.unnest() if isinstance(condition, exp.Paren) else condition
    if isinstance(inner, exp.Not):
        good = inner.this.unnest() if isinstance(inner.this, exp.Paren) else inner.this
        assert isinstance(good, exp.Expression)
        return _predicate(good, columns, "the row condition")
    return _predicate(exp.not_(exp.paren(inner)), columns, "the row condition")


def _is_now(node: exp.Expression) -> bool:
    from sqlglot import exp

    if isinstance(node, exp.CurrentTimestamp):
        return True
    return isinstance(node, exp.Anonymous) and node.name.upper() in _NOW


def _amount(node: exp.Expression | None, unit: exp.Expression | None) -> float | None:
    """Seconds in ``n`` of ``unit`` (``INTERVAL '1 day'``, ``1, DAY``), signed."""
    from sqlglot import exp

    sign = 1
    if isinstance(node, exp.Neg):
        node, sign = node.this, -1
    if not isinstance(node, exp.Literal):
        return None
    text = str(node.this).strip()
    word = unit.name.upper() if unit is not None else ""
    if not word and " " in text:
        text, word = text.split(None, 1)
    word = word.upper().rstrip("S")
    try:
        n = sign * float(text)
    except ValueError:
        return None
    if word not in _SECONDS or not math.isfinite(n) or n == 0 or abs(n) > 1e6:
        return None
    return n * _SECONDS[word]


def _freshness(condition: exp.Expression | None, dialect: str | None) -> FreshRule | None:
    """``col > now() - <age>`` (or ``>=``) in the forms the dialects write, as a freshness check."""
    from sqlglot import exp

    if not isinstance(condition, exp.GT | exp.GTE) or not isinstance(condition.this, exp.Column):
        return None
    bound = condition.expression
    seconds: float | None = None
    if isinstance(bound, exp.Sub) and _is_now(bound.this):
        step = bound.expression
        if isinstance(step, exp.Interval):
            seconds = _amount(step.this, step.args.get("unit"))
        elif dialect == "oracle" and isinstance(step, exp.Literal) and not step.is_string:
            seconds = _amount(step, exp.var("DAY"))  # Oracle: a date minus a number of days
    elif isinstance(bound, exp.DateSub) and _is_now(bound.this):
        seconds = _amount(bound.expression, bound.args.get("unit"))
    elif isinstance(bound, exp.DateAdd) and _is_now(bound.this):
        moved = _amount(bound.expression, bound.args.get("unit"))
        seconds = -moved if moved is not None else None  # now() plus a negative amount
    if seconds is None or seconds <= 0:  # a bound in the future is no freshness
        return None
    for unit, size in ((" days", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return FreshRule(condition.this.name, f"{int(seconds // size)}{unit}")
    return FreshRule(condition.this.name, f"{seconds:g}s")
