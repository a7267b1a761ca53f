"""The commit an attempt of the commit loop builds: the branch's head, as the operations so far
change it (datasets, contracts, rules), and what each operation did."""

from __future__ import annotations

from dataclasses import dataclass, field

from lake.errors import DatasetNotFoundError, RefusedError
from lake.graph.commits import Commit, DatasetChange, Snapshot
from lake.graph.refs import Ref
from lake.table.layers import Layers
from lake.table.views import View
from lake.validation.report import ValidationReport


@dataclass
class Draft:
    layers: Layers
    ref: Ref  # the branch as the attempt found it
    head: Commit  # the commit it pointed at
    own: str  # the layer this branch writes its files to ("" on the default branch)
    merged: str | None = None  # the second parent of a merge
    datasets: dict[str, Snapshot] = field(default_factory=dict)
    contracts: dict[str, str] = field(default_factory=dict)
    changes: dict[str, DatasetChange] = field(default_factory=dict)
    reports: dict[str, ValidationReport] = field(default_factory=dict)
    recontracted: set[str] = field(default_factory=set)  # datasets whose contract the ops set
    rules: dict[str, bool] | None = None  # the branch's rules the ops set (None: they set none)
    _views: dict[str, View] = field(default_factory=dict, repr=False)  # file lists read once

    @classmethod
    def begin(cls, layers: Layers, ref: Ref, head: Commit, own: str, merged: str | None) -> Draft:
        return cls(layers, ref, head, own, merged, dict(head.datasets), dict(head.contracts))

    @property
    def branch(self) -> str:
        return self.ref.name

    def view(self, dataset: str) -> View | None:
        """``dataset`` as the draft holds it (None: the draft has no such dataset)."""
        snap = self.datasets.get(dataset)
        if not snap:
            return None
        seen = self._views.get(dataset)
        if seen is None or seen.snapshot is not snap:
            seen = self._views[dataset] = View(self.layers, dataset, snap)
        return seen

    def existing(self, dataset: str) -> View:
        view = self.view(dataset)
        if view is None:
            raise DatasetNotFoundError(f"no dataset {dataset!r} on branch {self.branch!r}")
        return view

    def set_contract(self, dataset: str, key: str | None) -> None:
        if self.ref.protected and self.merged is None:
            raise RefusedError(
                f"branch {self.branch!r} is protected: its contracts change only by merges",
                hint="set the contract on a branch and merge it: the gate reviews the change",
            )
        self.recontracted.add(dataset)
        if key is None:
            self.contracts.pop(dataset, None)
        else:
            self.contracts[dataset] = key

    def set_rules(self, settings: dict[str, bool]) -> None:
        self.rules = {**(self.rules or {}), **settings}

    def record(self, dataset: str, snapshot: Snapshot | None, done: DatasetChange) -> None:
        """``dataset`` is ``snapshot`` now (None: unchanged), after an operation that did ``done``."""
        if snapshot is not None:
            self.datasets[dataset] = snapshot
        self.changes[dataset] = _fold(self.changes.get(dataset), done)

    @property
    def touched(self) -> set[str]:
        """The datasets whose data or contract the ops changed: a rival commit that changed one
        of them since ``head`` means the work must be redone; others it may rebase onto."""
        return set(self.changes) | self.recontracted

    def unchanged(self) -> bool:
        same_data = all(self.datasets.get(d) == self.head.datasets.get(d) for d in self.changes)
        return same_data and self.contracts == dict(self.head.contracts) and self.rules is None


def _fold(a: DatasetChange | None, b: DatasetChange) -> DatasetChange:
    """Two operations' changes to one dataset, as one."""
    if a is None:
        return b
    return DatasetChange(
        operation=a.operation if a.operation == b.operation else "transaction",
        rows_added=a.rows_added + b.rows_added,
        rows_removed=a.rows_removed + b.rows_removed,
        files_added=a.files_added + b.files_added,
        files_removed=a.files_removed + b.files_removed,
    )
