"""One ODCS schema object on its way to a lakegate contract: the contract's fields as they are
filled in, and where in the ODCS file each came from, so that a problem the contract model finds
is reported at the ODCS file's own line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ..model import Contract, validation_problem
from .findings import Findings, Path, key_of

LakePath = tuple[str | int, ...]


@dataclass
class TableDraft:
    findings: Findings
    path: Path  # ("schema", i)
    dataset: str
    names: tuple[str, ...]  # what a SQL rule's FROM may call this table
    dialects: list[str | None]
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)
    top: dict[str, Any] = field(default_factory=dict)  # dataset-level keys other than these
    origin: dict[LakePath, Path] = field(default_factory=dict)

    def set(self, column: str, key: str, value: Any, path: Path) -> None:
        self.columns[column][key] = value
        self.origin[("columns", column, key)] = path

    def column_check(self, column: str, predicate: str, path: Path) -> None:
        checks = self.columns[column].setdefault("checks", [])
        self.origin[("columns", column, "checks", len(checks))] = path
        checks.append(predicate)

    def metric(self, column: str, metric: str, bound: dict[str, Any], path: Path) -> None:
        metrics = self.columns[column].setdefault("metrics", {})
        bounds = metrics.setdefault(metric, [])
        self.origin.setdefault(("columns", column, "metrics", metric), path)
        self.origin[("columns", column, "metrics", metric, len(bounds))] = path
        bounds.append(bound)

    def check(self, name: str, body: dict[str, Any], path: Path) -> None:
        taken = {c.get("name") for c in self.checks}
        base = name if name else f"check_{len(self.checks) + 1}"
        unique, n = base, 2
        while unique in taken:
            unique, n = f"{base}_{n}", n + 1
        self.origin[("checks", len(self.checks))] = path
        self.checks.append({"name": unique, **body})

    def where(self, loc: LakePath) -> Path:
        """The ODCS path a contract key came from: the longest recorded prefix of ``loc``."""
        loc = tuple("in" if p == "in_" else p for p in loc)
        for n in range(len(loc), 0, -1):
            if loc[:n] in self.origin:
                return self.origin[loc[:n]]
        return self.path

    def build(self) -> Contract | None:
        """The contract, or None with every problem recorded at its ODCS line."""
        raw: dict[str, Any] = {"dataset": self.dataset, **self.top, "columns": self.columns}
        if self.checks:
            raw["checks"] = self.checks
        try:
            contract = Contract.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors():
                problem = validation_problem(err, None, self.findings.label)
                at = self.where(tuple(err["loc"]))
                self.findings.refuse(at, f"{problem.key}: {problem.message}")
            return None
        problems = contract.semantic_problems()
        for loc, message in problems:
            self.findings.refuse(self.where(loc), f"{key_of(loc)}: {message}")
        return None if problems else contract
