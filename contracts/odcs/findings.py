"""What an import found to say about the ODCS document: refusals (nothing is imported) and
warnings (imported, with what was not carried said out loud), each at the document's own line."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..model import ContractError, Problem, line_of

Path = tuple[str | int, ...]


def key_of(path: Path) -> str:
    """``schema[0].properties[3].quality[1]``: the path as a person reads it in the file."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass
class Findings:
    label: str
    root: yaml.Node | None
    refusals: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    documentation: Counter[str] = field(default_factory=Counter)  # "<where>: <key>" -> how often

    def document(self, where: str, entry: dict[str, Any], keys: frozenset[str]) -> None:
        """Note the keys of ``entry`` that only document it (they are listed in one warning)."""
        self.documentation.update(
            f"{where} {k}" for k in entry if k in keys and entry[k] not in (None, "", [])
        )

    def problem(self, path: Path, message: str) -> Problem:
        return Problem(self.label, line_of(self.root, path), key_of(path), message)

    def refuse(self, path: Path, message: str) -> None:
        self.refusals.append(self.problem(path, message))

    def warn(self, path: Path, message: str) -> None:
        self.warnings.append(self.problem(path, message))

    def raise_refusals(self) -> None:
        if self.refusals:
            raise ContractError(list(self.refusals))


def rule_name(rule: dict[str, Any], path: Path) -> str:
    """A quality rule as the file names it: its name, else its id, else where it sits and what
    it says it does."""
    for key in ("name", "id"):
        if isinstance(rule.get(key), str) and rule[key].strip():
            return str(rule[key]).strip()
    desc = rule.get("description")
    where = key_of(path)
    if isinstance(desc, str) and desc.strip():
        short = " ".join(desc.split())
        return f"{where} ({short[:60]}{'...' if len(short) > 60 else ''})"
    return where
