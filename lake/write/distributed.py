"""Writes whose rows are checked and written where they are: on the executors of a cluster
(:mod:`lake.spark`), part by part, while the driver only commits.

A :class:`~lake.table.streams.Distributed` input is a stream the commit loop does not read itself:
its check step (:func:`lake.write.stream.check_stream`) hands the engine a :class:`Job`, and the engine

1. runs :func:`write_part` on every part of its rows, where they are. A part is checked as a
   streamed write checks a slice (cast to the contract, the row rules, quarantine's split), with
   the rules alone (``rows_only``: uniqueness and the dataset-wide checks need every part), and
   its rows are written into rolling files of the branch's layer that nothing references yet; it
   gives back a :class:`PartResult` (its files with their Delta statistics, its report, the keys
   of the rows it set aside);
2. for each uniqueness check of the contract (:meth:`Job.unique_checks`), finds the keys that
   repeat across all the parts, or that the dataset keeps already, as a group-by and a join of
   the keys :func:`read_keys` reads back from the written files (and from the kept files whose
   statistics overlap them): a :class:`Found` per check;
3. with quarantine, has :func:`rewrite_part` rewrite the files that hold such keys, without them
   (they go aside too);

and :meth:`Job.finish` makes of it all the write's one report, judged as a streamed write's is
(the parts' results summed, the dataset-wide checks over everything written), and the
:class:`~lake.write.stream.Streamed` the commit loop commits in one Delta commit. A failure
anywhere commits nothing: the files written are garbage for ``lake gc``. Each step gives the same
verdicts, failing counts and rows set aside as the local engine, which runs the same compiled
rules over the same rows.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl
import pyarrow as pa

from lake.contracts import Contract
from lake.errors import SchemaMismatchError
from lake.graph.names import QUARANTINE_SUFFIX
from lake.storage import StorageConfig, open_store
from lake.stores.summaries import SummaryStore
from lake.table.change import Change
from lake.table.frames import conform
from lake.table.layers import DataFile, Layers
from lake.table.rolling import FileRoller
from lake.table.streams import Stream
from lake.table.views import FileRef, View, read_files
from lake.validation import slices
from lake.validation.compiled import CompiledCheck
from lake.validation.engine import VIOLATIONS, _compiled, _status, add_name, cast_to_contract, count_selected
from lake.validation.engine import _distinct as distinct
from lake.validation.profile import Profile
from lake.validation.report import MAX_SAMPLES, CheckResult, ContractViolationError, ValidationReport
from lake.validation.rows import check_rows
from lake.write.check import (
    Checked,
    SetAside,
    aside_rows,
    broken_checks,
    named_by,
    partitioned_as,
    refuse_reserved,
)
from lake.write.draft import Draft
from lake.write.ops import Append, Overwrite, plan
from lake.write.plan import merge_parameters
from lake.write.stream import Streamed, empty_view, judge_whole, refused, taking

ORDINAL = "_lake_aside"  # of a key set aside: its row's place among the rows its part set aside
FILE = "_lake_file"  # of a key read back: the index of its file in the list read


@dataclass(frozen=True)
class PartTask:
    """What an executor needs to check and write a part: everything in it pickles."""

    config: StorageConfig
    dataset: str
    layer: str  # the branch's own layer
    schema: pa.Schema  # of the dataset's files, as the write plans them
    partition_by: tuple[str, ...]
    contract: Contract | None
    quarantine: bool
    txn: str
    keys: tuple[str, ...]  # of rows set aside, the typed columns the checks over all parts read
    slice_bytes: int
    key: tuple[str, ...] = ()  # an upsert's key (none: a write)

    def layers(self) -> Layers:
        return Layers(self.config, open_store(self.config))


@dataclass(frozen=True)
class PartResult:
    """What one part wrote and found."""

    files: tuple[DataFile, ...] = ()
    aside: tuple[DataFile, ...] = ()  # files of the quarantine dataset's layer
    aside_schema: pa.Schema | None = None
    report: ValidationReport | None = None
    rows: int = 0
    aside_keys: pa.Table | None = None  # the ``keys`` of the rows set aside, with their ORDINAL
    refused: bool = False  # a row-level failure no row can be blamed for: nothing can commit
    selected: dict[str, int] = field(default_factory=dict)  # per scoped uniqueness check: its rows
    spans: dict[str, Span | None] = field(default_factory=dict)  # per uniqueness check: its keys
    profile: dict[str, Any] | None = None  # judged (not written): the rows' profile, as JSON


def write_part(task: PartTask, batches: Iterable[pa.RecordBatch]) -> PartResult:
    """Check and write one part's rows (on the executor that holds them)."""
    batches = iter(batches)
    first = next(batches, None)
    if first is None:  # an empty part
        return PartResult()
    layers = task.layers()
    contract = task.contract
    stream = Stream(itertools.chain([first], batches), first.schema, "part")
    checks = _compiled(contract) if contract is not None else ()
    shares = [c.name for c in checks if c.row_level and c.mostly < 1.0]  # decided over all parts
    tally = KeyTally([*checks, *([key_check(task.key)] if task.key else [])])
    files: list[DataFile] = []
    aside: list[DataFile] = []
    aside_schema: pa.Schema | None = None
    reports: list[ValidationReport] = []
    kept_keys: list[pa.Table] = []
    set_aside = 0
    taken = 0
    try:
        with contextlib.ExitStack() as stack:
            data = stack.enter_context(
                FileRoller(layers, task.dataset, task.layer, partition_by=task.partition_by)
            )
            quarantine = (
                stack.enter_context(FileRoller(layers, task.dataset + QUARANTINE_SUFFIX, task.layer))
                if task.quarantine
                else None
            )
            for raw in stream.slices(task.slice_bytes):
                taken += raw.num_rows
                if contract is None:
                    rows = conform(raw, task.schema, allow_new_columns=False)[0]
                    tally.add(rows)
                    files += data.add(rows)
                    continue
                typed = cast_to_contract(contract, raw)
                rows = conform(typed.table, task.schema, allow_new_columns=False)[0]
                got = check_rows(contract, rows, cast=typed.results, blame=task.quarantine, rows_only=True)
                report = got.report
                tally.add(rows)
                if quarantine is not None and not report.ok:
                    names = broken_checks(typed, rows.num_rows, got)
                    if shares:  # a row breaking a share goes aside if the share fails over all
                        names = names.list.eval(pl.element().filter(~pl.element().is_in(shares)))
                    mask = names.list.len() > 0
                    others = any(r.status == "fail" and r.name not in shares for r in report.results)
                    if others and not bool(mask.any()):
                        raise ContractViolationError([report])  # nothing row-level to set aside
                    keep = pa.array((~mask).to_list())
                    gone = pa.array(mask.to_list())
                    out = named_by(aside_rows(raw.filter(gone), names.filter(mask)), task.txn)
                    aside_schema = out.schema
                    aside += quarantine.add(out)
                    if task.keys:
                        keys = typed.table.filter(gone).select(list(task.keys))
                        ordinal = pa.array(range(set_aside, set_aside + keys.num_rows), pa.int64())
                        kept_keys.append(keys.append_column(ORDINAL, ordinal))
                    set_aside += out.num_rows
                    report = replace(report, quarantined=out.num_rows)
                    rows = rows.filter(keep)
                reports.append(report)
                files += data.add(rows)  # without quarantine, all rows: failing ones never commit
            files += data.close()
            aside += quarantine.close() if quarantine is not None else []
    except ContractViolationError as refused:
        return PartResult(report=refused.reports[0], rows=taken, refused=True)
    merged = slices.merge(contract, reports, reports[0]) if contract is not None and reports else None
    keys = pa.concat_tables(kept_keys) if kept_keys else None
    return PartResult(
        tuple(files),
        tuple(aside),
        aside_schema,
        merged,
        taken,
        keys,
        selected=tally.selected,
        spans=tally.spans(),
    )


def key_check(key: Sequence[str]) -> CompiledCheck:
    """An upsert's key as a uniqueness check: each key may appear once in the upsert's rows."""
    cols = tuple(key)
    return CompiledCheck("upsert key", "unique", ",".join(cols), "each key once", unique_on=cols)


class KeyTally:
    """Of a part's rows, what the uniqueness checks among ``checks`` need over all the parts: the
    keys each compares (for the part's :class:`Span`), and the rows a scoped one's where: selects."""

    def __init__(self, checks: Sequence[CompiledCheck]) -> None:
        self.uniques = [c for c in checks if c.kind == "unique"]
        self.selected: dict[str, int] = {}
        self._keys: dict[str, list[pl.DataFrame]] = {c.name: [] for c in self.uniques}

    def add(self, rows: pa.Table) -> None:
        if not self.uniques:
            return
        for check in self.uniques:
            if check.where is not None:
                self.selected[check.name] = self.selected.get(check.name, 0) + count_selected(rows, check)
        frame = pl.from_arrow(rows.select(slices.compared_by(self.uniques)))
        assert isinstance(frame, pl.DataFrame)
        for check in self.uniques:
            self._keys[check.name].append(compared(frame, check, check.unique_on))

    def spans(self) -> dict[str, Span | None]:
        return {c.name: span_of(self._keys[c.name], c) for c in self.uniques}


def span_of(parts: list[pl.DataFrame], check: CompiledCheck) -> Span | None:
    """The keys a part holds for uniqueness ``check``: their range and whether they repeat."""
    keys = pl.concat(parts) if parts else pl.DataFrame()
    if not keys.height:
        return None
    first = keys[check.unique_on[0]]
    if first.dtype.is_float() and bool(first.is_nan().any()):
        return Span(None, None, False)  # NaN is in no range: only the group-by can tell
    return Span(first.min(), first.max(), distinct(keys, list(check.unique_on)))


@dataclass(frozen=True)
class Span:
    """Of one part and one uniqueness check: the least and greatest value of the key's first
    column, and whether no key repeats within the part (no range: it cannot tell)."""

    low: Any
    high: Any
    distinct: bool


def judge_part(task: PartTask, refs: Sequence[FileRef], *, summaries: bool = False) -> PartResult:
    """Judge the rows of the files ``refs`` (the rows a merge brings) with the contract's row
    rules, and profile them, on the executor that reads them: the gate's quality and drift of a
    large branch, part by part. ``summaries``: also keep each file's column summaries (for the
    contract's metrics, which the driver then merges without reading the files)."""
    layers = task.layers()
    store = SummaryStore(layers.store, layers) if summaries else None
    return judge_rows(task, (read_files(layers, task.dataset, [r], task.schema) for r in refs), store, refs)


def judge_rows(
    task: PartTask,
    tables: Iterable[pa.Table],
    store: SummaryStore | None = None,
    refs: Sequence[FileRef] = (),
) -> PartResult:
    """Judge ``tables`` (the rows of ``refs``, if given) as :func:`judge_part` does."""
    contract = task.contract
    assert contract is not None
    tally = KeyTally(_compiled(contract))
    reports: list[ValidationReport] = []
    profile: Profile | None = None
    taken = 0
    for i, rows in enumerate(tables):
        if store is not None and i < len(refs):
            store.put_for(task.dataset, refs[i].path, rows)
        typed = cast_to_contract(contract, rows)
        reports.append(check_rows(contract, typed.table, cast=typed.results, rows_only=True).report)
        tally.add(typed.table)
        profile = (profile or Profile.empty(typed.table.schema)).update(typed.table)
        taken += rows.num_rows
    merged = slices.merge(contract, reports, reports[0]) if reports else None
    shape = profile.to_json() if profile is not None else None
    return PartResult(report=merged, rows=taken, selected=tally.selected, spans=tally.spans(), profile=shape)


def read_keys(
    config: StorageConfig,
    dataset: str,
    schema: pa.Schema,
    refs: Sequence[FileRef],
    indices: Iterable[int],
    check: CompiledCheck,
    columns: Sequence[str],
) -> Iterator[pa.RecordBatch]:
    """Of the files ``refs[i]`` for ``i`` in ``indices``: the ``columns`` (the check's key first)
    of the rows ``check`` compares (its ``where:`` selects them and no key column is null), with
    the file's index as :data:`FILE` (on the executor that reads them)."""
    layers = Layers(config, open_store(config))
    where = check.where.meta.root_names() if check.where is not None else []
    narrow = pa.schema([schema.field(c) for c in dict.fromkeys([*columns, *where]) if c in schema.names])
    for i in indices:
        rows = read_files(layers, dataset, [refs[i]], narrow)  # the columns it compares alone
        frame = compared(pl.from_arrow(rows), check, columns)  # type: ignore[arg-type]
        if frame.height:
            yield from frame.with_columns(pl.lit(i, pl.Int64).alias(FILE)).to_arrow().to_batches()


def compared(frame: pl.DataFrame, check: CompiledCheck, columns: Sequence[str]) -> pl.DataFrame:
    """The ``columns`` of the rows of ``frame`` that uniqueness ``check`` compares."""
    if check.where is not None:
        frame = frame.filter(check.selects)
    return frame.drop_nulls(list(check.unique_on)).select(list(columns))


@dataclass(frozen=True)
class Found:
    """What a uniqueness check found over all the parts (an engine's group-by and join)."""

    check: CompiledCheck
    runs_on: int  # the rows of the write the check runs on (its where: selects)
    repeated: int  # rows of the write whose key repeats within it
    kept: int  # rows of the write whose key the dataset keeps already
    failed: int  # rows of the write with either
    samples: tuple[dict[str, Any], ...] = ()
    bad: pa.Table | None = None  # with quarantine: the failing keys
    files: frozenset[int] = frozenset()  # with quarantine: the written files holding them


def rewrite_part(
    task: PartTask,
    refs: Sequence[FileRef],
    found: Sequence[Found],
    rules: Sequence[CompiledCheck],
    *,
    drop: bool = False,
) -> PartResult:
    """The written files ``refs`` again, less the rows whose keys ``found`` fail or that break a
    ``rules`` (which go aside, naming the checks they break), on the executor that rewrites them.
    A file that holds no such row is kept as it is. ``drop``: the rows go nowhere (an upsert's
    matched rows, which its own rows replace); ``refs`` may then be files of any layer."""
    layers = task.layers()
    files: list[DataFile] = []
    aside: list[DataFile] = []
    schema: pa.Schema | None = None
    moved = 0
    with (
        FileRoller(layers, task.dataset, task.layer, partition_by=task.partition_by) as data,
        FileRoller(layers, task.dataset + QUARANTINE_SUFFIX, task.layer) as quarantine,
    ):
        for ref in refs:
            rows = read_files(layers, task.dataset, [ref], task.schema)
            names = failing_names(pl.from_arrow(rows), found, rules)  # type: ignore[arg-type]
            mask = names.list.len() > 0
            if not bool(mask.any()):
                files.append(ref.file)
                continue
            files += data.add(rows.filter(pa.array((~mask).to_list())))
            if bool(mask.any()) and drop:
                moved += int(mask.sum())
            elif bool(mask.any()):
                out = named_by(
                    aside_rows(rows.filter(pa.array(mask.to_list())), names.filter(mask)), task.txn
                )
                schema = out.schema
                aside += quarantine.add(out)
                moved += out.num_rows
        files += data.close()
        aside += quarantine.close()
    return PartResult(tuple(files), tuple(aside), schema, None, moved)


def failing_names(
    frame: pl.DataFrame, found: Sequence[Found], rules: Sequence[CompiledCheck] = ()
) -> pl.Series:
    """Per row of ``frame``, the names of the ``rules`` it breaks and of the uniqueness checks in
    ``found`` whose failing keys it holds (where the check compares it)."""
    names = pl.Series(VIOLATIONS, [[]] * frame.height, dtype=pl.List(pl.String))
    for rule in rules:
        assert rule.passes is not None
        names = add_name(names, frame.select((~rule.passes).fill_null(False)).to_series(), rule.name)
    for f in found:
        if f.bad is None or not f.bad.num_rows:
            continue
        cols = list(f.check.unique_on)
        bad = pl.from_arrow(f.bad)
        assert isinstance(bad, pl.DataFrame)
        selects = f.check.selects if f.check.where is not None else pl.lit(True)
        hit = (
            frame.with_row_index("__row")
            .filter(selects)
            .drop_nulls(cols)
            .join(bad.select(cols).unique(), on=cols, how="semi")["__row"]
        )
        mark = pl.Series("b", [False] * frame.height)
        if hit.len():
            mark = mark.scatter(hit.cast(pl.Int64).to_list(), True)
        names = add_name(names, mark, f.check.name)
    return names


class Parts:
    """What a uniqueness check over all the parts of a write (or of the rows a merge brings)
    asks of them: :class:`Job` and :class:`Review` are the two."""

    contract: Contract | None
    layers: Layers
    change: Change  # what the rows do to the dataset: its files' schema

    @property
    def schema(self) -> pa.Schema:
        return self.change.schema

    @property
    def config(self) -> StorageConfig:
        return self.layers.config

    @property
    def dataset(self) -> str:
        raise NotImplementedError

    @property
    def quarantine(self) -> bool:
        return False

    def loaded(self, parts: Sequence[PartResult]) -> list[FileRef]:
        """The files whose rows the check compares (the write's, or the merge's)."""
        raise NotImplementedError

    def kept(self) -> list[FileRef]:
        """The files the dataset keeps besides them."""
        raise NotImplementedError

    def aside_keys(self, parts: Sequence[PartResult], check: CompiledCheck) -> pa.Table | None:
        return None

    def unique_checks(self) -> list[CompiledCheck]:
        """The contract's uniqueness checks, which span the parts."""
        if self.contract is None:
            return []
        return [c for c in _compiled(self.contract) if c.kind == "unique"]

    def sample_columns(self, check: CompiledCheck) -> list[str]:
        """The columns a uniqueness check's samples show (the key's first, as the local engine's)."""
        assert self.contract is not None
        pk = [c for c in self.contract.primary_key if c in self.schema.names]
        return list(dict.fromkeys([*check.unique_on, *pk]))

    def key_range(self, parts: Sequence[PartResult], check: CompiledCheck) -> tuple[Any, Any] | None:
        """The least and greatest value of the key's first column over the write (None: the
        write has no key to compare; (None, None): a part cannot tell)."""
        spans = [p.spans.get(check.name) for p in parts]
        known = [s for s in spans if s is not None]
        if not known:
            return None
        if any(s.low is None for s in known):
            return (None, None)
        return min(s.low for s in known), max(s.high for s in known)

    def may_repeat(self, parts: Sequence[PartResult], check: CompiledCheck) -> bool:
        """False when the parts prove no key of the write repeats: none repeats within a part,
        and their ranges of the key's first column do not overlap (a key in two parts would be in
        both ranges). Ids written in order, as most loads are, are proven so without a shuffle."""
        known = sorted(
            (s for p in parts if (s := p.spans.get(check.name)) is not None),
            key=lambda s: (s.low is None, s.low),
        )
        if any(s.low is None or not s.distinct for s in known):
            return True
        try:
            return any(b.low <= a.high for a, b in itertools.pairwise(known))
        except TypeError:  # values of types that do not compare
            return True

    def runs_on(self, parts: Sequence[PartResult], check: CompiledCheck) -> int:
        """The rows of the write ``check`` runs on (the parts counted its where:)."""
        if check.where is None:
            return sum(p.rows for p in parts)
        return sum(p.selected.get(check.name, 0) for p in parts)

    def _unique_report(self, found: Found) -> ValidationReport:
        assert self.contract is not None
        c = found.check
        message = f"{found.repeated} repeated within the batch, {found.kept} already in the dataset"
        result = CheckResult(
            c.name,
            "unique",
            c.column,
            _status(found.failed, found.runs_on, c),
            c.severity,
            c.threshold,
            found.failed,
            found.runs_on,
            c.mostly,
            message=message if found.failed else "",
            samples=found.samples[:MAX_SAMPLES],
        )
        return ValidationReport(self.contract.dataset, self.contract.hash, 0, (result,))


@dataclass
class Job(Parts):
    """One distributed write, as the commit loop's check step hands it to the engine."""

    layers: Layers
    op: Append | Overwrite
    draft: Draft
    contract: Contract | None
    txn: str
    slice_bytes: int
    key: tuple[str, ...] = ()  # an upsert's key (none: a write)
    change: Change = field(init=False)
    task: PartTask = field(init=False)
    matched: list[FileRef] = field(init=False, default_factory=list)  # an upsert's rewritten files
    replacing: list[FileRef] = field(init=False, default_factory=list)  # and what replaces them
    replaced_rows: int = field(init=False, default=0)  # the rows its own replace
    operation: str = "upsert"  # with a key: the Delta operation ("delete": rows of keys removed)
    parameters: dict[str, str] = field(default_factory=dict)  # a delete's, as Delta logs them

    def __post_init__(self) -> None:
        op, contract = self.op, self.contract
        schema = op.data.schema
        if op.on_violation == "quarantine" and contract is not None:
            refuse_reserved(schema.empty_table())
        if contract is not None:
            partitioned = partitioned_as(op, contract)
            assert isinstance(partitioned, Append | Overwrite)
            self.op = op = partitioned
        empty = cast_to_contract(contract, schema.empty_table()).table if contract else schema.empty_table()
        change = plan(op, self.draft, empty)
        assert change is not None and change.data is not None
        self.change = change
        if self.key:
            missing = [k for k in self.key if k not in change.schema.names]
            if missing:
                raise SchemaMismatchError(f"upsert key column(s) {', '.join(missing)} are not in the dataset")
        quarantine = op.on_violation == "quarantine" and contract is not None
        self.task = PartTask(
            self.layers.config,
            op.dataset,
            self.draft.own,
            change.schema,
            tuple(change.partition_by or ()),
            contract,
            quarantine,
            self.txn,
            tuple(self._key_columns()) if quarantine else (),
            self.slice_bytes,
            self.key,
        )

    def _key_columns(self) -> list[str]:
        """Of rows set aside, the typed columns the checks over all parts read: what uniqueness
        compares (and the key, for samples), and what a share's rule reads."""
        assert self.contract is not None
        names = slices.compared_by(self.unique_checks())
        names = list(dict.fromkeys([*names, *self.contract.primary_key])) if names else []
        for rule in _compiled(self.contract):
            if rule.passes is not None and rule.mostly < 1.0:
                names += rule.passes.meta.root_names()
        return list(dict.fromkeys(names))

    def failing_shares(self, parts: Sequence[PartResult]) -> list[CompiledCheck]:
        """With quarantine: the row rules with a ``mostly`` share that fail over all the parts
        (a part cannot tell), whose breaking rows go aside after all."""
        reports = [p.report for p in parts if p.report is not None]
        if not self.task.quarantine or self.contract is None or not reports:
            return []
        merged = slices.merge(self.contract, reports, reports[0])
        failing = {r.name for r in merged.results if r.status == "fail"}
        return [c for c in _compiled(self.contract) if c.row_level and c.mostly < 1.0 and c.name in failing]

    @property
    def dataset(self) -> str:
        return self.op.dataset

    @property
    def quarantine(self) -> bool:
        return self.task.quarantine

    def loaded(self, parts: Sequence[PartResult]) -> list[FileRef]:
        return self.written(parts)

    def written(self, parts: Sequence[PartResult]) -> list[FileRef]:
        return [FileRef(self.draft.own, f) for p in parts for f in p.files]

    def kept(self) -> list[FileRef]:
        """The files the dataset keeps besides the write's (an overwrite keeps none)."""
        view = self.draft.view(self.op.dataset)
        if view is None:
            return []
        gone = {r.path for r in [*self.change.remove, *self.matched]}
        return [r for r in view.files.values() if r.path not in gone] + self.replacing

    def upserted(self, matched: Sequence[FileRef], parts: Sequence[PartResult]) -> None:
        """Record an upsert's rewrite: the kept files ``matched`` (holding keys the upsert
        brings) become the files of ``parts`` (their other rows)."""
        self.matched = list(matched)
        self.replacing = [FileRef(self.draft.own, f) for p in parts for f in p.files]
        self.replaced_rows = sum(p.rows for p in parts)

    def aside_keys(self, parts: Sequence[PartResult], check: CompiledCheck) -> pa.Table | None:
        """The keys of the rows the parts set aside that ``check`` compares (with their
        :data:`FILE`: -1), or None where there are none."""
        tables = [p.aside_keys for p in parts if p.aside_keys is not None and p.aside_keys.num_rows]
        if not tables:
            return None
        frame = pl.from_arrow(pa.concat_tables(tables))
        assert isinstance(frame, pl.DataFrame)
        keys = compared(frame, check, self.sample_columns(check))
        return keys.with_columns(pl.lit(-1, pl.Int64).alias(FILE)).to_arrow() if keys.height else None

    def finish(
        self,
        parts: Sequence[PartResult],
        found: Sequence[Found] = (),
        rewritten: Sequence[PartResult] = (),
        replaced: frozenset[int] = frozenset(),
    ) -> Streamed:
        """The write's report and what it commits, from what the engine found (see the module's
        docstring); ``rewritten``: the parts :func:`rewrite_part` made of the written files
        ``replaced`` (their indices among :meth:`written`'s)."""
        contract, change = self.contract, self.change
        refusing = [p.report for p in parts if p.refused and p.report is not None]
        if refusing:
            raise ContractViolationError(refusing[:1])
        written = [r for i, r in enumerate(self.written(parts)) if i not in replaced]
        written += [FileRef(self.draft.own, f) for p in rewritten for f in p.files]
        aside_refs = [FileRef(self.draft.own, f) for p in parts for f in p.aside]
        aside_refs = self._tag_aside(parts, aside_refs, found, self.failing_shares(parts))
        aside_refs += [FileRef(self.draft.own, f) for p in rewritten for f in p.aside]
        schemas = [p.aside_schema for p in (*parts, *rewritten) if p.aside_schema is not None]
        reports = [p.report for p in parts if p.report is not None]
        if contract is not None and not reports:
            empty = contract.arrow_schema().empty_table()
            reports = [check_rows(contract, empty, rows_only=True).report]
        moved = sum(p.rows for p in rewritten)
        reports += [self._unique_report(f) for f in found]
        if moved and contract is not None:  # the rows the rewrites set aside
            reports.append(ValidationReport(contract.dataset, contract.hash, 0, (), moved))
        if self.key:  # the kept files it rewrote are replaced, for the checks too
            change = replace(
                change,
                operation=self.operation,
                remove=[*change.remove, *self.matched],
                restore=[*change.restore, *self.replacing],
                rows_removed=change.rows_removed + self.replaced_rows,
                parameters=merge_parameters(self.key) if self.operation == "upsert" else self.parameters,
            )
        view = self.draft.view(self.op.dataset) or empty_view(self.layers, self.op.dataset, change)
        final = judge_whole(contract, view, change, [*written, *self.replacing], reports)
        if final is not None and refused(final):
            raise ContractViolationError([final])
        stash = SetAside(schemas[0], tuple(aside_refs)) if schemas else None
        snapshot = self.draft.datasets.get(self.op.dataset)
        return Streamed(
            snapshot, Checked(taking(change, written), final, stash, None), tuple(r.file for r in written)
        )

    def _tag_aside(
        self,
        parts: Sequence[PartResult],
        refs: list[FileRef],
        found: Sequence[Found],
        rules: Sequence[CompiledCheck],
    ) -> list[FileRef]:
        """The files of rows set aside by the parts, rewritten (here: they are a write's
        failing rows) where a row also breaks a uniqueness check or a failing share, to name it too."""
        bad = [f for f in found if f.bad is not None and f.bad.num_rows]
        if not bad and not rules:
            return refs
        out: list[FileRef] = []
        start = 0
        with FileRoller(self.layers, self.op.dataset + QUARANTINE_SUFFIX, self.draft.own) as roller:
            for part in parts:
                names = None
                if part.aside_keys is not None and part.aside_keys.num_rows:
                    frame = pl.from_arrow(part.aside_keys)
                    assert isinstance(frame, pl.DataFrame)
                    names = failing_names(frame, bad, rules)
                offset = 0
                for file in part.aside:
                    ref = refs[start]
                    start += 1
                    extra = names.slice(offset, file.rows) if names is not None else None
                    offset += file.rows
                    if extra is None or not int(extra.list.len().sum()):
                        out.append(ref)
                        continue
                    rows = read_files(
                        self.layers, self.op.dataset + QUARANTINE_SUFFIX, [ref], _schema_of(part)
                    )
                    old = pl.from_arrow(rows.column(VIOLATIONS))
                    assert isinstance(old, pl.Series)
                    joined = pl.DataFrame({"a": old, "b": extra}).select(
                        pl.col("a").list.concat("b").alias(VIOLATIONS)
                    )
                    index = rows.schema.get_field_index(VIOLATIONS)
                    rows = rows.set_column(index, VIOLATIONS, joined.to_arrow().column(0))
                    out += [FileRef(self.draft.own, f) for f in roller.add(rows)]
            out += [FileRef(self.draft.own, f) for f in roller.close()]
        return out


def _schema_of(part: PartResult) -> pa.Schema:
    assert part.aside_schema is not None
    return part.aside_schema


@dataclass
class Review(Parts):
    """The rows a merge brings into one dataset, judged where they are (the gate's, on a large
    branch): :func:`judge_part` over the merge's files, uniqueness over all of them as for a
    write, and the dataset-wide checks over the target's kept rows and them."""

    layers: Layers
    name: str
    contract: Contract | None
    change: Change
    view: View | None

    @property
    def dataset(self) -> str:
        return self.name

    @property
    def task(self) -> PartTask:
        return PartTask(self.config, self.name, "", self.schema, (), self.contract, False, "", (), 0)

    def loaded(self, parts: Sequence[PartResult]) -> list[FileRef]:
        return list(self.change.restore)

    def kept(self) -> list[FileRef]:
        if self.view is None:
            return []
        gone = {r.path for r in self.change.remove}
        return [r for r in self.view.files.values() if r.path not in gone]

    def report(self, parts: Sequence[PartResult], found: Sequence[Found]) -> ValidationReport:
        """The contract's report on the rows the merge brings, as the gate makes it locally."""
        contract = self.contract
        assert contract is not None
        reports = [p.report for p in parts if p.report is not None]
        if not reports:
            reports = [check_rows(contract, contract.arrow_schema().empty_table(), rows_only=True).report]
        reports += [self._unique_report(f) for f in found]
        view = self.view or empty_view(self.layers, self.name, self.change)
        final = judge_whole(contract, view, self.change, list(self.change.restore), reports)
        assert final is not None
        return final

    def profile(self, parts: Sequence[PartResult]) -> Profile:
        """The profile of the rows the merge brings: the parts' profiles merged."""
        shapes = [Profile.from_json(p.profile) for p in parts if p.profile is not None]
        if not shapes:
            return Profile.empty(self.schema)
        return functools.reduce(Profile.merge, shapes)
