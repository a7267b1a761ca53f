"""Three-way merge of one dataset: what merging a source snapshot into a target snapshot does,
against their base snapshot, given a primary key and a strategy.

* one side changed it, the other did not: take that side's snapshot;
* both changed it, and the files each removed are disjoint (both only appended, or they
  rewrote different files): the target's files, less what the source removed, plus what the
  source added — by reference, no data copied;
* both removed the same base file: a conflict at file level. With a primary key it is refined
  to rows: the keys each side changed; keys both changed to different values are conflicts,
  the rest merge row by row (only the rows of the files both rewrote are written again).

Strategies decide conflicts: ``fail`` (default) refuses, ``source-wins`` and ``target-wins``
take one side's version of each conflicting key (without a primary key: of the dataset).

This is the table layer's business (snapshots, files, rows); which key a dataset has, which
contracts and rules the merged commit holds, is :mod:`lake.merge`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl
import pyarrow as pa

from lake.graph.commits import Snapshot
from lake.table.change import Change
from lake.table.diff import file_changes, schema_diff
from lake.table.frames import arrow_schema, conform
from lake.table.keys import rewrite_keys
from lake.table.layers import Layers
from lake.table.views import FileRef, View

Strategy = Literal["fail", "source-wins", "target-wins"]
MAX_KEYS = 10


@dataclass(frozen=True)
class KeyConflict:
    key: Mapping[str, Any]
    source: Mapping[str, Any] | None  # None: the source deleted the row
    target: Mapping[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {"key": dict(self.key), "source": self.source, "target": self.target}


@dataclass(frozen=True)
class Conflict:
    dataset: str
    reason: str
    files: tuple[str, ...] = ()
    keys: tuple[KeyConflict, ...] = ()
    more_keys: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "reason": self.reason,
            "files": list(self.files),
            "keys": [k.to_dict() for k in self.keys],
            "more_keys": self.more_keys,
        }

    def describe(self) -> str:
        text = f"{self.dataset}: {self.reason}"
        if self.files:
            text += f" (files: {', '.join(self.files[:5])}{' ...' if len(self.files) > 5 else ''})"
        for k in self.keys:
            text += f"\n    key {dict(k.key)}: source {k.source} / target {k.target}"
        if self.more_keys:
            text += f"\n    ... and {self.more_keys} more keys"
        return text


@dataclass
class DatasetPlan:
    """What merging does to one dataset of the target."""

    dataset: str
    action: Literal["keep", "take", "merge"]
    change: Change | None = None  # for "take" and "merge": applied to the target's view
    conflicts: list[Conflict] = field(default_factory=list)
    key: tuple[str, ...] = ()  # the primary key the rows were merged by (when both sides rewrote files)


def plan_dataset(
    layers: Layers,
    name: str,
    base: Snapshot | None,
    source: Snapshot | None,
    target: Snapshot | None,
    *,
    primary_key: Sequence[str],
    strategy: Strategy,
) -> DatasetPlan:
    """What merging ``source`` into ``target`` (both descended from ``base``) does to the
    dataset ``name``; ``primary_key`` (may be empty) refines file conflicts to rows."""
    plan = _plan(layers, name, base, source, target, list(primary_key), strategy)
    plan.key = tuple(primary_key)
    return plan


def _plan(
    layers: Layers,
    name: str,
    base: Snapshot | None,
    source: Snapshot | None,
    target: Snapshot | None,
    primary_key: list[str],
    strategy: Strategy,
) -> DatasetPlan:
    if source == base or source == target:
        return DatasetPlan(name, "keep")
    tview = View(layers, name, target) if target is not None else None
    if source is not None and target is None and base is None:
        return DatasetPlan(name, "take", _take(layers, name, None, None, source))  # new on the source
    if source is None or target is None:
        return DatasetPlan(
            name, "keep", conflicts=[Conflict(name, "one side dropped the dataset, the other changed it")]
        )
    if target == base:
        return DatasetPlan(name, "take", _take(layers, name, target, tview, source))
    # both sides changed the dataset
    if source.partition_by != target.partition_by:
        why = (
            f"the source partitions it by {list(source.partition_by)}, "
            f"the target by {list(target.partition_by)}"
        )
        return DatasetPlan(name, "keep", conflicts=[Conflict(name, why)])
    schema, problem = _merge_schema(base, source, target)
    if problem:
        return DatasetPlan(name, "keep", conflicts=[Conflict(name, problem)])
    s_add, s_rem = file_changes(layers, name, base, source)
    t_add, t_rem = file_changes(layers, name, base, target)
    both = sorted(set(s_rem) & set(t_rem))
    assert tview is not None
    if not both:
        # What the source removed from the base is still in the target unless the target removed
        # it too; what the source added is new to the target unless the target already has it.
        # Both follow from the two diffs, so the target's whole file list is never read.
        change = Change(
            "merge",
            schema,
            "add" if schema != tview.schema else None,
            remove=[r for p, r in s_rem.items() if p not in t_rem],
            restore=[r for p, r in s_add.items() if p not in t_add],
            rows_added=sum(r.file.rows for r in s_add.values()),
            rows_removed=sum(r.file.rows for r in s_rem.values()),
        )
        return DatasetPlan(name, "merge", change)
    if not primary_key:
        if strategy == "target-wins":
            return DatasetPlan(name, "keep")
        if strategy == "source-wins":
            return DatasetPlan(name, "take", _take(layers, name, target, tview, source))
        return DatasetPlan(
            name,
            "keep",
            conflicts=[
                Conflict(
                    name,
                    "both sides rewrote or removed the same files, and it has no primary key "
                    "to merge them row by row",
                    files=tuple(both),
                )
            ],
        )
    return _merge_rows(
        layers, name, base, source, target, tview, schema, primary_key, strategy, s_add, s_rem, t_add, t_rem
    )


def _take(layers: Layers, name: str, target: Snapshot | None, tview: View | None, source: Snapshot) -> Change:
    """Make the target's view of ``name`` equal the source's, by reference."""
    added, removed = file_changes(layers, name, target, source)
    schema = arrow_schema(source.schema)
    change_kind = None
    if tview is not None and schema != tview.schema:
        old = tview.schema
        additive = all(f.name in schema.names and schema.field(f.name) == f for f in old)
        change_kind = "add" if additive else "replace"
    if tview is not None and source.partition_by != tview.partition_by:
        change_kind = "replace"  # the table's partition columns change: a new layout, by reference
    change = Change(
        "merge",
        schema,
        change_kind,  # type: ignore[arg-type]
        remove=list(removed.values()),
        restore=list(added.values()),
        rows_added=sum(r.file.rows for r in added.values()),
        rows_removed=sum(r.file.rows for r in removed.values()),
        partition_by=source.partition_by,
    )
    if change_kind == "replace":
        # An overwrite commit removes every file of the layer; the kept ones come back by reference.
        keep = [r for p, r in (tview.files.items() if tview else []) if p not in removed]
        change.restore = [*change.restore, *keep]
        change.remove = [r for r in change.remove if tview is None or r.path in tview.files]
    return change


def _merge_schema(base: Snapshot | None, source: Snapshot, target: Snapshot) -> tuple[pa.Schema, str | None]:
    s_delta = schema_diff(base.schema if base else None, source.schema)
    t_delta = schema_diff(base.schema if base else None, target.schema)
    t_schema = arrow_schema(target.schema)
    if not s_delta:
        return t_schema, None
    s_schema = arrow_schema(source.schema)
    if not t_delta:
        only_added = all(type(d).__name__ == "ColumnAdded" for d in s_delta)
        return (
            (s_schema, None)
            if only_added
            else (s_schema, "the source changed the schema beyond adding columns")
        )
    s_added = {d.name for d in s_delta if type(d).__name__ == "ColumnAdded"}
    t_added = {d.name for d in t_delta if type(d).__name__ == "ColumnAdded"}
    if len(s_added) != len(s_delta) or len(t_added) != len(t_delta):
        return t_schema, "both sides changed the schema, and not only by adding columns"
    if s_added & t_added:
        clash = sorted(c for c in s_added & t_added if s_schema.field(c) != t_schema.field(c))
        if clash:
            return t_schema, f"both sides added the column(s) {', '.join(clash)} with different types"
    merged = t_schema
    for c in s_delta:
        if c.name not in merged.names:
            merged = merged.append(s_schema.field(c.name))
    return merged, None


def _rows(view_layers: Layers, name: str, refs: list[FileRef], snapshot: Snapshot) -> pl.DataFrame:
    view = View(view_layers, name, snapshot)
    frame = pl.from_arrow(view.to_arrow(refs=refs))
    assert isinstance(frame, pl.DataFrame)
    return frame


def _merge_rows(
    layers: Layers,
    name: str,
    base: Snapshot | None,
    source: Snapshot,
    target: Snapshot,
    tview: View,
    schema: pa.Schema,
    key: list[str],
    strategy: Strategy,
    s_add: Mapping[str, FileRef],
    s_rem: Mapping[str, FileRef],
    t_add: Mapping[str, FileRef],
    t_rem: Mapping[str, FileRef],
) -> DatasetPlan:
    """Both sides rewrote the same files: compare them row by row, by primary key."""
    assert base is not None
    cols = schema.names

    def side(
        added: Mapping[str, FileRef], removed: Mapping[str, FileRef], snap: Snapshot
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        new = _rows(layers, name, list(added.values()), snap)
        old = _rows(layers, name, list(removed.values()), base)
        for c in cols:
            if c not in new.columns:
                new = new.with_columns(pl.lit(None).alias(c))
            if c not in old.columns:
                old = old.with_columns(pl.lit(None).alias(c))
        new, old = new.select(cols), old.select(cols)
        # rows present on both sides of the change are carried over, not changed
        changed_new = new.join(old, on=cols, how="anti", nulls_equal=True)
        changed_old = old.join(new, on=cols, how="anti", nulls_equal=True)
        return changed_new, changed_old

    s_new, s_old = side(s_add, s_rem, source)
    t_new, t_old = side(t_add, t_rem, target)
    s_keys = pl.concat([s_new.select(key), s_old.select(key)]).unique()
    t_keys = pl.concat([t_new.select(key), t_old.select(key)]).unique()
    both = s_keys.join(t_keys, on=key, how="inner")
    conflicts: list[KeyConflict] = []
    if both.height:
        s_final = both.join(s_new, on=key, how="left", nulls_equal=True)
        t_final = both.join(t_new, on=key, how="left", nulls_equal=True)
        joined = s_final.join(t_final, on=key, how="inner", suffix="__t", nulls_equal=True)
        other = [c for c in cols if c not in key]
        differs = (
            pl.any_horizontal([~pl.col(c).eq_missing(pl.col(f"{c}__t")) for c in other])
            if other
            else pl.lit(False)
        )
        disagree = joined.filter(differs)
        for row in disagree.head(MAX_KEYS).to_dicts():
            k = {c: row[c] for c in key}
            s_row = {c: row[c] for c in other}
            t_row = {c: row[f"{c}__t"] for c in other}
            gone_s = s_new.join(pl.DataFrame([k]), on=key, how="semi").height == 0
            gone_t = t_new.join(pl.DataFrame([k]), on=key, how="semi").height == 0
            conflicts.append(KeyConflict(k, None if gone_s else s_row, None if gone_t else t_row))
        if disagree.height and strategy == "fail":
            return DatasetPlan(
                name,
                "keep",
                conflicts=[
                    Conflict(
                        name,
                        f"both sides changed {disagree.height} row(s) with the same key differently",
                        keys=tuple(conflicts),
                        more_keys=max(0, disagree.height - MAX_KEYS),
                    )
                ],
            )
    # Apply the source's row changes to the target: rewrite the target files that hold keys the
    # source changed, and add the source's new rows for those keys.
    s_changed = s_keys if strategy != "target-wins" else s_keys.join(both, on=key, how="anti")
    rewrite = rewrite_keys(tview, s_changed, key, what="the primary key")
    incoming = s_new.join(s_changed, on=key, how="semi")
    parts = [p for p in (rewrite.kept, incoming) if p is not None and p.height]
    data = None
    if parts:
        frame = pl.concat([p.select(cols) for p in parts], how="vertical_relaxed")
        data, _ = conform(frame.to_arrow(), schema, allow_new_columns=False)
    change = Change(
        "merge",
        schema,
        "add" if schema != tview.schema else None,
        data=data,
        remove=rewrite.files,
        rows_added=incoming.height,
        rows_removed=s_old.join(s_changed, on=key, how="semi").height,
    )
    return DatasetPlan(name, "merge", change)
