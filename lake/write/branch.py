"""Branches and transactions: the handles ETL jobs write through."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol, Self

from lake import kill
from lake.contracts import Contract
from lake.errors import InvalidInputError, RefusedError
from lake.graph.names import check_dataset_name
from lake.progress import ProgressCallback, reports_progress
from lake.table.frames import to_arrow
from lake.table.streams import to_stream
from lake.validation.report import ContractViolationError
from lake.write.check import validate_snapshot
from lake.write.commit import WriteContext, commit
from lake.write.ops import Append, Delete, OnViolation, Op, Overwrite, SetContract, Upsert, check_on_violation
from lake.write.plan import SchemaMode
from lake.write.references import references_of
from lake.write.results import WriteResult


class Host(Protocol):
    """What a branch needs of its repository (:class:`lake.repository.Repository` is one)."""

    @property
    def uri(self) -> str: ...

    @property
    def write_context(self) -> WriteContext: ...

    def resolve(self, ref: str) -> str: ...


class Branch:
    """A branch of a repository: the handle ETL jobs write through."""

    def __init__(self, repo: Host, name: str) -> None:
        self.repo = repo
        self.name = name

    def __repr__(self) -> str:
        return f"Branch({self.name!r} of {self.repo.uri})"

    @property
    def head(self) -> str:
        """The id of the commit the branch points at, read afresh each time; a deleted branch
        raises :class:`RefNotFoundError`."""
        return self.repo.resolve(f"refs/heads/{self.name}")

    def commit(
        self,
        ops: Sequence[Op],
        *,
        message: str,
        author: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> WriteResult:
        """Make ``ops`` one commit on this branch (what a transaction does on a clean exit)."""
        return commit(
            self.repo.write_context, self.name, ops, message=message, author=author, metadata=metadata
        )

    @reports_progress
    def write(
        self,
        dataset: str,
        data: Any,
        *,
        mode: Literal["append", "overwrite"] = "append",
        schema_mode: SchemaMode = "strict",
        on_violation: OnViolation = "reject",
        replace_where: str | None = None,
        partition_by: Sequence[str] | None = None,
        message: str | None = None,
        author: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        progress: ProgressCallback | None = None,
    ) -> WriteResult:
        """Append ``data`` to ``dataset`` (created on first write) or overwrite it: one commit.
        ``mode='overwrite', replace_where=SQL`` replaces only the rows the predicate selects (as
        Delta's replaceWhere), and refuses data holding a row the predicate does not select.
        ``partition_by``: a new dataset's partition columns (else the contract's ``partition_by``);
        an overwrite with ``schema_mode='overwrite'`` may lay an existing one out anew.

        With a contract on the branch, the data must satisfy it: ``on_violation='reject'``
        (the default) commits nothing and raises :class:`ContractViolationError`;
        ``'quarantine'`` commits the valid rows and the others to ``<dataset>__quarantine``.
        ``progress``: called with a :class:`lake.progress.Progress` as slices or files are written."""
        with self.transaction(message=message or f"{mode} {dataset}", author=author, metadata=metadata) as tx:
            tx.write(
                dataset,
                data,
                mode=mode,
                schema_mode=schema_mode,
                on_violation=on_violation,
                replace_where=replace_where,
                partition_by=partition_by,
            )
        return tx.result

    def delete(
        self,
        dataset: str,
        where: str,
        *,
        message: str | None = None,
        author: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> WriteResult:
        """Delete the rows for which the SQL predicate ``where`` is true: one commit."""
        with self.transaction(
            message=message or f"delete from {dataset} where {where}", author=author, metadata=metadata
        ) as tx:
            tx.delete(dataset, where)
        return tx.result

    def upsert(
        self,
        dataset: str,
        data: Any,
        *,
        key: Sequence[str],
        schema_mode: SchemaMode = "strict",
        on_violation: OnViolation = "reject",
        message: str | None = None,
        author: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> WriteResult:
        """Update the rows whose ``key`` matches ``data`` and insert the rest: one commit."""
        with self.transaction(message=message or f"upsert {dataset}", author=author, metadata=metadata) as tx:
            tx.upsert(dataset, data, key=key, schema_mode=schema_mode, on_violation=on_violation)
        return tx.result

    def set_contract(
        self,
        dataset: str,
        contract: Contract | str | Path,
        *,
        message: str | None = None,
        author: str | None = None,
    ) -> WriteResult:
        """Commit ``contract`` (a Contract, a YAML file path or YAML text) for ``dataset``.
        From then on every write of the dataset on this branch is checked against it."""
        check_dataset_name(dataset)
        if not isinstance(contract, Contract):
            contract = Contract.from_yaml(contract)
        if contract.dataset != dataset:
            raise InvalidInputError(
                f"the contract is for dataset {contract.dataset!r}, not {dataset!r}",
                hint="change its 'dataset:' line, or set it on the dataset it names",
            )
        ctx = self.repo.write_context
        snap = ctx.commits.get(self.head).datasets.get(dataset)
        if snap is not None:
            # the rows the branch holds must keep the contract they are put under
            report = validate_snapshot(ctx.layers, dataset, snap, contract)
            found = references_of(ctx.layers, dataset, contract, ctx.commits.get(self.head).datasets)
            report = replace(report, results=(*report.results, *found))
            if not report.ok:
                raise ContractViolationError([report])
        key = ctx.contracts.put(contract)
        kill.point("contract.stored")
        return self.commit(
            [SetContract(dataset, key)],
            message=message or f"set contract of {dataset} ({key[:12]})",
            author=author,
            metadata={"lake.contract": key},
        )

    def transaction(
        self, *, message: str, author: str | None = None, metadata: Mapping[str, Any] | None = None
    ) -> Transaction:
        """A :class:`Transaction` on this branch, for a ``with`` block: the writes, deletes and
        upserts made in it become one commit (with ``message``, ``author`` and ``metadata``) when
        the block exits cleanly. An exception in the block, or a block that wrote nothing, commits
        nothing."""
        return Transaction(self, message=message, author=author, metadata=metadata)


class Transaction:
    """Groups writes to several datasets into one commit, made only when the block exits cleanly."""

    def __init__(
        self, branch: Branch, *, message: str, author: str | None, metadata: Mapping[str, Any] | None
    ) -> None:
        self.branch = branch
        self.message = message
        self.author = author
        self.metadata = metadata
        self._ops: list[Op] = []
        self._result: WriteResult | None = None

    @property
    def ops(self) -> tuple[Op, ...]:
        """The operations the transaction will commit, in order."""
        return tuple(self._ops)

    @property
    def result(self) -> WriteResult:
        """The :class:`WriteResult` of the commit the block made. Raises :class:`RefusedError`
        while there is none: before the block exits, or after one that failed or wrote nothing."""
        if self._result is None:
            raise RefusedError("the transaction has not committed")
        return self._result

    def write(
        self,
        dataset: str,
        data: Any,
        *,
        mode: Literal["append", "overwrite"] = "append",
        schema_mode: SchemaMode = "strict",
        on_violation: OnViolation = "reject",
        replace_where: str | None = None,
        partition_by: Sequence[str] | None = None,
    ) -> None:
        """Add a write of ``data`` to ``dataset``, with the options of :meth:`Branch.write`: it is
        planned, checked against the contract and committed with the rest of the block when the
        block exits. A stream (a RecordBatchReader, a pyarrow Dataset, a polars LazyFrame, an
        iterable of record batches) is read only then, slice by slice; other data, and any data
        with ``replace_where``, is taken in now. A bad dataset name, mode or option raises
        :class:`InvalidInputError` at once."""
        check_dataset_name(dataset)
        if mode not in ("append", "overwrite"):
            raise InvalidInputError(f"unknown write mode {mode!r}: use 'append' or 'overwrite'")
        check_on_violation(on_violation)
        if replace_where is not None and (mode != "overwrite" or schema_mode == "overwrite"):
            raise InvalidInputError(
                "replace_where replaces some rows of the dataset: it needs mode='overwrite' "
                "and a schema_mode other than 'overwrite'"
            )
        parts = None if partition_by is None else _columns(partition_by)
        # A stream is written slice by slice (lake.write.stream); a replace_where reads its rows whole.
        stream = to_stream(data) if replace_where is None else None
        rows = stream if stream is not None else to_arrow(data)
        if mode == "append":
            self._ops.append(Append(dataset, rows, schema_mode, on_violation, parts))
        else:
            self._ops.append(Overwrite(dataset, rows, schema_mode, on_violation, replace_where, parts))

    def delete(self, dataset: str, where: str) -> None:
        """Add a delete of the rows of ``dataset`` for which the SQL predicate ``where`` is true,
        committed with the rest of the block. A bad dataset name raises :class:`InvalidInputError`
        at once."""
        check_dataset_name(dataset)
        self._ops.append(Delete(dataset, where))

    def upsert(
        self,
        dataset: str,
        data: Any,
        *,
        key: Sequence[str],
        schema_mode: SchemaMode = "strict",
        on_violation: OnViolation = "reject",
    ) -> None:
        """Add an upsert of ``data`` to ``dataset``, with the options of :meth:`Branch.upsert`: the
        rows whose ``key`` matches are updated and the rest inserted, committed with the rest of the
        block. ``data`` is taken in now; a bad dataset name or ``on_violation`` raises
        :class:`InvalidInputError` at once."""
        check_dataset_name(dataset)
        check_on_violation(on_violation)
        self._ops.append(Upsert(dataset, to_arrow(data), tuple(key), schema_mode, on_violation))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None and self._ops:
            self._result = self.branch.commit(
                self._ops, message=self.message, author=self.author, metadata=self.metadata
            )


def _columns(partition_by: Sequence[str]) -> tuple[str, ...]:
    """``partition_by`` as a tuple of names (a single name is one column, not its letters)."""
    names = (partition_by,) if isinstance(partition_by, str) else tuple(partition_by)
    if not all(isinstance(n, str) and n for n in names):
        raise InvalidInputError(f"partition_by takes column names, not {partition_by!r}")
    return names
