"""Differences between two commits: per dataset, the files and rows added and removed, and
the schema changes as a closed set of small dataclasses (as sqlglot's diff does for trees).

Where both commits hold a dataset in the same layers, only the Delta log entries between the two
versions are read, so the cost follows the changes, not the size of the tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote

from lake.graph.commits import Layer, Snapshot
from lake.table.deltalog import read_versions, removed_rows, rows_of
from lake.table.layers import DataFile, Layers
from lake.table.views import FileRef, View


@dataclass(frozen=True)
class ColumnAdded:
    """A column the target has and the base lacks, with its Delta type and nullability."""

    name: str
    type: str
    nullable: bool

    def describe(self) -> str:
        """One line, as ``lake diff`` shows it: ``+ name type``, with ``not null`` when it is."""
        return f"+ {self.name} {self.type}{'' if self.nullable else ' not null'}"


@dataclass(frozen=True)
class ColumnDropped:
    """A column the base has and the target lacks, with its Delta type in the base."""

    name: str
    type: str

    def describe(self) -> str:
        """One line, as ``lake diff`` shows it: ``- name type``."""
        return f"- {self.name} {self.type}"


@dataclass(frozen=True)
class TypeChanged:
    """A column whose Delta type differs: ``old`` in the base, ``new`` in the target."""

    name: str
    old: str
    new: str

    def describe(self) -> str:
        """One line, as ``lake diff`` shows it: ``~ name old -> new``."""
        return f"~ {self.name} {self.old} -> {self.new}"


@dataclass(frozen=True)
class NullabilityChanged:
    """A column that became nullable (``nullable`` True) or not null (False) in the target."""

    name: str
    nullable: bool

    def describe(self) -> str:
        """One line, as ``lake diff`` shows it: ``~ name nullable`` or ``~ name not null``."""
        return f"~ {self.name} {'nullable' if self.nullable else 'not null'}"


SchemaDelta = ColumnAdded | ColumnDropped | TypeChanged | NullabilityChanged


def _type_name(t: Any) -> str:
    return t if isinstance(t, str) else str(t.get("type", t))


def schema_diff(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> tuple[SchemaDelta, ...]:
    before = {f["name"]: f for f in (old or {}).get("fields", [])}
    after = {f["name"]: f for f in (new or {}).get("fields", [])}
    out: list[SchemaDelta] = []
    for name, f in after.items():
        if name not in before:
            out.append(ColumnAdded(name, _type_name(f["type"]), bool(f.get("nullable", True))))
            continue
        g = before[name]
        if f["type"] != g["type"]:
            out.append(TypeChanged(name, _type_name(g["type"]), _type_name(f["type"])))
        if bool(f.get("nullable", True)) != bool(g.get("nullable", True)):
            out.append(NullabilityChanged(name, bool(f.get("nullable", True))))
    out.extend(ColumnDropped(n, _type_name(g["type"])) for n, g in before.items() if n not in after)
    return tuple(out)


@dataclass(frozen=True)
class DatasetDiff:
    """How one dataset differs between two commits: ``status`` (``added``, ``removed`` or
    ``modified``), the data files added and removed and the rows they hold (a rewritten file's
    rows count as removed and added again), and the schema changes, one :data:`SchemaDelta` each."""

    dataset: str
    status: Literal["added", "removed", "modified"]
    rows_added: int
    rows_removed: int
    files_added: int
    files_removed: int
    schema_changes: tuple[SchemaDelta, ...]

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-ready data; each schema change with its ``kind`` (the class name),
        its fields and its ``text`` (:meth:`describe`)."""
        return {
            "dataset": self.dataset,
            "status": self.status,
            "rows_added": self.rows_added,
            "rows_removed": self.rows_removed,
            "files_added": self.files_added,
            "files_removed": self.files_removed,
            "schema_changes": [
                {"kind": type(c).__name__, **c.__dict__, "text": c.describe()} for c in self.schema_changes
            ],
        }


@dataclass(frozen=True)
class Diff:
    """What :meth:`Repository.diff` returns: the two commits compared (``base`` and ``target``,
    as full ids) and a :class:`DatasetDiff` for each dataset that differs, by name."""

    base: str
    target: str
    datasets: tuple[DatasetDiff, ...]

    def to_dict(self) -> dict[str, Any]:
        """The two commit ids and each dataset's differences."""
        return {"base": self.base, "target": self.target, "datasets": [d.to_dict() for d in self.datasets]}


FileChanges = tuple[dict[str, FileRef], dict[str, FileRef]]


def file_changes(layers: Layers, dataset: str, a: Snapshot | None, b: Snapshot | None) -> FileChanges:
    """(files in ``b`` not in ``a``, files in ``a`` not in ``b``), keyed by dataset-relative path."""
    if a is not None and b is not None:
        fast = _from_logs(layers, dataset, a, b)
        if fast is not None:
            return fast
    fa = View(layers, dataset, a).files if a is not None else {}
    fb = View(layers, dataset, b).files if b is not None else {}
    return ({p: r for p, r in fb.items() if p not in fa}, {p: r for p, r in fa.items() if p not in fb})


def _from_logs(layers: Layers, dataset: str, a: Snapshot, b: Snapshot) -> FileChanges | None:
    la = {lay.path: lay.version for lay in a.layers}
    lb = {lay.path: lay.version for lay in b.layers}
    if len(la) != len(a.layers) or len(lb) != len(b.layers):
        return None  # a layer stacked at two versions (after a merge): compare file lists
    # path -> (present in a's layer, present in b's layer, file)
    states: dict[str, tuple[bool, bool, FileRef]] = {}
    # A layer on one side only (a branch's own layer, against main) holds that side's changes.
    for only, in_a in ((la.keys() - lb.keys(), True), (lb.keys() - la.keys(), False)):
        for layer_path in only:
            version = la[layer_path] if in_a else lb[layer_path]
            for f in layers.files(dataset, Layer(layer_path, version)).values():
                ref = FileRef(layer_path, f, version)
                states[ref.path] = (in_a, not in_a, ref)
    for layer_path in la.keys() & lb.keys():
        va, vb = la[layer_path], lb[layer_path]
        if va == vb:
            continue
        lo, hi = min(va, vb), max(va, vb)
        entries = read_versions(layers.store, layers.key(dataset, layer_path, ""), lo, hi)
        if entries is None:
            return None
        first: dict[str, bool] = {}  # path -> present before the range
        last: dict[str, tuple[bool, DataFile]] = {}
        known_rows: dict[str, int] = {}
        for logged in entries:
            recorded = removed_rows(logged.info) or {}
            # A version adds and removes different files, so removes before adds is its order.
            actions = [("remove", r) for r in logged.removes] + [("add", a) for a in logged.adds]
            for kind, action in actions:
                if kind == "add":
                    add = action
                    p = unquote(str(add["path"]))  # the storage key, as Layers.files names files
                    added_rows = rows_of(add)
                    if added_rows is None:
                        return None  # an add without a row count (a foreign writer's): count files instead
                    f = DataFile(
                        p,
                        int(add["size"]),
                        added_rows,
                        int(add.get("modificationTime", 0)),
                        add.get("stats") or "{}",
                        _partition(add),
                    )
                    first.setdefault(p, False)
                    last[p] = (True, f)
                    known_rows[p] = f.rows
                else:
                    rm = action
                    p = unquote(str(rm["path"]))
                    first.setdefault(p, True)
                    rows = recorded.get(p, known_rows.get(p))
                    if rows is None:
                        return None  # a remove written by a foreign writer: no row count to hand
                    seen_add = last.get(p)
                    part = _partition(rm) or (seen_add[1].partition if seen_add else ())
                    f = DataFile(p, int(rm.get("size") or 0), rows, 0, "{}", part)
                    last[p] = (False, f)
        for p, before in first.items():
            after, f = last[p]
            ref = FileRef(layer_path, f, hi if after else lo)
            at_a, at_b = (before, after) if va < vb else (after, before)
            # main's layer may hold a branch's file by reference (after a merge): a file is on a
            # side if any of that side's layers holds it.
            seen = states.get(ref.path)
            if seen is not None:
                at_a, at_b = at_a or seen[0], at_b or seen[1]
            states[ref.path] = (at_a, at_b, ref)
    for p in set(a.shadowed) ^ set(b.shadowed):
        if p not in states:
            rows = a.shadowed.get(p, b.shadowed.get(p, 0))
            layer_path = next((lp for lp in la.keys() | lb.keys() if lp and p.startswith(lp + "/")), "")
            rel = p.removeprefix(layer_path + "/") if layer_path else p
            states[p] = (True, True, FileRef(layer_path, DataFile(rel, 0, rows, 0, "{}")))
    added: dict[str, FileRef] = {}
    removed: dict[str, FileRef] = {}
    for p, (in_a, in_b, ref) in states.items():
        in_a = in_a and p not in a.shadowed
        in_b = in_b and p not in b.shadowed
        if in_b and not in_a:
            added[p] = ref
        elif in_a and not in_b:
            removed[p] = ref
    return added, removed


def dataset_diff(layers: Layers, dataset: str, a: Snapshot | None, b: Snapshot | None) -> DatasetDiff:
    added, removed = file_changes(layers, dataset, a, b)
    status: Literal["added", "removed", "modified"] = (
        "added" if a is None else "removed" if b is None else "modified"
    )
    return DatasetDiff(
        dataset=dataset,
        status=status,
        rows_added=sum(r.file.rows for r in added.values()),
        rows_removed=sum(r.file.rows for r in removed.values()),
        files_added=len(added),
        files_removed=len(removed),
        schema_changes=schema_diff(a.schema if a else None, b.schema if b else None),
    )


def _partition(action: Mapping[str, Any]) -> tuple[tuple[str, str | None], ...]:
    """A logged action's partition values, as :class:`DataFile` keeps them."""
    values = action.get("partitionValues") or {}
    return tuple((str(k), None if v is None else str(v)) for k, v in values.items())
