"""Reverting one commit's change to one dataset, row by row: what undoing it does to the
dataset as a branch holds it now, however later commits rewrote the commit's files.

The commit's change is read from its own files: the rows of the files it added (at its version)
less the rows of the files it removed (at its parent's), counted as multisets, so that the rows
a rewrite carried over cancel out. What is left is what the commit *added* and what it *removed*.

* **With a primary key** (the contract in force has one), each key the commit changed is
  judged as a three-way merge with the commit as base: the branch now holds the key as the
  commit left it (revert it: remove those rows, bring back the ones it removed), as it was
  before the commit (already undone: nothing to do), or otherwise (a later commit changed the
  same row: a conflict, which the strategy decides: ``fail`` refuses, ``revert-wins`` brings
  the rows before the commit back anyway, ``current-wins`` keeps the branch's rows).
* **Without one**, rows are whole values: of each row the commit added ``n`` times, up to ``n``
  copies still present are removed; every row it removed comes back. A row changed later is a
  different row, so there is nothing to conflict.

Only the commit's own files and, of the branch's files, those whose statistics may hold the
rows in question are read. When the branch still holds every file the commit added and none it
removed (nothing rewrote them since), and no key the commit removed is back, the revert is
done by reference: the files it added go, the files it removed come back, no data is copied.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl
import pyarrow as pa

from lake.graph.commits import Snapshot
from lake.table.change import Change
from lake.table.diff import file_changes
from lake.table.frames import arrow_schema, conform
from lake.table.keys import FILE, collect, files_named
from lake.table.layers import Layers
from lake.table.threeway import MAX_KEYS, Conflict, KeyConflict
from lake.table.views import FileRef, View, read_files

RevertStrategy = Literal["fail", "revert-wins", "current-wins"]
STRATEGIES: tuple[RevertStrategy, ...] = ("fail", "revert-wins", "current-wins")

_N = "__lake_copy__"  # numbers the copies of one row value, to count duplicates in joins
_WANT = "__lake_want__"
_GO = "__lake_go__"


@dataclass
class RevertPlan:
    """What reverting does to one dataset: ``change`` (None: refused for ``conflicts``)."""

    dataset: str
    change: Change | None
    conflicts: list[Conflict] = field(default_factory=list)
    by_reference: bool = False  # the files were swapped back; no row was read or copied


def plan_revert_rows(
    layers: Layers,
    name: str,
    before: Snapshot | None,
    after: Snapshot,
    view: View,
    *,
    key: Sequence[str],
    strategy: RevertStrategy,
    label: str,
) -> RevertPlan:
    """Undo, in ``view``, what changed ``name`` from ``before`` (the commit's parent; None: the
    commit created it) to ``after`` (the commit). ``key`` is the primary key (may be empty),
    ``label`` names the commit in conflicts."""
    added, removed = _file_changes(layers, name, before, after)
    commit_schema = arrow_schema(after.schema)
    on = list(key) if key and all(k in commit_schema.names and k in view.schema.names for k in key) else []
    rows = _CommitRows(layers, name, commit_schema, added, removed)
    present = view.files
    intact = all(p in present for p in added) and not any(p in present for p in removed)
    if intact and (not on or not removed or not _back_again(view, rows, on, set(added))):
        return RevertPlan(name, _by_reference(view, added, removed), by_reference=True)
    if on:
        return _by_key(view, rows, on, strategy, label)
    return RevertPlan(name, _by_value(view, rows))


def _file_changes(
    layers: Layers, name: str, before: Snapshot | None, after: Snapshot
) -> tuple[dict[str, FileRef], dict[str, FileRef]]:
    """(files ``after`` holds that ``before`` does not, and the reverse), by path. The Delta logs
    tell it when both stack the same layers; otherwise (a merge commit against its second
    parent: the parent's branch layer, referenced from main's) the file lists are compared,
    because a file one side holds in its own layer the other may hold by reference."""
    if before is not None and {x.path for x in before.layers} == {x.path for x in after.layers}:
        return file_changes(layers, name, before, after)
    had = View(layers, name, before).files if before is not None else {}
    has = View(layers, name, after).files
    return {p: r for p, r in has.items() if p not in had}, {p: r for p, r in had.items() if p not in has}


class _CommitRows:
    """The rows a commit added and removed, read once, when first needed."""

    def __init__(
        self,
        layers: Layers,
        name: str,
        schema: pa.Schema,
        added: Mapping[str, FileRef],
        removed: Mapping[str, FileRef],
    ) -> None:
        self.layers, self.name, self.schema = layers, name, schema
        self.added, self.removed = list(added.values()), list(removed.values())
        self._net: tuple[pl.DataFrame, pl.DataFrame] | None = None

    def _read(self, refs: list[FileRef]) -> pl.DataFrame:
        frame = pl.from_arrow(read_files(self.layers, self.name, refs, self.schema))
        assert isinstance(frame, pl.DataFrame)
        return frame

    def net(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(rows added, rows removed), in the commit's schema, less the rows carried over."""
        if self._net is None:
            new, old = self._read(self.added), self._read(self.removed)
            cols = self.schema.names
            self._net = (_less(new, old, cols), _less(old, new, cols))
        return self._net

    def fitted(self, schema: pa.Schema) -> tuple[pl.DataFrame, pl.DataFrame]:
        """:meth:`net`, cast to the dataset's schema now (columns added since read as null,
        columns dropped since are left out)."""
        return _fit(self.net()[0], schema), _fit(self.net()[1], schema)


def _numbered(frame: pl.DataFrame, cols: list[str]) -> pl.DataFrame:
    """``frame`` with its copies of each row value numbered 0, 1, ... (a window over every
    column is slow: where no row repeats, and with a primary key none does, each is copy 0)."""
    if not frame.height or frame.n_unique(subset=cols) == frame.height:
        return frame.with_columns(pl.lit(0, pl.Int64).alias(_N))
    return frame.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).over(cols).alias(_N))


def _less(a: pl.DataFrame, b: pl.DataFrame, cols: list[str]) -> pl.DataFrame:
    """The multiset ``a - b`` of whole rows (a row twice in ``a`` and once in ``b``: once)."""
    if not a.height or not b.height:
        return a
    return _numbered(a, cols).join(_numbered(b, cols), on=[*cols, _N], how="anti", nulls_equal=True).drop(_N)


def _fit(frame: pl.DataFrame, schema: pa.Schema) -> pl.DataFrame:
    table = frame.select([c for c in frame.columns if c in schema.names]).to_arrow()
    fitted = pl.from_arrow(conform(table, schema, allow_new_columns=False)[0])
    assert isinstance(fitted, pl.DataFrame)
    return fitted


def _by_reference(view: View, added: Mapping[str, FileRef], removed: Mapping[str, FileRef]) -> Change:
    present = view.files
    gone = [present[p] for p in added]
    back = list(removed.values())
    return Change(
        "revert",
        view.schema,
        remove=gone,
        restore=back,
        rows_added=sum(r.file.rows for r in back),
        rows_removed=sum(r.file.rows for r in gone),
    )


def _range(series: pl.Series) -> tuple[Any, Any]:
    """The bounds to prune files by, or (None, None) where statistics cannot decide: a column
    holding nulls (a file's bounds say nothing of its nulls) or of a type without order."""
    if series.null_count() or not series.len():
        return None, None
    try:
        return series.min(), series.max()
    except Exception:  # a nested or unordered type
        return None, None


def _holding(view: View, probe: pl.DataFrame, on: list[str], *, skip: Collection[str] = ()) -> list[FileRef]:
    """The files of ``view`` (less ``skip``) holding a row whose columns ``on`` equal a row of
    ``probe``. Only files whose statistics may hold the values are read, and of those only
    the columns ``on``."""
    ranges = {c: _range(probe[c]) for c in on}
    candidates = [
        r
        for r in view.files.values()
        if r.path not in skip and all(r.may_hold(c, lo, hi) for c, (lo, hi) in ranges.items())
    ]
    if not candidates or not probe.height:
        return []
    scan = view.scan(candidates, file_column=FILE).select([*on, FILE])
    hits = collect(
        scan.join(probe.select(on).unique().lazy(), on=on, how="semi", nulls_equal=True).group_by(FILE).len(),
        "the rows to revert",
        view,
    )
    return files_named(view, hits)


def _back_again(view: View, rows: _CommitRows, on: list[str], added: set[str]) -> bool:
    """Whether a key the commit removed is on the branch again, outside the commit's own files."""
    _, removed = rows.fitted(view.schema)
    return bool(_holding(view, removed.select(on), on, skip=added))


def _current(view: View, refs: list[FileRef]) -> pl.DataFrame:
    """The rows of ``refs``, each with the :data:`FILE` it is in."""
    schema = pl.from_arrow(view.schema.empty_table()).schema  # type: ignore[union-attr]
    if not refs:
        return pl.DataFrame(schema=schema).with_columns(pl.lit(None, pl.String).alias(FILE))
    return collect(view.scan(refs, file_column=FILE), "the rows to revert", view)


def _data(frames: Sequence[pl.DataFrame], schema: pa.Schema) -> pa.Table | None:
    parts = [f.select(schema.names) for f in frames if f.height]
    if not parts:
        return None
    return conform(pl.concat(parts, how="vertical_relaxed").to_arrow(), schema, allow_new_columns=False)[0]


def _by_value(view: View, rows: _CommitRows) -> Change:
    """Without a key: remove as many copies of each added row as it added (those still here),
    bring back every row it removed."""
    cols = view.schema.names
    plus, minus = rows.fitted(view.schema)
    refs = _holding(view, plus, cols) if plus.height else []
    here = _current(view, refs)
    want = plus.group_by(cols).agg(pl.len().alias(_WANT))
    judged = (
        _numbered(here, cols)
        .join(want, on=cols, how="left", nulls_equal=True)
        .with_columns((pl.col(_N) < pl.col(_WANT).fill_null(0)).alias(_GO))
    )
    gone = judged.filter(pl.col(_GO))
    files = set(gone[FILE].to_list())
    kept = judged.filter(~pl.col(_GO) & pl.col(FILE).is_in(list(files)))
    rewritten = [r for r in refs if view.uri(r) in files]
    return Change(
        "revert",
        view.schema,
        data=_data([kept, minus], view.schema),
        remove=rewritten,
        rows_added=minus.height,
        rows_removed=gone.height,
    )


def _mismatched(x: pl.DataFrame, y: pl.DataFrame, on: list[str], cols: list[str]) -> pl.DataFrame:
    """The keys whose rows differ between ``x`` and ``y`` (as multisets of whole rows)."""
    nx, ny = _numbered(x.select(cols), cols), _numbered(y.select(cols), cols)
    only_x = nx.join(ny, on=[*cols, _N], how="anti", nulls_equal=True).select(on)
    only_y = ny.join(nx, on=[*cols, _N], how="anti", nulls_equal=True).select(on)
    return pl.concat([only_x, only_y]).unique()


def _by_key(view: View, rows: _CommitRows, on: list[str], strategy: RevertStrategy, label: str) -> RevertPlan:
    name = view.dataset
    cols = view.schema.names
    plus, minus = rows.fitted(view.schema)
    keys = pl.concat([plus.select(on), minus.select(on)]).unique()
    refs = _holding(view, keys, on)
    here = _current(view, refs)
    now = here.join(keys, on=on, how="semi", nulls_equal=True)
    as_left = keys.join(_mismatched(now, plus, on, cols), on=on, how="anti", nulls_equal=True)
    undone = keys.join(_mismatched(now, minus, on, cols), on=on, how="anti", nulls_equal=True)
    clash = keys.join(as_left, on=on, how="anti", nulls_equal=True).join(
        undone, on=on, how="anti", nulls_equal=True
    )
    conflicts = [_conflict(name, clash, now, minus, on, cols, label)] if clash.height else []
    if conflicts and strategy == "fail":
        return RevertPlan(name, None, conflicts)
    chosen = pl.concat([as_left, clash]) if strategy == "revert-wins" else as_left
    going = now.join(chosen, on=on, how="semi", nulls_equal=True)
    files = set(going[FILE].to_list())
    kept = here.filter(pl.col(FILE).is_in(list(files))).join(chosen, on=on, how="anti", nulls_equal=True)
    back = minus.join(chosen, on=on, how="semi", nulls_equal=True)
    change = Change(
        "revert",
        view.schema,
        data=_data([kept, back], view.schema),
        remove=[r for r in refs if view.uri(r) in files],
        rows_added=back.height,
        rows_removed=going.height,
    )
    return RevertPlan(name, change, conflicts)


def _conflict(
    name: str,
    clash: pl.DataFrame,
    now: pl.DataFrame,
    minus: pl.DataFrame,
    on: list[str],
    cols: list[str],
    label: str,
) -> Conflict:
    other = [c for c in cols if c not in on]

    def row_of(frame: pl.DataFrame, k: dict[str, Any]) -> dict[str, Any] | None:
        match = frame.join(pl.DataFrame([k], schema={c: frame.schema[c] for c in on}), on=on, how="semi")
        return {c: match[c][0] for c in other} if match.height else None

    keys = tuple(
        KeyConflict(k, row_of(minus, k), row_of(now, k)) for k in clash.sort(on).head(MAX_KEYS).to_dicts()
    )
    return Conflict(
        name,
        f"later commits changed {clash.height} row(s) that {label} changed; reverting would "
        f"overwrite them (source: the row before {label}, target: the row now; none: no row)",
        keys=keys,
        more_keys=max(0, clash.height - MAX_KEYS),
    )
