"""The official ODCS JSON schemas (v3.0.0 to v3.1.0, vendored from bitol-io/open-data-contract-standard,
Apache-2.0): a document is checked against the schema of the ``apiVersion`` it declares, so a
malformed document gets the schema's own error at its line, before any mapping runs."""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import cache
from importlib import resources
from typing import Any

from .findings import Findings, Path

VERSIONS = ("v3.0.0", "v3.0.1", "v3.0.2", "v3.1.0")
LATEST = VERSIONS[-1]
MAX_ERRORS = 20


@cache
def _validator(version: str) -> Any:
    from jsonschema import Draft201909Validator

    text = resources.files(__package__).joinpath(f"schemas/odcs-json-schema-{version}.json").read_text()
    return Draft201909Validator(json.loads(text))


def _plain(value: Any) -> Any:
    """YAML data as JSON would hold it: YAML's unquoted dates and times become the ISO strings the
    schemas expect, mapping keys become strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    return value


def _version_key(version: str) -> tuple[int, ...] | None:
    m = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)", version.strip())
    return tuple(int(g) for g in m.groups()) if m else None


def _errors(version: str, data: Any) -> list[tuple[Path, str]]:
    from jsonschema.exceptions import best_match

    out: list[tuple[Path, str]] = []
    for err in sorted(_validator(version).iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        deepest = best_match(err.context) if err.context else err
        if deepest is None:
            deepest = err
        out.append((tuple(deepest.absolute_path), deepest.message))
    return out


def check_schema(data: dict[str, Any], findings: Findings) -> str | None:
    """The ODCS version the document is read as, after checking it against that version's JSON
    schema; None (with the refusals recorded) when it is not a valid ODCS v3 document."""
    declared = str(data.get("apiVersion", ""))
    key = _version_key(declared)
    if data.get("kind") != "DataContract" or key is None or key[0] != 3:
        findings.refuse(
            ("apiVersion",),
            f"not an ODCS v3 data contract (kind: DataContract, apiVersion: {VERSIONS[0]} to {LATEST}); "
            f"this document has kind: {data.get('kind')!r}, apiVersion: {declared or 'none'}",
        )
        return None
    plain = _plain(data)
    version = f"v{key[0]}.{key[1]}.{key[2]}"
    if version not in VERSIONS:
        findings.warn(
            ("apiVersion",),
            f"ODCS {declared} is not one lakegate knows ({', '.join(VERSIONS)}); "
            f"checked against {LATEST}, the latest",
        )
        version = LATEST
    errors = _errors(version, plain)
    if not errors:
        return version
    if version != LATEST and not _errors(LATEST, plain):
        # The standard's own examples are labelled v3.0.2 yet written in 3.1's shapes (team as
        # a mapping, library rules as metric:); read them as what they are, and say so.
        findings.warn(
            ("apiVersion",),
            f"the document says {declared} but follows ODCS {LATEST} ({errors[0][1]} under {declared}); "
            f"read as {LATEST}: set apiVersion: {LATEST}",
        )
        return LATEST
    for path, message in errors[:MAX_ERRORS]:
        findings.refuse(path, f"not valid ODCS {version}: {message}")
    if len(errors) > MAX_ERRORS:
        findings.refuse(("apiVersion",), f"and {len(errors) - MAX_ERRORS} more schema errors")
    return None
