"""A lakegate contract as an ODCS v3.1.0 document, valid against the standard's JSON schema.

What ODCS expresses natively is written natively (types, ``required``, ``unique``, keys,
``logicalTypeOptions``, row predicates as SQL rules, ``invalidValues``, ``duplicateValues``,
``rowCount``); the rest travels as ``custom`` rules and ``customProperties`` of the engine
``lakegate``, so that importing the export gives back the same contract, exactly."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from ..model import CheckSpec, ColumnSpec, Contract
from .rules import ENGINE, PREDICATE, implementation
from .sqlrules import row_query

API_VERSION = "v3.1.0"


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
    if pa.types.is_time(t):
        return "time"
    if pa.types.is_struct(t) or pa.types.is_map(t):
        return "object"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return "array"
    return "string"


def sql_rule(name: str, predicate: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "sql",
        "query": row_query(predicate),
        "mustBe": 0,
        "customProperties": [{"property": PREDICATE, "value": predicate}],
    }


def _custom(name: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "type": "custom", "engine": ENGINE, "implementation": implementation(body)}


def _property(contract: Contract, name: str, spec: ColumnSpec) -> dict[str, Any]:
    t = spec.arrow_type
    logical = _logical(t)
    p: dict[str, Any] = {
        "name": name,
        "logicalType": logical,
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
    dumped = spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    opts = {
        dst: dumped[src]
        for src, dst in (
            ("min", "minimum"),
            ("max", "maximum"),
            ("pattern", "pattern"),
            ("min_length", "minLength"),
            ("max_length", "maxLength"),
        )
        if src in dumped
    }
    if opts:
        p["logicalTypeOptions"] = opts
    rules: list[dict[str, Any]] = []
    if spec.in_ is not None:
        rules.append(
            {
                "name": f"{name}.in",
                "metric": "invalidValues",
                "arguments": {"validValues": list(spec.in_)},  # dates stay dates, NaN stays NaN
                "mustBe": 0,
            }
        )
    extras: dict[str, Any] = {k: dumped[k] for k in ("metrics", "references", "where") if k in dumped}
    if spec.not_in is not None:
        extras = {"not_in": list(spec.not_in), **extras}
    if extras:
        rules.append(_custom(f"{name}.{ENGINE}", extras))
    rules += [sql_rule(f"{name}.check{i + 1}", sql) for i, sql in enumerate(spec.checks)]
    if rules:
        p["quality"] = rules
    return p


def _check(check: CheckSpec) -> dict[str, Any]:
    plain = check.severity == "error" and check.mostly == 1.0 and check.where is None
    if plain and check.sql is not None:
        return sql_rule(check.name, check.sql)
    if plain and check.unique:
        return {
            "name": check.name,
            "metric": "duplicateValues",
            "arguments": {"properties": check.unique},
            "mustBe": 0,
        }
    rc = check.row_count
    if plain and rc is not None and (rc.min is not None or rc.max is not None):
        rule: dict[str, Any] = {"name": check.name, "metric": "rowCount"}
        if rc.min is not None and rc.max is not None:
            if rc.min == rc.max:
                rule["mustBe"] = rc.min
            else:
                rule["mustBeBetween"] = [rc.min, rc.max]
        elif rc.min is not None:
            rule["mustBeGreaterOrEqualTo"] = rc.min
        else:
            rule["mustBeLessOrEqualTo"] = rc.max
        return rule
    return _custom(check.name, check.model_dump(mode="json", exclude_defaults=True))


def to_odcs(contract: Contract, *, version: str = "1.0.0") -> dict[str, Any]:
    obj: dict[str, Any] = {
        "name": contract.dataset,
        "physicalName": contract.dataset,
        "logicalType": "object",
        "properties": [_property(contract, n, s) for n, s in contract.columns.items()],
    }
    if contract.checks:
        obj["quality"] = [_check(c) for c in contract.checks]
    custom: list[dict[str, Any]] = [
        {"property": f"{ENGINE}.schema_evolution", "value": contract.schema_evolution},
        {"property": f"{ENGINE}.extra_columns", "value": contract.extra_columns},
    ]
    for key in ("drift", "volume"):
        part = getattr(contract, key)
        if part is not None:
            custom.append(
                {"property": f"{ENGINE}.{key}", "value": part.model_dump(mode="json", exclude_defaults=True)}
            )
    doc: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "DataContract",
        "id": f"{contract.dataset}-contract",
        "name": contract.dataset,
        "version": version,
        "status": "active",
    }
    if contract.description is not None:
        doc["description"] = {"purpose": contract.description}
    if contract.owner is not None:
        doc["team"] = {"members": [{"username": contract.owner, "role": "owner"}]}
    doc["schema"] = [obj]
    doc["customProperties"] = custom
    return doc
