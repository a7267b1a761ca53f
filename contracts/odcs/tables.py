"""ODCS schema objects and their properties as lakegate columns: types (nested objects and arrays
as Arrow structs and lists, decimals, times), ``required``, keys, ``logicalTypeOptions`` and
relationships; then the properties' and the object's quality rules."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import Any

import pyarrow as pa

from ..model import instant
from ..types import parse_type, type_name
from .builder import TableDraft
from .findings import Findings, Path, key_of
from .rules import quality
from .sqlrules import identifier

LOGICAL: dict[str, pa.DataType] = {
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", "UTC"),
    "time": pa.time64("us"),
    "string": pa.string(),
}

FALLBACK_DIALECTS = ("postgres", "bigquery", "snowflake", "duckdb", "tsql", "oracle", "mysql")

_LABEL = r"[A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# logicalTypeOptions.format of strings that are checkable, as regular expressions (Rust syntax)
FORMATS = {
    "email": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    "uuid": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    "uri": r"^[A-Za-z][A-Za-z0-9+.\-]*:\S*$",
    "url": r"^[A-Za-z][A-Za-z0-9+.\-]*://\S+$",
    "hostname": "^" + _LABEL + r"(\." + _LABEL + r")*$",
    "ipv4": r"^(" + _OCTET + r"\.){3}" + _OCTET + "$",
    "ipv6": r"^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$",
    "date": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    "date-time": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"(Z|[+\-][0-9]{2}:?[0-9]{2})?$",
    "time": r"^[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?$",
    "byte": r"^[A-Za-z0-9+/]*={0,2}$",
}
# formats that say how a value is encoded or typed, not a rule on its text
DESCRIPTIVE_FORMATS = frozenset(
    {"binary", "password", "int32", "int64", "float", "double", "i32", "i64", "f32", "f64"}
)

# keys of a property that describe it for people and catalogues; no lakegate check follows from them
DOC_KEYS = frozenset(
    {
        "id",
        "businessName",
        "physicalName",
        "tags",
        "customProperties",
        "authoritativeDefinitions",
        "classification",
        "encryptedName",
        "transformSourceObjects",
        "transformLogic",
        "transformDescription",
        "examples",
        "criticalDataElement",
        "partitioned",
        "partitionKeyPosition",
    }
)
TABLE_DOC_KEYS = frozenset(
    {"id", "physicalType", "businessName", "dataGranularityDescription", "tags", "customProperties"}
    | {"authoritativeDefinitions"}
)


def _arrow(prop: dict[str, Any], path: Path, draft: TableDraft, nested: list[str]) -> pa.DataType:
    """The Arrow type of a property; the rules on nested fields that are not enforced go to
    ``nested`` (a struct's fields are nullable in Arrow and Delta alike)."""
    logical = str(prop.get("logicalType") or "").lower()
    physical = prop.get("physicalType")
    subs = prop.get("properties")
    items = prop.get("items")
    if isinstance(subs, list) and subs and isinstance(items, dict):
        draft.findings.refuse(path, "the property has both properties (an object) and items (an array)")
    if isinstance(subs, list) and subs:
        fields = []
        for j, sub in enumerate(subs):
            if not isinstance(sub, dict) or not sub.get("name"):
                draft.findings.refuse((*path, "properties", j), "a property needs a name")
                continue
            here = (*path, "properties", j)
            _nested_rules(sub, here, nested)
            fields.append(pa.field(str(sub["name"]), _arrow(sub, here, draft, nested)))
        return pa.struct(fields)
    if isinstance(items, dict):
        _nested_rules(items, (*path, "items"), nested)
        return pa.list_(_arrow(items, (*path, "items"), draft, nested))
    if isinstance(physical, str) and physical.strip():
        # the servers' dialects first, then Delta's, then the common warehouses' spellings
        for dialect in dict.fromkeys([*draft.dialects, None, *FALLBACK_DIALECTS]):
            try:
                return parse_type(physical, dialect)
            except ValueError:
                continue
    fallback = {"object": pa.string(), "array": pa.list_(pa.string())}.get(logical) or LOGICAL.get(logical)
    if fallback is None:
        fallback = pa.string()
        if logical:
            draft.findings.warn(
                (*path, "logicalType"), f"logicalType {logical!r} is not one of ODCS's: typed string"
            )
    if isinstance(physical, str) and physical.strip():
        draft.findings.warn(
            (*path, "physicalType"),
            f"physicalType {physical!r} is not a type lakegate can read"
            f"{' in ' + ', '.join(d for d in draft.dialects if d) if any(draft.dialects) else ''}: "
            f"typed {type_name(fallback)} from logicalType {logical or 'none'}",
        )
    elif logical in ("object", "array"):
        draft.findings.warn(
            path,
            f"a {logical} with no {'properties' if logical == 'object' else 'items'} and no physicalType: "
            f"typed {type_name(fallback)}",
        )
    return fallback


def _reads_as(spelling: str, t: pa.DataType) -> bool:
    try:
        return bool(parse_type(spelling).equals(t))
    except ValueError:
        return False


def _nested_rules(sub: dict[str, Any], path: Path, out: list[str]) -> None:
    for key in ("required", "unique", "primaryKey"):
        if sub.get(key):
            out.append(key_of((*path, key)))
    for key in sub.get("logicalTypeOptions") or {}:
        out.append(key_of((*path, "logicalTypeOptions", key)))
    for key in ("quality", "relationships"):
        out += [key_of((*path, key, i)) for i, _ in enumerate(sub.get(key) or [])]


def _bound(value: Any, t: pa.DataType, *, above: bool) -> Any:
    """An exclusive bound as the inclusive one next to it: the next integer, the next value the
    decimal's scale holds, the next day, microsecond or float."""
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, dt.datetime):
        return value + dt.timedelta(microseconds=1 if above else -1)
    if isinstance(value, dt.date):
        return value + dt.timedelta(days=1 if above else -1)
    if isinstance(value, str):
        text = value.strip()
        if pa.types.is_date(t):
            day = dt.date.fromisoformat(text[:10])
            return (day + dt.timedelta(days=1 if above else -1)).isoformat()
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return (stamp + dt.timedelta(microseconds=1 if above else -1)).isoformat()
    if not isinstance(value, int | float) or (isinstance(value, float) and not math.isfinite(value)):
        raise TypeError(value)
    if pa.types.is_integer(t):
        exact = decimal.Decimal(value) if isinstance(value, int) else decimal.Decimal(str(value))
        nxt = math.floor(exact) + 1 if above else math.ceil(exact) - 1
        return int(nxt)
    if pa.types.is_decimal(t):  # the next value on the column's scale beyond the bound
        step = decimal.Decimal(1).scaleb(-t.scale)
        exact = decimal.Decimal(str(value))
        units = (exact / step).to_integral_value(decimal.ROUND_FLOOR if above else decimal.ROUND_CEILING)
        moved = (units + (1 if above else -1)) * step
        return int(moved) if t.scale == 0 else float(moved)
    return math.nextafter(float(value), math.inf if above else -math.inf)


def _tighter(a: Any, b: Any, *, low: bool) -> Any:
    """The tighter of two bounds (the larger of two minimums); ``b`` when they do not compare."""
    try:
        ia, ib = instant(a), instant(b)
        return (a if ia >= ib else b) if low else (a if ia <= ib else b)
    except (TypeError, ValueError):
        return b


def _options(draft: TableDraft, name: str, t: pa.DataType, opts: Any, path: Path) -> None:
    if not isinstance(opts, dict):
        return
    here = (*path, "logicalTypeOptions")
    timeofday = pa.types.is_time(t)
    for key, dst, strict_key in (
        ("minimum", "min", "exclusiveMinimum"),
        ("maximum", "max", "exclusiveMaximum"),
    ):
        bounds: list[tuple[Any, str]] = []
        for given, exclusive in ((key, False), (strict_key, True)):
            value = opts.get(given)
            if value is None or (isinstance(value, bool) and given == strict_key):
                continue
            if timeofday:
                draft.findings.warn((*here, given), f"{given} on a time of day is not checked by lakegate")
                continue
            # ODCS 3.0: exclusiveMinimum: true makes minimum strict; 3.1: it is a bound itself
            strict = exclusive or (given == key and opts.get(strict_key) is True)
            try:
                bounds.append((_bound(value, t, above=dst == "min") if strict else value, given))
            except (TypeError, ValueError, ArithmeticError, OverflowError):
                draft.findings.refuse(
                    (*here, given), f"{given} {value!r} is not a number, ISO date or datetime"
                )
        if bounds:
            chosen, given = bounds[0]
            for value, other in bounds[1:]:
                tighter = _tighter(chosen, value, low=dst == "min")
                if tighter is value:
                    chosen, given = value, other
            draft.set(name, dst, chosen, (*here, given))
    stringy = pa.types.is_string(t) or pa.types.is_large_string(t)
    for key, dst in (("pattern", "pattern"), ("minLength", "min_length"), ("maxLength", "max_length")):
        if opts.get(key) is not None:
            if stringy:
                draft.set(name, dst, opts[key], (*here, key))
            else:
                draft.findings.warn(
                    (*here, key), f"{key} applies to strings; {name!r} is {type_name(t)}: not enforced"
                )
    fmt = opts.get("format")
    if isinstance(fmt, str):
        regex = FORMATS.get(fmt.strip().lower())
        if regex is not None and stringy:
            if "pattern" in draft.columns[name]:
                draft.column_check(name, f"REGEXP_LIKE({identifier(name)}, '{regex}')", (*here, "format"))
            else:
                draft.set(name, "pattern", regex, (*here, "format"))
        elif fmt.strip().lower() in DESCRIPTIVE_FORMATS:
            draft.findings.warn(
                (*here, "format"), f"format {fmt!r} of {name!r} describes its encoding; nothing to check"
            )
        elif not stringy:
            draft.findings.warn(
                (*here, "format"),
                f"format {fmt!r} says how a source writes {name!r}; lakegate stores it typed "
                f"({type_name(t)}), so there is nothing to check",
            )
        else:
            draft.findings.warn(
                (*here, "format"),
                f"format {fmt!r} of {name!r} is not one lakegate checks ({', '.join(FORMATS)}): not enforced",
            )
    multiple = opts.get("multipleOf")
    if multiple is not None:
        whole = isinstance(multiple, int) or (isinstance(multiple, float) and multiple.is_integer())
        if pa.types.is_integer(t) and whole and 0 < int(multiple) < 2**63:
            draft.column_check(name, f"{identifier(name)} % {int(multiple)} = 0", (*here, "multipleOf"))
        else:
            draft.findings.warn((*here, "multipleOf"), f"multipleOf {multiple} is checked on integers only")
    for key in (
        "minItems",
        "maxItems",
        "uniqueItems",
        "minProperties",
        "maxProperties",
        "required",
        "timezone",
        "defaultTimezone",
    ):
        if key in opts and opts[key] not in (None, False, []):
            what = "timestamps are stored as UTC instants" if "imezone" in key else "not enforced"
            draft.findings.warn((*here, key), f"{key} {opts[key]!r} on {name!r}: {what}")


def _relationships(draft: TableDraft, name: str, rels: Any, path: Path) -> None:
    for k, rel in enumerate(rels or []):
        here = (*path, "relationships", k)
        to = rel.get("to") if isinstance(rel, dict) else None
        kind = str(rel.get("type", "foreignKey")) if isinstance(rel, dict) else ""
        if kind == "foreignKey" and isinstance(to, str) and to.count(".") == 1:
            dataset, column = to.split(".")
            draft.set(name, "references", {"dataset": dataset, "column": column}, here)
        else:
            draft.findings.warn(here, f"relationship {to!r} of {name!r} is not a foreign key lakegate checks")


def table(findings: Findings, obj: dict[str, Any], index: int, dialects: list[str | None]) -> TableDraft:
    path: Path = ("schema", index)
    dataset = str(obj.get("name") or obj.get("physicalName") or "")
    if not dataset.strip():
        findings.refuse(path, "the table has no name (name or physicalName): a dataset needs one")
    names = tuple(str(n) for n in (obj.get("name"), obj.get("physicalName")) if n)
    draft = TableDraft(findings, path, dataset, names, dialects)
    findings.document("tables'", obj, TABLE_DOC_KEYS)
    props = obj.get("properties") or []
    pk: list[tuple[int, int, str]] = []
    for j, p in enumerate(props):
        here = (*path, "properties", j)
        if not isinstance(p, dict) or not p.get("name"):
            findings.refuse(here, "a property needs a name")
            continue
        name = str(p["name"])
        if name in draft.columns:
            findings.refuse((*here, "name"), f"column {name!r} is defined twice in {dataset!r}")
            continue
        draft.columns[name] = {}
        draft.origin[("columns", name)] = here
        findings.document("properties'", p, DOC_KEYS)
        nested: list[str] = []
        t = _arrow(p, here, draft, nested)
        # the type as the file spells it when lakegate reads that spelling as the same type
        # (an export imports back exactly), else as lakegate names it
        spelled = type_name(t)
        physical = p.get("physicalType")
        if isinstance(physical, str) and _reads_as(physical, t):
            spelled = physical
        draft.set(name, "type", spelled, (*here, "physicalType" if "physicalType" in p else "logicalType"))
        if nested:
            shown = ", ".join(nested[:20]) + (f" and {len(nested) - 20} more" if len(nested) > 20 else "")
            findings.warn(
                here,
                f"{len(nested)} rule(s) on fields nested in {name!r} are not enforced (lakegate checks "
                f"top-level columns; the fields are typed in its {type_name(t).split('<')[0]}): {shown}",
            )
        if p.get("required"):
            draft.set(name, "nullable", False, (*here, "required"))
        if p.get("unique"):
            draft.set(name, "unique", True, (*here, "unique"))
        if p.get("primaryKey"):
            pos = p.get("primaryKeyPosition")
            pk.append((pos if isinstance(pos, int) and pos > 0 else 10**6, j, name))
        if isinstance(p.get("description"), str) and p["description"]:
            draft.set(name, "description", p["description"], (*here, "description"))
        _options(draft, name, t, p.get("logicalTypeOptions"), here)
        _relationships(draft, name, p.get("relationships"), here)
    if pk:
        draft.top["primary_key"] = [n for _, _, n in sorted(pk)]
        for i, (_, j, _) in enumerate(sorted(pk)):
            draft.origin[("primary_key", i)] = (*path, "properties", j, "primaryKey")
    for j, p in enumerate(props):
        if isinstance(p, dict) and p.get("name") and p.get("quality"):
            quality(draft, p["quality"], (*path, "properties", j, "quality"), str(p["name"]))
    quality(draft, obj.get("quality"), (*path, "quality"), None)
    for k, rel in enumerate(obj.get("relationships") or []):
        src, to = (rel.get("from"), rel.get("to")) if isinstance(rel, dict) else (None, None)
        here = (*path, "relationships", k)
        if isinstance(src, str) and src.split(".")[-1] in draft.columns and isinstance(to, str) and "." in to:
            col = src.split(".")[-1]
            dataset_, column = to.rsplit(".", 1)
            draft.set(col, "references", {"dataset": dataset_.split(".")[-1], "column": column}, here)
        else:
            findings.warn(here, f"relationship {src!r} -> {to!r} is not a foreign key lakegate checks")
    return draft
