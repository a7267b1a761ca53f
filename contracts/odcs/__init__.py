"""Import and export of Open Data Contract Standard v3 documents (v3.0.0 to v3.1.0, as the standard
and datacontract-cli write them).

An import reads the whole document: it is first checked against the official JSON schema of its
``apiVersion``; then every schema object (table) becomes its own lakegate contract. Each rule is
translated (types, required, keys, ``logicalTypeOptions``, library metrics with their thresholds
and units, SQL rules in the servers' dialect), or refused with its name and line (all refusals at
once), or imported with a warning saying what was not carried. Nothing is dropped silently.

An export writes ODCS v3.1.0 that imports back to the same contract (see :mod:`.export`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import yaml

from ..model import Contract, ContractError, Problem, read_yaml
from .export import API_VERSION, to_odcs
from .findings import Findings
from .rules import ENGINE, others
from .schema import check_schema
from .sqlrules import DIALECTS
from .tables import table

__all__ = [
    "API_VERSION",
    "ENGINE",
    "OdcsImport",
    "OdcsWarning",
    "from_odcs",
    "import_odcs",
    "to_odcs",
    "to_odcs_yaml",
]

# top-level keys that describe the contract for people and catalogues, not its data
_DOC_TOP = (
    "tenant",
    "tags",
    "servers",
    "dataProduct",
    "domain",
    "support",
    "price",
    "roles",
    "slaDefaultElement",
    "slaProperties",
    "authoritativeDefinitions",
    "contractCreatedTs",
)


# the contract keys lakegate's export carries as customProperties
_TOP_KEYS = ("schema_evolution", "extra_columns", "drift", "volume")


class OdcsWarning(UserWarning):
    """Something of an ODCS document that an import did not carry into the contract."""


@dataclass(frozen=True)
class OdcsImport:
    """The contracts an ODCS document holds (one per table), what was not carried, the ODCS version
    it was read as, and the names of all its tables."""

    contracts: tuple[Contract, ...]
    warnings: tuple[Problem, ...]
    version: str
    tables: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "tables": list(self.tables),
            "contracts": [c.to_dict() for c in self.contracts],
            "warnings": [
                {"file": w.source, "line": w.line, "key": w.key, "message": w.message} for w in self.warnings
            ],
        }


def _dialects(doc: dict[str, Any]) -> list[str | None]:
    out: list[str | None] = []
    for server in doc.get("servers") or []:
        kind = str(server.get("type", "")).lower() if isinstance(server, dict) else ""
        if kind == "custom":  # datacontract-cli names the real type in a custom property
            for prop in server.get("customProperties") or []:
                if isinstance(prop, dict) and prop.get("property") == "customType":
                    kind = str(prop.get("value", "")).lower()
        dialect = DIALECTS.get(kind)
        if dialect is not None and dialect not in out:
            out.append(dialect)
    return [*out, None]


def _owner(team: Any) -> str | None:
    members = team.get("members") if isinstance(team, dict) else team
    for m in members or []:
        if isinstance(m, dict) and str(m.get("role", "")).lower() == "owner":
            who = m.get("username") if m.get("username") is not None else m.get("name")
            if who is not None:
                return str(who)
    if isinstance(team, dict) and team.get("name"):
        return str(team["name"])
    return None


def _team_beyond_owner(team: Any) -> bool:
    """Whether the team says more than who owns the contract (members, a name beside an owner)."""
    members = team.get("members") if isinstance(team, dict) else team
    people = [m for m in members or [] if isinstance(m, dict)]
    owners = [m for m in people if str(m.get("role", "")).lower() == "owner"]
    others = len(people) - min(len(owners), 1)
    extra = set(team) - {"members"} - ({"name"} if not owners else set()) if isinstance(team, dict) else set()
    return others > 0 or bool(extra) or any(set(m) - {"username", "name", "role"} for m in owners[:1])


def import_odcs(text: str, *, label: str = "<odcs>", dataset: str | None = None) -> OdcsImport:
    """Every table of an ODCS v3 document as a lakegate contract (only ``dataset`` when given).
    Raises :class:`ContractError` with every refusal, each at its line in the document."""
    root, data, duplicates = read_yaml(text, label)
    findings = Findings(label, root)
    for line, path in duplicates:
        findings.refusals.append(Problem(label, line, ".".join(map(str, path)), "key given twice"))
    if not isinstance(data, dict):
        findings.refuse((), "an ODCS document is a YAML mapping (apiVersion, kind, schema, ...)")
        findings.raise_refusals()
    version = check_schema(data, findings)
    findings.raise_refusals()
    assert version is not None
    objects = [o for o in data.get("schema") or [] if isinstance(o, dict)]
    names = tuple(str(o.get("name") or o.get("physicalName") or "") for o in objects)
    if not objects:
        findings.refuse(
            ("schema",), "the document defines no table (schema: is empty): there is no dataset to import"
        )
        findings.raise_refusals()
    chosen = list(range(len(objects)))
    if dataset is not None:
        chosen = [i for i, o in enumerate(objects) if dataset in (o.get("name"), o.get("physicalName"))]
        if not chosen:
            findings.refuse(
                ("schema",),
                f"no table named {dataset!r}; the document's tables: {', '.join(names)}",
            )
            findings.raise_refusals()
    top: dict[str, Any] = {}
    desc = data.get("description")
    purpose = desc.get("purpose") if isinstance(desc, dict) else desc
    owner = _owner(data.get("team"))
    if owner:
        top["owner"] = owner
    for prop in data.get("customProperties") or []:
        key = str(prop.get("property", "")) if isinstance(prop, dict) else ""
        if key.startswith(f"{ENGINE}."):
            if key.removeprefix(f"{ENGINE}.") in _TOP_KEYS:
                top[key.removeprefix(f"{ENGINE}.")] = prop.get("value")
            else:
                findings.warn(
                    ("customProperties",),
                    f"custom property {key!r} is not one lakegate sets ({', '.join(_TOP_KEYS)}): ignored",
                )
    dialects = _dialects(data)
    contracts = []
    for i in chosen:
        draft = table(findings, objects[i], i, dialects)
        draft.top.update(top)
        own = objects[i].get("description")
        if isinstance(own, str) and own:
            draft.top["description"] = own
        elif isinstance(purpose, str):
            draft.top["description"] = purpose
        contract = draft.build()
        if contract is not None:
            contracts.append(contract)
    findings.raise_refusals()
    carried = [k for k in _DOC_TOP if data.get(k)]
    if _team_beyond_owner(data.get("team")):
        carried.append("team (except its owner)")
    if isinstance(desc, dict) and set(desc) - {"purpose"}:
        carried.append("description (except its purpose)")
    if others(data.get("customProperties")):
        carried.append("customProperties")
    doc = findings.documentation
    if doc or carried:
        parts = [*carried, *(f"{k} ({n})" for k, n in sorted(doc.items()))]
        findings.warn(
            (), f"documentation kept out of the contracts (no check follows from it): {', '.join(parts)}"
        )
    return OdcsImport(tuple(contracts), tuple(findings.warnings), version, names)


def from_odcs(doc: dict[str, Any] | str, *, dataset: str | None = None, label: str = "<odcs>") -> Contract:
    """The one contract of an ODCS document (``dataset`` picks a table of a document with several);
    what the import did not carry is raised as :class:`OdcsWarning`."""
    text = doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False)
    result = import_odcs(text, label=label, dataset=dataset)
    if len(result.contracts) > 1:
        raise ContractError(
            [
                Problem(
                    label,
                    None,
                    "schema",
                    f"the document holds {len(result.contracts)} tables ({', '.join(result.tables)}): "
                    "name one with dataset=, or use import_odcs for all",
                )
            ]
        )
    for w in result.warnings:
        warnings.warn(str(w), OdcsWarning, stacklevel=2)
    return result.contracts[0]


def to_odcs_yaml(contract: Contract) -> str:
    return yaml.safe_dump(to_odcs(contract), sort_keys=False, allow_unicode=True)
