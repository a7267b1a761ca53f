"""Typed results of the public API; one model feeds every renderer (rich tables and JSON)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lake.graph.commits import Commit, DatasetChange
from lake.write.results import WriteResult

__all__ = ["BranchInfo", "CommitInfo", "DatasetInfo", "MergeResult", "TagInfo", "WriteResult"]


@dataclass(frozen=True)
class CommitInfo:
    """A commit and its id, as :meth:`Repository.commit` and :meth:`Repository.log` return it."""

    id: str
    commit: Commit

    def to_dict(self) -> dict[str, Any]:
        """The commit's id and every field of the commit, as JSON-ready data."""
        return {"id": self.id, **self.commit.to_json()}


@dataclass(frozen=True)
class BranchInfo:
    """A branch as :meth:`Repository.branches` lists it: its name, the commit it points at, and
    whether it is protected."""

    name: str
    commit: str
    protected: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The branch's name, commit and ``protected`` flag."""
        return {"name": self.name, "commit": self.commit, "protected": self.protected}


@dataclass(frozen=True)
class TagInfo:
    """A tag: its name and the commit it names."""

    name: str
    commit: str

    def to_dict(self) -> dict[str, Any]:
        """The tag's name and commit."""
        return {"name": self.name, "commit": self.commit}


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset as :meth:`Repository.datasets` lists it: its rows, data files and columns (name
    and Arrow type) at the ref, and ``location``, the plain Delta table any reader can open, when
    the ref's data is main's own table (else None)."""

    name: str
    rows: int
    files: int
    columns: tuple[tuple[str, str], ...]
    location: str | None  # the plain Delta table, where the ref's data is main's own table

    def to_dict(self) -> dict[str, Any]:
        """The dataset's name, rows, files, columns (each a name and a type) and location."""
        return {
            "name": self.name,
            "rows": self.rows,
            "files": self.files,
            "columns": [{"name": n, "type": t} for n, t in self.columns],
            "location": self.location,
        }


@dataclass(frozen=True)
class MergeResult:
    """What :meth:`Repository.merge` did, or for a dry run would do. ``kind`` is ``up-to-date``
    (the target holds the source already), ``fast-forward`` or ``merge``; ``commit`` is the
    target's head after it (None for a dry run that would move it). ``datasets`` says what the
    merge does to each dataset; ``conflicts`` lists the conflicts found (a dry run reports them,
    a ``source-wins`` or ``target-wins`` merge resolved them)."""

    source: str
    target: str
    base: str | None
    commit: str | None  # the target's new head; None for a dry run or a refused merge
    kind: str  # "up-to-date" | "fast-forward" | "merge"
    datasets: Mapping[str, DatasetChange]
    conflicts: tuple[Any, ...] = ()
    dry_run: bool = False
    adopted: tuple[Mapping[str, Any], ...] = ()  # foreign Delta versions adopted first (WriteResult's)

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-ready data: the changes per dataset, the conflicts, the adoptions."""
        return {
            "source": self.source,
            "target": self.target,
            "base": self.base,
            "commit": self.commit,
            "kind": self.kind,
            "dry_run": self.dry_run,
            "datasets": {k: v.to_json() for k, v in self.datasets.items()},
            "conflicts": [c.to_dict() for c in self.conflicts],
            "adopted": [dict(a) for a in self.adopted],
        }


@dataclass(frozen=True)
class BranchStatus:
    """A branch as ``lake status`` shows it: its rules, and how far it is from the default branch."""

    name: str
    commit: str
    protected: bool
    require_contracts: bool
    ahead: int  # commits it has that the default branch lacks
    behind: int  # commits the default branch has that it lacks

    def to_dict(self) -> dict[str, Any]:
        """The branch's name, commit, rules and its ``ahead`` and ``behind`` counts."""
        return {
            "name": self.name,
            "commit": self.commit,
            "protected": self.protected,
            "require_contracts": self.require_contracts,
            "ahead": self.ahead,
            "behind": self.behind,
        }


@dataclass(frozen=True)
class DatasetStatus:
    """A dataset of the default branch as ``lake status`` shows it."""

    name: str
    rows: int
    files: int
    contract: str | None  # the contract's hash, None when it has none
    partition_by: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The dataset's name, rows, files, contract hash and partition columns."""
        return {
            "name": self.name,
            "rows": self.rows,
            "files": self.files,
            "contract": self.contract,
            "partition_by": list(self.partition_by),
        }


@dataclass(frozen=True)
class RepositoryStatus:
    """What ``lake status`` reports: the repository, its default branch's head and datasets,
    and every branch with its rules and distance from the default branch."""

    uri: str
    default_branch: str
    head: str
    branches: tuple[BranchStatus, ...]
    datasets: tuple[DatasetStatus, ...]

    def to_dict(self) -> dict[str, Any]:
        """What ``lake status --json`` prints: the repository, its default branch and head, and
        every branch and dataset."""
        return {
            "repository": self.uri,
            "default_branch": self.default_branch,
            "head": self.head,
            "branches": [b.to_dict() for b in self.branches],
            "datasets": [d.to_dict() for d in self.datasets],
        }
