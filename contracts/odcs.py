"""Import and export of Open Data Contract Standard v3 documents (as datacontract-cli uses).

What ODCS expresses natively is mapped natively: types, ``required``, ``unique``, primary keys,
``logicalTypeOptions`` (minimum, maximum, pattern, lengths), and the library metrics
``invalidValues``, ``duplicateValues`` and ``rowCount``; SQL row predicates become ``type: sql``
quality rules counting the rows that break them. The rest (not_in, mostly, severity,
freshness, drift, schema_evolution) travels as ``custom`` rules and ``customProperties`` under the
engine name ``lakegate``, so a round trip through ODCS loses nothing.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import sqlglot
import yaml
from sqlglot import exp

from .model import CheckSpec, Contract, ContractError, Problem, read_yaml
from .types import parse_type

ENGINE = "lakegate"


def _logical(t: pa.DataType) -> str:
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamp"
    return "string"


def _sql_rule(name: str, predicate: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "sql",
        "query": f"SELECT COUNT(*) FROM ${{object}} WHERE NOT ({predicate})",
        "mustBe": 0,
    }


def _custom(check: CheckSpec) -> dict[str, Any]:
    body = check.model_dump(mode="json", exclude_defaults=True)
    return {
        "name": check.name,
        "type": "custom",
        "engine": ENGINE,
        "implementation": yaml.safe_dump(body, sort_keys=False),
    }


def to_odcs(contract: Contract, *, version: str = "1.0.0") -> dict[str, Any]:
    props: list[dict[str, Any]] = []
    for name, spec in contract.columns.items():
        t = spec.arrow_type
        p: dict[str, Any] = {
            "name": name,
            "logicalType": _logical(t),
            "physicalType": spec.type,
            "required": not spec.nullable,
        }
        if spec.unique:
            p["unique"] = True
        if name in contract.primary_key:
            p["primaryKey"] = True
            p["primaryKeyPosition"] = contract.primary_key.index(name) + 1
        if spec.description:
            p["description"] = spec.description
        opts = {
            k: v
            for k, v in (
                ("minimum", spec.min),
                ("maximum", spec.max),
                ("pattern", spec.pattern),
                ("minLength", spec.min_length),
                ("maxLength", spec.max_length),
            )
            if v is not None
        }
        if opts:
            p["logicalTypeOptions"] = opts
        quality: list[dict[str, Any]] = []
        if spec.in_ is not None:
            quality.append(
                {
                    "name": f"{name}.in",
                    "metric": "invalidValues",
                    "arguments": {"validValues": spec.in_},
                    "mustBe": 0,
                }
            )
        if spec.not_in is not None:
            quality.append(
                {
                    "name": f"{name}.not_in",
                    "type": "custom",
                    "engine": ENGINE,
                    "implementation": yaml.safe_dump({"not_in": spec.not_in}),
                }
            )
        for i, sql in enumerate(spec.checks):
            quality.append(_sql_rule(f"{name}.check{i + 1}", sql))
        if quality:
            p["quality"] = quality
        props.append(p)
    quality = []
    for check in contract.checks:
        plain = check.severity == "error" and check.mostly == 1.0
        if check.sql is not None and plain:
            quality.append(_sql_rule(check.name, check.sql))
        elif check.unique is not None and plain:
            quality.append(
                {
                    "name": check.name,
                    "metric": "duplicateValues",
                    "arguments": {"properties": check.unique},
                    "mustBe": 0,
                }
            )
        elif check.row_count is not None and plain:
            rule: dict[str, Any] = {"name": check.name, "metric": "rowCount"}
            if check.row_count.min is not None:
                rule["mustBeGreaterOrEqualTo"] = check.row_count.min
            if check.row_count.max is not None:
                rule["mustBeLessOrEqualTo"] = check.row_count.max
            quality.append(rule)
        else:
            quality.append(_custom(check))
    obj: dict[str, Any] = {
        "name": contract.dataset,
        "physicalName": contract.dataset,
        "logicalType": "object",
        "properties": props,
    }
    if quality:
        obj["quality"] = quality
    custom: list[dict[str, Any]] = [
        {"property": f"{ENGINE}.schema_evolution", "value": contract.schema_evolution},
        {"property": f"{ENGINE}.extra_columns", "value": contract.extra_columns},
    ]
    if contract.drift is not None:
        custom.append(
            {
                "property": f"{ENGINE}.drift",
                "value": contract.drift.model_dump(mode="json", exclude_defaults=True),
            }
        )
    doc: dict[str, Any] = {
        "apiVersion": "v3.0.2",
        "kind": "DataContract",
        "id": f"{contract.dataset}-contract",
        "name": contract.dataset,
        "version": version,
        "status": "active",
    }
    if contract.description:
        doc["description"] = {"purpose": contract.description}
    if contract.owner:
        doc["team"] = [{"username": contract.owner, "role": "owner"}]
    doc["schema"] = [obj]
    doc["customProperties"] = custom
    return doc


def to_odcs_yaml(contract: Contract) -> str:
    return yaml.safe_dump(to_odcs(contract), sort_keys=False, allow_unicode=True)


def _predicate(query: str) -> str | None:
    """The row predicate P of ``SELECT COUNT(*) FROM x WHERE NOT (P)``, else None."""
    try:
        tree = sqlglot.parse_one(query.replace("${object}", "t"))
    except sqlglot.errors.ParseError:
        return None
    where = tree.find(exp.Where)
    if where is None or not isinstance(where.this, exp.Not):
        return None
    inner = where.this.this
    return (inner.unnest() if isinstance(inner, exp.Paren) else inner).sql()


def from_odcs(doc: dict[str, Any] | str, *, dataset: str | None = None, label: str = "<odcs>") -> Contract:
    raw = read_yaml(doc, label)[1] if isinstance(doc, str) else doc
    if (
        not isinstance(raw, dict)
        or raw.get("kind") != "DataContract"
        or not str(raw.get("apiVersion", "")).startswith("v3")
    ):
        raise ContractError(
            [
                Problem(
                    label,
                    None,
                    "apiVersion",
                    "not an ODCS v3 DataContract (kind: DataContract, apiVersion: v3.x)",
                )
            ]
        )
    objects = raw.get("schema") or []
    if dataset is not None:
        objects = [o for o in objects if o.get("name") == dataset] or objects
    if not objects:
        raise ContractError([Problem(label, None, "schema", "the document defines no schema object")])
    obj = objects[0]
    columns: dict[str, Any] = {}
    pk: list[tuple[int, str]] = []
    skipped: list[str] = []
    for p in obj.get("properties", []):
        name = p["name"]
        physical = p.get("physicalType")
        try:
            type_ = physical if physical and parse_type(physical) else None
        except ValueError:
            type_ = None
        spec: dict[str, Any] = {
            "type": type_
            or {
                "integer": "int64",
                "number": "float64",
                "boolean": "bool",
                "date": "date32",
                "timestamp": "timestamp[us, UTC]",
            }.get(p.get("logicalType", ""), "string"),
            "nullable": not p.get("required", False),
        }
        if p.get("unique"):
            spec["unique"] = True
        if p.get("primaryKey"):
            pk.append((int(p.get("primaryKeyPosition", len(pk) + 1)), name))
        if p.get("description"):
            spec["description"] = p["description"]
        opts = p.get("logicalTypeOptions") or {}
        for src, dst in (
            ("minimum", "min"),
            ("maximum", "max"),
            ("pattern", "pattern"),
            ("minLength", "min_length"),
            ("maxLength", "max_length"),
        ):
            if src in opts:
                spec[dst] = opts[src]
        for rule in p.get("quality", []) or []:
            if rule.get("metric") == "invalidValues" and "validValues" in (rule.get("arguments") or {}):
                spec["in"] = rule["arguments"]["validValues"]
            elif rule.get("type") == "custom" and rule.get("engine") == ENGINE:
                spec.update(yaml.safe_load(rule["implementation"]))
            elif rule.get("type") == "sql" and (pred := _predicate(rule.get("query", ""))) is not None:
                spec.setdefault("checks", []).append(pred)
            else:
                skipped.append(f"{name}: {rule.get('name') or rule.get('type') or rule.get('metric')}")
        columns[name] = spec
    checks: list[dict[str, Any]] = []
    for i, rule in enumerate(obj.get("quality", []) or []):
        name = rule.get("name") or f"check_{i + 1}"
        if rule.get("type") == "custom" and rule.get("engine") == ENGINE:
            checks.append(yaml.safe_load(rule["implementation"]))
        elif rule.get("type") == "sql" and (pred := _predicate(rule.get("query", ""))) is not None:
            checks.append({"name": name, "sql": pred})
        elif rule.get("metric") == "duplicateValues":
            checks.append({"name": name, "unique": list((rule.get("arguments") or {}).get("properties", []))})
        elif rule.get("metric") == "rowCount":
            bounds = {
                k: rule[src]
                for src, k in (
                    ("mustBeGreaterOrEqualTo", "min"),
                    ("mustBeLessOrEqualTo", "max"),
                    ("mustBeGreaterThan", "min"),
                )
                if src in rule
            }
            if "mustBeGreaterThan" in rule:
                bounds["min"] = rule["mustBeGreaterThan"] + 1
            checks.append({"name": name, "row_count": bounds})
        else:
            skipped.append(f"(dataset): {name}")
    out: dict[str, Any] = {"dataset": dataset or obj.get("name") or raw.get("name"), "columns": columns}
    if pk:
        out["primary_key"] = [n for _, n in sorted(pk)]
    if checks:
        out["checks"] = checks
    desc = raw.get("description")
    if isinstance(desc, dict) and desc.get("purpose"):
        out["description"] = desc["purpose"]
    owners = [
        m.get("username") or m.get("name") for m in raw.get("team", []) or [] if m.get("role") == "owner"
    ]
    if owners and owners[0]:
        out["owner"] = owners[0]
    for prop in raw.get("customProperties", []) or []:
        key = str(prop.get("property", ""))
        if key.startswith(f"{ENGINE}."):
            out[key.removeprefix(f"{ENGINE}.")] = prop.get("value")
    text = yaml.safe_dump(out, sort_keys=False)
    contract = Contract.from_text(text, label)
    if skipped:
        # Rules with no contract equivalent are refused loudly rather than silently dropped.
        raise ContractError(
            [Problem(label, None, "quality", f"rule with no lakegate equivalent: {s}") for s in skipped]
        )
    return contract
