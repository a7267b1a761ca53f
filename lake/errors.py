"""The one exception hierarchy of lakegate, rooted in :class:`LakeError`.

Children are named for what the caller does next: retry (:class:`ConcurrentUpdateError`),
fix the input (:class:`InvalidInputError`), or look at a name (:class:`RefNotFoundError`).
Storage errors are mapped once, at the storage boundary, with ``raise ... from exc``.
"""

from __future__ import annotations


class LakeError(Exception):
    """Root of every error lakegate raises on purpose.

    ``hint`` says what a person should do next; the CLI prints it under the message.
    """

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def to_dict(self) -> dict[str, object]:
        return {"error": type(self).__name__, "message": self.message, "hint": self.hint}


class UsageError(LakeError):
    """The request itself is malformed: bad names, bad options, bad input files."""

    exit_code = 2


class InvalidInputError(UsageError):
    """Data or a file given to lakegate cannot be used as it is."""


class InvalidRefNameError(UsageError):
    """A branch or tag name breaks git's ref-name rules."""


class InvalidStorageOptionError(UsageError):
    """A storage option name is unknown or its value is unusable."""


class NotARepositoryError(LakeError):
    """The URI does not hold a lakegate repository."""


class RepositoryExistsError(LakeError):
    """``init`` found a repository already there."""


class RefNotFoundError(LakeError):
    """No branch, tag or commit answers to that name."""


class AmbiguousRefError(UsageError):
    """A name answers as more than one of branch, tag and commit, and they differ."""


class RefExistsError(UsageError):
    """A branch or tag of that name exists already (or one whose path would hold it)."""


class DatasetNotFoundError(LakeError):
    """The dataset does not exist at that ref."""


class SchemaMismatchError(LakeError):
    """Incoming data does not fit the dataset's schema without loss."""


class ConcurrentUpdateError(LakeError):
    """Another writer moved the branch first. Retrying the operation is safe."""


class RefusedError(LakeError):
    """An operation is refused by a rule of the repository (for example: deleting main)."""


class StorageError(LakeError):
    """The object store (or the local disk) failed, so lakegate could not run.

    Raised by :mod:`lake.storage.faults`, which maps the failures of delta-rs, pyarrow, polars
    and boto3 at the storage boundary: ``operation`` and ``object`` say what was attempted on
    what, and ``cause`` is the client's own explanation on one line, with credentials masked.
    """

    exit_code = 3

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        operation: str | None = None,
        object: str | None = None,
        cause: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.operation = operation
        self.object = object
        self.cause = cause

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        if self.operation is not None:
            out.update(operation=self.operation, object=self.object, cause=self.cause)
        return out
