"""What a write, delete, upsert, transaction or merge reports back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lake.graph.commits import DatasetChange
from lake.table.threeway import DatasetPlan
from lake.validation.report import ValidationReport


@dataclass(frozen=True)
class WriteResult:
    """What a write, delete, upsert, transaction or other commit on a branch did: ``commit`` is
    the branch's new head and ``parent`` the head it was made on (the same commit when nothing
    changed), ``datasets`` what it did to each dataset, ``attempts`` how many times it began (it
    begins again when another writer moved the branch first), ``validation`` the contract report of
    each dataset checked, and ``adopted`` the commits made first for Delta versions another engine
    wrote."""

    branch: str
    commit: str
    parent: str
    datasets: Mapping[str, DatasetChange]
    attempts: int = 1
    validation: Mapping[str, ValidationReport] = field(default_factory=dict)
    # Commits made first, adopting Delta versions another engine wrote to a table this write met
    # (each: commit, dataset, versions, operations, engines, data_change).
    adopted: tuple[Mapping[str, Any], ...] = ()

    @property
    def changed(self) -> bool:
        """True when a new commit was made (False when the operation changed nothing)."""
        return self.commit != self.parent

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-ready data, with ``changed``, the validation reports and adoptions."""
        return {
            "branch": self.branch,
            "commit": self.commit,
            "parent": self.parent,
            "changed": self.changed,
            "datasets": {k: v.to_json() for k, v in self.datasets.items()},
            "validation": {k: v.to_dict() for k, v in self.validation.items()},
            "adopted": [dict(a) for a in self.adopted],
        }


def planned_changes(plans: Mapping[str, DatasetPlan]) -> dict[str, DatasetChange]:
    """What a merge's plans would do to each dataset, as a commit records it (for a dry run or
    a fast-forward, which make no Delta commit to count from)."""
    out: dict[str, DatasetChange] = {}
    for name, p in plans.items():
        if p.change is None:
            continue
        ch = p.change
        out[name] = DatasetChange(
            operation=f"merge ({p.action})",
            rows_added=ch.rows_added,
            rows_removed=ch.rows_removed,
            files_added=len(ch.restore) + (1 if ch.data is not None and ch.data.num_rows else 0),
            files_removed=len(ch.remove),
        )
    return out
