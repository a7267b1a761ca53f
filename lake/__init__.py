"""lakegate: git-style branches, commits, diffs and merges for Delta tables, with data contracts.

>>> import lake
>>> repo = lake.Repository.init("/tmp/my-lake")                # doctest: +SKIP
>>> repo.branch("main").write("orders", table)                 # doctest: +SKIP
>>> repo.create_branch("fix").delete("orders", "amount < 0")   # doctest: +SKIP

Only the error hierarchy is imported eagerly; everything else loads on first use, so that the
contract and validation layers (which raise these errors) can import ``lake.errors`` without
pulling in the whole lake.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lake.errors import (
    AmbiguousRefError,
    CommitExpiredError,
    ConcurrentUpdateError,
    ContractError,
    ContractViolationError,
    DatasetNotFoundError,
    EngineError,
    GateFailedError,
    InvalidInputError,
    InvalidRefNameError,
    InvalidStorageOptionError,
    LakeError,
    MergeConflictError,
    NotARepositoryError,
    RefExistsError,
    RefNotFoundError,
    RefusedError,
    RepositoryExistsError,
    RevertConflictError,
    SchemaMismatchError,
    StorageError,
    UsageError,
)

if TYPE_CHECKING:
    from lake.contracts import Contract, ContractDiff
    from lake.graph.commits import Commit, DatasetChange, Layer, Snapshot
    from lake.repository import Publication, Repository
    from lake.results import (
        BranchInfo,
        BranchStatus,
        CommitInfo,
        DatasetInfo,
        DatasetStatus,
        MergeResult,
        RepositoryStatus,
        TagInfo,
        WriteResult,
    )
    from lake.standalone import validate
    from lake.table.diff import (
        ColumnAdded,
        ColumnDropped,
        DatasetDiff,
        Diff,
        NullabilityChanged,
        SchemaDelta,
        TypeChanged,
    )
    from lake.table.engines import Exported, RefFiles
    from lake.validation.gate_report import GateReport
    from lake.validation.report import CheckResult, ValidationReport
    from lake.write.branch import Branch, Transaction

_LAZY = {
    "Commit": "lake.graph.commits",
    "DatasetChange": "lake.graph.commits",
    "Layer": "lake.graph.commits",
    "Snapshot": "lake.graph.commits",
    "ColumnAdded": "lake.table.diff",
    "ColumnDropped": "lake.table.diff",
    "DatasetDiff": "lake.table.diff",
    "Diff": "lake.table.diff",
    "NullabilityChanged": "lake.table.diff",
    "SchemaDelta": "lake.table.diff",
    "TypeChanged": "lake.table.diff",
    "Branch": "lake.write.branch",
    "Repository": "lake.repository",
    "Publication": "lake.repository",
    "Exported": "lake.table.engines",
    "RefFiles": "lake.table.engines",
    "Transaction": "lake.write.branch",
    "BranchInfo": "lake.results",
    "BranchStatus": "lake.results",
    "DatasetStatus": "lake.results",
    "RepositoryStatus": "lake.results",
    "CommitInfo": "lake.results",
    "DatasetInfo": "lake.results",
    "TagInfo": "lake.results",
    "WriteResult": "lake.results",
    "MergeResult": "lake.results",
    "Contract": "lake.contracts",
    "ContractDiff": "lake.contracts",
    "CheckResult": "lake.validation.report",
    "ValidationReport": "lake.validation.report",
    "GateReport": "lake.validation.gate_report",
    "validate": "lake.standalone",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lake' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__version__ = "0.1.0"

__all__ = [
    "AmbiguousRefError",
    "Branch",
    "BranchInfo",
    "BranchStatus",
    "CheckResult",
    "ColumnAdded",
    "ColumnDropped",
    "Commit",
    "CommitExpiredError",
    "CommitInfo",
    "ConcurrentUpdateError",
    "Contract",
    "ContractDiff",
    "ContractError",
    "ContractViolationError",
    "DatasetChange",
    "DatasetDiff",
    "DatasetInfo",
    "DatasetNotFoundError",
    "DatasetStatus",
    "Diff",
    "EngineError",
    "Exported",
    "GateFailedError",
    "GateReport",
    "InvalidInputError",
    "InvalidRefNameError",
    "InvalidStorageOptionError",
    "LakeError",
    "Layer",
    "MergeConflictError",
    "MergeResult",
    "NotARepositoryError",
    "NullabilityChanged",
    "Publication",
    "RefExistsError",
    "RefFiles",
    "RefNotFoundError",
    "RefusedError",
    "Repository",
    "RepositoryExistsError",
    "RepositoryStatus",
    "RevertConflictError",
    "SchemaDelta",
    "SchemaMismatchError",
    "Snapshot",
    "StorageError",
    "TagInfo",
    "Transaction",
    "TypeChanged",
    "UsageError",
    "ValidationReport",
    "WriteResult",
    "validate",
]
