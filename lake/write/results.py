"""What a write, delete, upsert or transaction reports back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lake.graph.commits import DatasetChange
from lake.validation.report import ValidationReport


@dataclass(frozen=True)
class WriteResult:
    branch: str
    commit: str
    parent: str
    datasets: Mapping[str, DatasetChange]
    attempts: int = 1
    validation: Mapping[str, ValidationReport] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.commit != self.parent

    def to_dict(self) -> dict[str, Any]:
        return {
            "branch": self.branch,
            "commit": self.commit,
            "parent": self.parent,
            "changed": self.changed,
            "datasets": {k: v.to_json() for k, v in self.datasets.items()},
            "validation": {k: v.to_dict() for k, v in self.validation.items()},
        }
