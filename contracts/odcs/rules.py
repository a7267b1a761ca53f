"""ODCS quality rules (library metrics, SQL, custom and text rules, on a column or a table) as
lakegate checks. A rule is translated with its threshold and severity, or refused with its name and
line, or (a text rule, a description for people) imported with a warning: never dropped silently."""

from __future__ import annotations

import math
from typing import Any

import yaml

from ..model import ContractError, read_yaml
from .builder import TableDraft
from .findings import Path, rule_name
from .sqlrules import (
    CountRule,
    FreshRule,
    MetricRule,
    RowRule,
    UntranslatableSql,
    identifier,
    row_query,
    translate,
)
from .thresholds import Threshold, ThresholdError, threshold

ENGINE = "lakegate"
PREDICATE = f"{ENGINE}.predicate"  # a SQL rule's row predicate as the contract wrote it

_ERROR = frozenset({"error", "critical", "high", "major", "blocker", "fatal", "severe"})
_WARN = frozenset({"warning", "warn", "minor", "info", "low", "medium", "moderate"})
_LIBRARY = {
    "nullvalues": "nullValues",
    "nullcheck": "nullValues",
    "missingvalues": "missingValues",
    "invalidvalues": "invalidValues",
    "validvalues": "invalidValues",
    "duplicatevalues": "duplicateValues",
    "duplicatecount": "duplicateValues",
    "rowcount": "rowCount",
}


RULE_DOC_KEYS = frozenset(
    {"description", "dimension", "businessImpact", "method", "schedule", "scheduler", "tags", "id"}
    | {"authoritativeDefinitions", "customProperties"}
)


def others(props: Any) -> list[Any]:
    """The custom properties of a rule or document that are not lakegate's own."""
    return [
        p
        for p in props or []
        if not (isinstance(p, dict) and str(p.get("property", "")).startswith(f"{ENGINE}."))
    ]


def _severity(draft: TableDraft, rule: dict[str, Any], path: Path) -> str:
    given = rule.get("severity")
    if given is None:
        return "error"
    text = str(given).strip().lower()
    if text in _WARN:
        return "warn"
    if text not in _ERROR:
        draft.findings.warn(
            (*path, "severity"), f"severity {given!r} is not one lakegate knows: kept as error"
        )
    return "error"


def _literals(values: list[Any]) -> str:
    from sqlglot import exp

    return ", ".join(exp.convert(v).sql() for v in values)


def quality(draft: TableDraft, rules: Any, path: Path, column: str | None) -> None:
    """Every rule of a ``quality`` list, on ``column`` (None: on the table)."""
    for i, rule in enumerate(rules or []):
        here = (*path, i)
        if not isinstance(rule, dict):
            draft.findings.refuse(here, "a quality rule is a mapping")
            continue
        theirs = others(rule.get("customProperties"))
        draft.findings.document("rules'", {**rule, "customProperties": theirs}, RULE_DOC_KEYS)
        try:
            _rule(draft, rule, here, column)
        except (UntranslatableSql, ThresholdError) as exc:
            what = f"on column {column!r}" if column else f"on table {draft.dataset!r}"
            draft.findings.refuse(here, f"rule {rule_name(rule, here)!r} {what} cannot be translated: {exc}")


def _rule(draft: TableDraft, rule: dict[str, Any], path: Path, column: str | None) -> None:
    kind = str(rule.get("type") or "library").lower()
    name = rule_name(rule, path)
    if kind == "text":
        draft.findings.warn(
            path,
            f"rule {name!r} is a text rule, a description for people that no engine runs: "
            "not imported as a check",
        )
        return
    if kind == "custom":
        _custom(draft, rule, path, column, name)
        return
    severity = _severity(draft, rule, path)
    what = rule.get("metric") or rule.get("rule") if kind == "library" else kind
    base = str(rule.get("name") or rule.get("id") or f"{column or draft.dataset}.{what}")
    if kind == "sql":
        _sql(draft, rule, path, column, base, severity)
    elif kind == "library":
        _library(draft, rule, path, column, base, severity)
    else:
        raise UntranslatableSql(f"rule type {kind!r} is not one of text, library, sql, custom")


def _custom(draft: TableDraft, rule: dict[str, Any], path: Path, column: str | None, name: str) -> None:
    engine = rule.get("engine")
    if engine != ENGINE:
        raise UntranslatableSql(
            f"it is a custom rule for engine {engine!r}, which lakegate does not run; "
            "write it as a library metric or a SQL rule"
        )
    given = rule.get("implementation")
    if isinstance(given, dict):
        body: Any = given
    else:
        try:
            body = read_yaml(str(given or ""), draft.findings.label)[1]
        except ContractError as exc:
            reason = exc.problems[0].message if exc.problems else str(exc)
            raise UntranslatableSql(f"its implementation is not valid YAML: {reason}") from None
    if not isinstance(body, dict) or not all(isinstance(k, str) for k in body):
        raise UntranslatableSql("its implementation is not a mapping of lakegate contract keys")
    if column is None:
        named = body.get("name")
        rest = {k: v for k, v in body.items() if k != "name"}
        draft.check(named if isinstance(named, str) and named else name, rest, path)
        return
    spec = draft.columns[column]
    for key, value in body.items():
        if key == "checks" and isinstance(value, list) and isinstance(spec.get("checks"), list):
            for predicate in value:  # after the column's other rules, not instead of them
                draft.column_check(column, predicate, (*path, "implementation"))
        elif key == "metrics" and isinstance(value, dict) and isinstance(spec.get("metrics"), dict):
            for metric, bounds in value.items():
                for bound in bounds if isinstance(bounds, list) else [bounds]:
                    draft.metric(column, str(metric), bound, (*path, "implementation"))
        else:
            draft.set(column, key, value, (*path, "implementation"))


def _sql(
    draft: TableDraft, rule: dict[str, Any], path: Path, column: str | None, base: str, severity: str
) -> None:
    t = threshold(rule, integral=True)
    stored = _stored_predicate(rule)
    if (
        stored is not None
        and t is not None
        and t.zero
        and not t.percent
        and " ".join(str(rule.get("query", "")).split()) == row_query(stored)
    ):
        # lakegate's own export, untouched: the predicate as the contract wrote it (its SQL is
        # lakegate's, which no warehouse dialect need parse)
        _emit(draft, RowRule(stored), path, column, base, severity)
        return
    columns = list(draft.columns)
    out = translate(
        rule.get("query", ""),
        t,
        value_threshold=threshold(rule, integral=False),
        columns=columns,
        tables=draft.names,
        column=column,
        dialects=draft.dialects,
    )
    _emit(draft, out, path, column, base, severity)


def _stored_predicate(rule: dict[str, Any]) -> str | None:
    for prop in rule.get("customProperties") or []:
        if isinstance(prop, dict) and prop.get("property") == PREDICATE:
            value = prop.get("value")
            return value if isinstance(value, str) else None
    return None


def _emit(
    draft: TableDraft,
    out: RowRule | CountRule | MetricRule | FreshRule,
    path: Path,
    column: str | None,
    base: str,
    severity: str,
) -> None:
    if isinstance(out, RowRule):
        if column is not None and out.mostly == 1.0 and severity == "error" and out.where is None:
            draft.column_check(column, out.predicate, path)
            return
        body: dict[str, Any] = {"sql": out.predicate}
        if out.mostly != 1.0:
            body["mostly"] = out.mostly
        if out.where is not None:
            body["where"] = out.where
        if severity != "error":
            body["severity"] = severity
        draft.check(base, body, path)
    elif isinstance(out, FreshRule):
        body = {"freshness": {"column": out.column, "max_age": out.max_age}}
        if severity != "error":
            body["severity"] = severity
        draft.check(base, body, path)
    elif isinstance(out, CountRule):
        bounds = {k: v for k, v in (("min", out.low), ("max", out.high)) if v is not None}
        body = {"row_count": bounds}
        if out.where is not None:
            body["where"] = out.where
        if severity != "error":
            body["severity"] = severity
        draft.check(base, body, path)
    else:
        if out.column not in draft.columns:
            raise UntranslatableSql(f"it measures an unknown column {out.column!r}")
        bound: dict[str, Any] = {k: v for k, v in (("min", out.low), ("max", out.high)) if v is not None}
        if out.p is not None:
            bound["p"] = out.p
        if out.where is not None:
            bound["where"] = out.where
        if severity != "error":
            bound["severity"] = severity
        draft.metric(out.column, out.metric, bound, path)


def _library(
    draft: TableDraft, rule: dict[str, Any], path: Path, column: str | None, base: str, severity: str
) -> None:
    given = rule.get("metric") or rule.get("rule")
    metric = _LIBRARY.get(str(given).lower().replace("_", "")) if given else None
    if metric is None:
        raise UntranslatableSql(
            f"library metric {given!r} is not one of nullValues, missingValues, invalidValues, "
            "duplicateValues, rowCount"
        )
    args = rule.get("arguments") or {}
    if not isinstance(args, dict):
        raise UntranslatableSql("its arguments are not a mapping")
    t = threshold(rule, integral=True)
    if t is None:
        raise UntranslatableSql(f"{metric} gives no comparison (mustBe, mustBeLessThan, ...)")
    if metric == "rowCount":
        if t.percent:
            raise UntranslatableSql("rowCount is a number of rows, not a percent")
        _emit(draft, CountRule(None, *t.rows()), path, None, base, severity)
        return
    if metric == "duplicateValues":
        _duplicates(draft, args, t, path, column, base, severity)
        return
    if column is None:
        raise UntranslatableSql(f"{metric} is a rule on a column; put it under the column's quality")
    col = identifier(column)
    if metric == "nullValues":
        good = f"{col} IS NOT NULL"
    elif metric == "missingValues":
        missing = args.get("missingValues", [None])
        if not isinstance(missing, list):
            raise UntranslatableSql("arguments.missingValues is not a list")
        values = [v for v in missing if v is not None]
        good = f"{col} IS NOT NULL" + (f" AND {col} NOT IN ({_literals(values)})" if values else "")
    else:
        valid = args.get("validValues", rule.get("validValues"))
        pattern = args.get("pattern")
        if isinstance(valid, list) and isinstance(pattern, str):
            raise UntranslatableSql(
                "invalidValues gives both validValues and a pattern; write one rule for each"
            )
        if isinstance(valid, list):
            if t.zero and not t.percent and severity == "error" and pattern is None:
                draft.set(column, "in", valid, path)
                return
            # a null among the valid values makes nulls valid; otherwise nulls are missing, not
            # invalid (as ODCS engines count them), and a NULL rule passes in lakegate
            listed = [v for v in valid if v is not None]
            good = f"{col} IN ({_literals(listed)})" if listed else f"{col} IS NULL"
            if None in valid and listed:
                good = f"{col} IS NULL OR {good}"
        elif isinstance(pattern, str):
            good = f"REGEXP_LIKE({col}, {_literals([pattern])})"
        else:
            raise UntranslatableSql("invalidValues needs arguments.validValues (a list) or arguments.pattern")
    _emit(draft, _share(good, t), path, column, base, severity)


def _share(good: str, t: Threshold) -> RowRule | CountRule:
    """The rule that at most ``t`` rows (or percent of rows) break ``good``."""
    if t.zero:
        return RowRule(good)
    if t.percent:
        return RowRule(good, t.share())
    return CountRule(f"NOT ({good})", *t.rows())


def _duplicates(
    draft: TableDraft,
    args: dict[str, Any],
    t: Threshold,
    path: Path,
    column: str | None,
    base: str,
    severity: str,
) -> None:
    props = args.get("properties")
    if column is not None and not props:
        if t.zero and not t.percent:
            if severity == "error":
                draft.set(column, "unique", True, path)
            else:
                draft.check(base, {"unique": [column], "severity": severity}, path)
            return
        high = math.nextafter(t.high, -math.inf) if t.high is not None and t.strict_high else t.high
        bound: dict[str, Any] = {k: v for k, v in (("min", t.low), ("max", high)) if v is not None}
        if severity != "error":
            bound["severity"] = severity
        draft.metric(column, "duplicate_percent" if t.percent else "duplicate_count", bound, path)
        return
    if not isinstance(props, list) or not props:
        raise UntranslatableSql("duplicateValues on a table needs arguments.properties, the key's columns")
    if not (t.zero and not t.percent):
        raise UntranslatableSql(
            f"{t.text}: duplicates of several columns must be 0 in lakegate (a unique key)"
        )
    body: dict[str, Any] = {"unique": [str(p) for p in props]}
    if severity != "error":
        body["severity"] = severity
    draft.check(base, body, path)


def implementation(body: dict[str, Any]) -> str:
    """A lakegate custom rule's implementation: the contract keys as YAML."""
    return yaml.safe_dump(body, sort_keys=False, allow_unicode=True)
