"""Branches and transactions: the handles ETL jobs write through."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

from lake.contracts import Contract
from lake.errors import InvalidInputError, RefusedError
from lake.graph.names import check_dataset_name
from lake.validation.report import ContractViolationError
from lake.write.ops import OnViolation, Op, check_on_violation, exists
from lake.write.plan import SchemaMode, plan_delete, plan_upsert, plan_write
from lake.write.results import WriteResult

if TYPE_CHECKING:
    from lake.repository import Repository


class Branch:
    """A branch of a repository: the handle ETL jobs write through."""

    def __init__(self, repo: Repository, name: str) -> None:
        self.repo = repo
        self.name = name

    def __repr__(self) -> str:
        return f"Branch({self.name!r} of {self.repo.uri})"

    @property
    def head(self) -> str:
        return self.repo.resolve(f"refs/heads/{self.name}")

    def _run(
        self, ops: Sequence[Op], *, message: str, author: str | None, metadata: Mapping[str, Any] | None
    ) -> WriteResult:
        self.repo._refuse_case_clash(self.name, [op.dataset for op in ops])
        return self.repo._run(self.name, ops, message=message, author=author, metadata=metadata)

    def write(
        self,
        dataset: str,
        data: Any,
        *,
        mode: Literal["append", "overwrite"] = "append",
        schema_mode: SchemaMode = "strict",
        on_violation: OnViolation = "reject",
        message: str | None = None,
        author: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> WriteResult:
        """Append ``data`` to ``dataset`` (created on first write) or overwrite it: one commit.

        With a contract on the branch, the data must satisfy it: ``on_violation='reject'``
        (the default) commits nothing and raises :class:`ContractViolationError`;
        ``'quarantine'`` commits the valid rows and the others to ``<dataset>__quarantine``."""
        with self.transaction(message=message or f"{mode} {dataset}", author=author, metadata=metadata) as tx:
            tx.write(dataset, data, mode=mode, schema_mode=schema_mode, on_violation=on_violation)
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
        if dataset in self.repo._commits.get(self.head).datasets:
            # the rows the branch holds must keep the contract they are put under
            report = self.repo._validate_dataset(dataset, self.name, contract)
            if not report.ok:
                raise ContractViolationError([report])
        key = self.repo._contracts.put(contract)
        return self.repo._run(
            self.name,
            [],
            message=message or f"set contract of {dataset} ({key[:12]})",
            author=author,
            metadata={"lake.contract": key},
            contract_updates={dataset: key},
        )

    def transaction(
        self, *, message: str, author: str | None = None, metadata: Mapping[str, Any] | None = None
    ) -> Transaction:
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
    def result(self) -> WriteResult:
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
    ) -> None:
        check_dataset_name(dataset)
        if mode not in ("append", "overwrite"):
            raise InvalidInputError(f"unknown write mode {mode!r}: use 'append' or 'overwrite'")
        check_on_violation(on_violation)
        self._ops.append(
            Op(
                dataset,
                lambda view, table: plan_write(view, table, mode=mode, schema_mode=schema_mode),
                data=data,
                quarantine=on_violation == "quarantine",
            )
        )

    def delete(self, dataset: str, where: str) -> None:
        check_dataset_name(dataset)
        self._ops.append(
            Op(dataset, lambda view, _t: plan_delete(exists(view, dataset), where), needs_data=False)
        )

    def upsert(
        self,
        dataset: str,
        data: Any,
        *,
        key: Sequence[str],
        schema_mode: SchemaMode = "strict",
        on_violation: OnViolation = "reject",
    ) -> None:
        check_dataset_name(dataset)
        check_on_violation(on_violation)
        self._ops.append(
            Op(
                dataset,
                lambda view, table: plan_upsert(view, table, key, schema_mode=schema_mode),
                data=data,
                quarantine=on_violation == "quarantine",
            )
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None and self._ops:
            self._result = self.branch._run(
                self._ops, message=self.message, author=self.author, metadata=self.metadata
            )
