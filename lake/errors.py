"""The one exception hierarchy of lakegate, rooted in :class:`LakeError`.

Children are named for what the caller does next: retry (:class:`ConcurrentUpdateError`),
fix the input (:class:`InvalidInputError`), or look at a name (:class:`RefNotFoundError`).
Storage errors are mapped once, at the storage boundary, with ``raise ... from exc``.

Every error lakegate raises is defined here, the bottom layer, which imports nothing of lake.
The errors that carry evidence (a contract's problems, validation reports, a gate report, merge
conflicts) take it duck-typed: the small protocols below say what each message reads, and the
modules that make the evidence (lake.contracts, lake.validation, lake.merge) import these
classes, never the other way round. Their old homes re-export them, so
``from lake.merge.plan import MergeConflictError`` still works.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


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
        """The error as ``--json`` prints it: ``error`` (the class name), ``message`` and ``hint``."""
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

    exit_code = 2  # bad input: a name that is not there (or is)


class RepositoryExistsError(LakeError):
    """``init`` found a repository already there."""

    exit_code = 2  # bad input: a name that is not there (or is)


class RefNotFoundError(LakeError):
    """No branch, tag or commit answers to that name."""

    exit_code = 2  # bad input: a name that is not there (or is)


class CommitExpiredError(RefNotFoundError):
    """The commit is older than what ``lake gc`` kept and no branch or tag held it, so gc
    reclaimed its files: its data cannot be read any more (its message stays in the log)."""

    def __init__(self, commit: str, *, reclaimed: str, horizon: str) -> None:
        self.commit = commit
        self.reclaimed = reclaimed
        self.horizon = horizon
        super().__init__(
            f"commit {commit[:12]} has expired: lake gc reclaimed its files on {reclaimed[:19]} "
            f"(it was older than the retention horizon {horizon[:19]} and no branch or tag held it)",
            hint="its message and author stay in 'lake log'; read a branch, a tag or a newer commit "
            "instead (tag commits you need to keep before gc, or run gc with a longer --older-than)",
        )

    def to_dict(self) -> dict[str, object]:
        """:meth:`LakeError.to_dict` with the expired ``commit`` and when gc ``reclaimed`` it."""
        return {**super().to_dict(), "commit": self.commit, "reclaimed": self.reclaimed}


class AmbiguousRefError(UsageError):
    """A name answers as more than one of branch, tag and commit, and they differ."""


class RefExistsError(UsageError):
    """A branch or tag of that name exists already (or one whose path would hold it)."""


class DatasetNotFoundError(LakeError):
    """The dataset does not exist at that ref."""

    exit_code = 2  # bad input: a name that is not there (or is)


class SchemaMismatchError(LakeError):
    """Incoming data does not fit the dataset's schema without loss."""


class ConcurrentUpdateError(LakeError):
    """Another writer moved the branch first. Retrying the operation is safe."""

    exit_code = 3  # could not run: the retries ran out


class RefusedError(LakeError):
    """An operation is refused by a rule of the repository (for example: deleting main)."""


class ForeignChangeError(RefusedError):
    """Another engine committed to a lake table, and the lake cannot adopt the change on its own:
    the branch is protected (the change skipped the gate), the change breaks the contract, or the
    lake cannot read what it wrote. Nothing was lost and nothing was committed."""

    def __init__(
        self, message: str, *, hint: str | None = None, found: Any = None, reports: Sequence[Any] = ()
    ) -> None:
        super().__init__(message, hint=hint)
        self.found: Any = found  # lake.table.foreign.Pending
        self.reports: list[Any] = list(reports)  # lake.validation.report.ValidationReport

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        if self.found is not None:
            out["foreign"] = self.found.to_dict()
        if self.reports:
            out["reports"] = [r.to_dict() for r in self.reports]
        return out


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
        """:meth:`LakeError.to_dict`, with the ``operation``, ``object`` and ``cause`` when known."""
        out = super().to_dict()
        if self.operation is not None:
            out.update(operation=self.operation, object=self.object, cause=self.cause)
        return out


class EngineError(LakeError):
    """An engine the lake drives (a Spark job) failed, so lakegate could not run; ``cause`` is the
    engine's own last word on one line, with credentials masked. Nothing was committed."""

    exit_code = 3

    def __init__(self, message: str, *, hint: str | None = None, cause: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.cause = cause


# -- retryable races, raised below the repository --------------------------------------------------
class PreconditionFailed(ConcurrentUpdateError):
    """A conditional write lost: the object changed (If-Match) or exists (If-None-Match)."""


class VersionTaken(ConcurrentUpdateError):
    """The Delta version this writer meant to create exists already (another writer, or an
    earlier writer that stopped before moving its ref)."""


# -- errors that carry evidence --------------------------------------------------------------------
class _Problem(Protocol):
    """What :class:`ContractError` reads of a problem (``lake.contracts.model.Problem``)."""

    @property
    def source(self) -> str: ...


class ContractError(UsageError):
    """A contract file is not valid; ``problems`` lists each one with its line and key."""

    def __init__(self, problems: Sequence[_Problem]) -> None:
        self.problems: Any = problems  # list[lake.contracts.model.Problem]
        head = f"the contract {problems[0].source} is not valid" if problems else "invalid contract"
        super().__init__(
            head + ":\n" + "\n".join(f"  {p}" for p in problems),
            hint="fix the lines named above; unknown keys are refused so that a typo never disables a check",
        )


class _FailedCheck(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def failed_rows(self) -> int: ...

    @property
    def kind(self) -> str: ...

    @property
    def message(self) -> str: ...


class _ValidationReport(Protocol):
    """What :class:`ContractViolationError` reads of a ``lake.validation.report.ValidationReport``."""

    @property
    def dataset(self) -> str: ...

    @property
    def failures(self) -> Sequence[_FailedCheck]: ...

    def to_dict(self) -> dict[str, Any]: ...


def first_line(exc: BaseException) -> str:
    """What a library's error says, on one line: polars, for one, follows its reason with the
    query plan over a dozen lines, which a person does not need in a message."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def failed_checks(report: _ValidationReport) -> str:
    """The checks a validation report failed, with their failing row counts: ``unique (3 rows)``;
    a metric with what it measured, a reference with the values it misses."""
    return ", ".join(_failed(r) for r in report.failures)


def _failed(check: _FailedCheck) -> str:
    if check.kind == "metric":
        return f"{check.name} ({check.message})"
    if check.kind == "references":
        return f"{check.name} ({check.failed_rows} rows; {check.message})"
    return f"{check.name} ({check.failed_rows} rows)" if check.failed_rows else check.name


class ContractViolationError(LakeError):
    """Data broke the contract; nothing was committed. ``reports`` say which checks and rows."""

    def __init__(self, reports: Sequence[_ValidationReport]) -> None:
        given = list(reports)
        self.reports: list[Any] = given  # of lake.validation.report.ValidationReport
        parts = [f"{rep.dataset}: {failed_checks(rep)}" for rep in given]
        super().__init__(
            "the data breaks the contract, so nothing was committed: " + "; ".join(parts),
            hint="fix the rows shown, or write with on_violation='quarantine' (CLI: --quarantine) "
            "to commit the valid rows and set the others aside",
        )

    def to_dict(self) -> dict[str, object]:
        """:meth:`LakeError.to_dict` with every validation report."""
        return {**super().to_dict(), "reports": [r.to_dict() for r in self.reports]}


class _GateCheck(Protocol):
    @property
    def dataset(self) -> str: ...

    @property
    def category(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def status(self) -> str: ...


class _GateReport(Protocol):
    """What :class:`GateFailedError` reads of a ``lake.validation.gate_report.GateReport``."""

    @property
    def source(self) -> str: ...

    @property
    def target(self) -> str: ...

    @property
    def checks(self) -> Sequence[_GateCheck]: ...

    def to_dict(self) -> dict[str, Any]: ...


class GateFailedError(LakeError):
    """The merge gate blocked the merge; nothing was committed."""

    def __init__(self, report: _GateReport, path: str | None = None) -> None:
        self.report: Any = report  # lake.validation.gate_report.GateReport
        self.path = path  # where the report was written, when it was (Repository.publish)
        failed = [f"{c.dataset}:{c.category}/{c.name}" for c in report.checks if c.status == "fail"]
        super().__init__(
            f"the gate blocked merging {report.source} into {report.target}: " + ", ".join(failed),
            hint="fix the branch, or override with --force --reason '...' (recorded in the merge commit)",
        )

    def to_dict(self) -> dict[str, object]:
        """:meth:`LakeError.to_dict` with the gate's ``report``, and its ``path`` when it was written."""
        out = {**super().to_dict(), "report": self.report.to_dict()}
        return {**out, "path": self.path} if self.path else out


class _Conflict(Protocol):
    """What :class:`MergeConflictError` reads of a ``lake.merge.plan.Conflict``."""

    def describe(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


class MergeConflictError(LakeError):
    """Both sides changed the same data differently; nothing was committed."""

    def __init__(self, conflicts: Sequence[_Conflict]) -> None:
        self.conflicts: Any = conflicts  # list[lake.merge.plan.Conflict]
        super().__init__(
            "the merge has conflicts, so nothing was committed:\n"
            + "\n".join(f"  {c.describe()}" for c in conflicts),
            hint="resolve them on the source branch, or merge with --strategy source-wins or target-wins",
        )

    def to_dict(self) -> dict[str, object]:
        """:meth:`LakeError.to_dict` with every conflict."""
        return {**super().to_dict(), "conflicts": [c.to_dict() for c in self.conflicts]}


class RevertConflictError(MergeConflictError):
    """Later commits changed rows the reverted commit changed; nothing was committed. Reported
    as a merge's conflicts are (a revert is a merge with the commit as base)."""

    def __init__(self, commit: str, conflicts: Sequence[_Conflict]) -> None:
        self.commit = commit
        self.conflicts = conflicts
        LakeError.__init__(
            self,
            f"reverting {commit[:12]} conflicts with later commits, so nothing was committed:\n"
            + "\n".join(f"  {c.describe()}" for c in conflicts),
            hint="revert with --strategy revert-wins (bring the rows before the commit back) "
            "or current-wins (keep the rows later commits made), or fix the rows by hand",
        )

    def to_dict(self) -> dict[str, object]:
        """The conflicts, as :meth:`MergeConflictError.to_dict` gives them, with the reverted ``commit``."""
        return {**super().to_dict(), "commit": self.commit}
