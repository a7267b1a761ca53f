"""lakegate: git-style branches, commits, diffs and merges for Delta tables.

>>> import lake
>>> repo = lake.Repository.init("/tmp/my-lake")            # doctest: +SKIP
>>> repo.branch("main").write("orders", table)             # doctest: +SKIP
>>> repo.create_branch("fix").delete("orders", "amount < 0")  # doctest: +SKIP
"""

from lake.commits import Commit, DatasetChange, Layer, Snapshot
from lake.diff import (
    ColumnAdded,
    ColumnDropped,
    DatasetDiff,
    Diff,
    NullabilityChanged,
    SchemaDelta,
    TypeChanged,
)
from lake.errors import (
    ConcurrentUpdateError,
    DatasetNotFoundError,
    InvalidInputError,
    InvalidRefNameError,
    InvalidStorageOptionError,
    LakeError,
    NotARepositoryError,
    RefExistsError,
    RefNotFoundError,
    RefusedError,
    RepositoryExistsError,
    SchemaMismatchError,
    StorageError,
    UsageError,
)
from lake.repository import Branch, Repository, Transaction
from lake.results import BranchInfo, CommitInfo, DatasetInfo, TagInfo, WriteResult

__version__ = "0.1.0"

__all__ = [
    "Branch",
    "BranchInfo",
    "ColumnAdded",
    "ColumnDropped",
    "Commit",
    "CommitInfo",
    "ConcurrentUpdateError",
    "DatasetChange",
    "DatasetDiff",
    "DatasetInfo",
    "DatasetNotFoundError",
    "Diff",
    "InvalidInputError",
    "InvalidRefNameError",
    "InvalidStorageOptionError",
    "LakeError",
    "Layer",
    "NotARepositoryError",
    "NullabilityChanged",
    "RefExistsError",
    "RefNotFoundError",
    "RefusedError",
    "Repository",
    "RepositoryExistsError",
    "SchemaDelta",
    "SchemaMismatchError",
    "Snapshot",
    "StorageError",
    "TagInfo",
    "Transaction",
    "TypeChanged",
    "UsageError",
    "WriteResult",
]
