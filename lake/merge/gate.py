"""The merge gate: judges the would-be result of merging a branch, with checks that come from
the target's contract (never from the branch under test), on the rows the merge brings.

The gate is a step, not a part of the repository: it is handed a :class:`GateContext` (the
target's data, contract versions and profiles) and the prepared merge, and reads nothing else.
Its checks are tuples of small functions run in order, so each tuple reads as the report's
table of contents: :data:`MERGE_CHECKS` for the merge as a whole, then per dataset
:data:`CHECKS` (the merge changes its data) or :data:`KEPT_CHECKS` (it keeps them).

Per dataset the merge changes: the proposed contract change (a breaking change blocks unless
the target's ``schema_evolution`` is ``any``), the schema against ``schema_evolution``, every
contract check on the merged data (table-wide rules hold across both sides' rows), drift of the
rows the branch adds against the target's rows, and volume against the contract's bounds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol, cast

import polars as pl
import pyarrow as pa

from lake import progress
from lake.contracts import Contract, DriftMethod, DriftSpec, diff_contracts
from lake.errors import GateFailedError
from lake.graph.commits import Snapshot
from lake.graph.names import is_quarantine
from lake.merge.plan import DatasetPlan, PreparedMerge
from lake.merge.references import references
from lake.stores.contracts import ContractStore
from lake.stores.profiles import ProfileStore
from lake.stores.summaries import kept_rows
from lake.table.change import Change
from lake.table.diff import ColumnAdded, schema_diff
from lake.table.frames import conform, delta_schema_json
from lake.table.layers import Layers
from lake.table.views import FileRef, KeptRows, View, read_files
from lake.validation.drift import MIN_ROWS, ShiftRules, column_drift, identifier_reason, null_rate_shift
from lake.validation.gate_report import GateCheck, GateReport, Status
from lake.validation.profile import ColumnProfile, Profile
from lake.validation.report import ValidationReport
from lake.validation.rows import CheckedRows, check_rows


@dataclass(frozen=True)
class Judged:
    """The rows a merge brings into a dataset, judged where they are by an engine: the
    contract's report on them (as a write's), and the profile of their columns (for drift)."""

    report: ValidationReport
    profile: Profile


class RowsJudge(Protocol):
    """An engine that judges the rows a merge brings where they are (:func:`lake.spark.gate`'s
    executors), so that a large branch is judged without reading its rows here."""

    def judge(self, ds: DatasetUnderReview) -> Judged: ...


@dataclass(frozen=True)
class GateContext:
    """What the gate reads besides the merge it judges, handed to it by its caller: the
    datasets' files, the contract versions the commits name, and the protected branches'
    profiles; ``judge``: an engine that judges the merge's rows where they are (None: here)."""

    layers: Layers
    contracts: ContractStore
    profiles: ProfileStore
    judge: RowsJudge | None = None


@dataclass(frozen=True)
class DatasetUnderReview:
    """One dataset of the merge, and what its checks share."""

    name: str
    plan: DatasetPlan
    merge: PreparedMerge
    approval: str | None  # a person's reason for changing the target's contract
    change: Change | None = None  # what the merge does to the target's data; None: it keeps them
    contract: Contract | None = None  # the target's, which judges the data the merge brings
    view: View | None = None  # the target's data; None where the dataset is new to it
    rows: pa.Table | None = None  # the rows the merge brings; read only when a contract judges them
    removed: int = 0  # how many of the target's rows the merge removes
    judge: RowsJudge | None = None  # the engine that judges the rows where they are (None: here)

    @property
    def added(self) -> int:
        """How many rows the merge brings (its files' and the rows it writes)."""
        if self.change is None:
            return 0
        extra = self.change.data.num_rows if self.change.data is not None else 0
        return sum(r.file.rows for r in self.change.restore) + extra

    @cached_property
    def judged(self) -> Judged | None:
        """The rows the merge brings as the engine judged them (None: judged here)."""
        return self.judge.judge(self) if self.judge is not None and self.contract is not None else None

    @property
    def snapshot(self) -> Snapshot | None:
        return self.view.snapshot if self.view is not None else None

    @cached_property
    def checked(self) -> CheckedRows:
        """The rows the merge brings, checked by the target's contract the way writes are (cast
        to its types; table-wide rules across the target's kept rows too); computed once, by the
        first check that asks (quality, then drift)."""
        assert self.contract is not None and self.change is not None
        kept = KeptRows(self.view, self.change.remove) if self.view is not None else None
        others = kept_rows(kept, self.contract) if kept is not None else None
        return check_rows(self.contract, self.rows, others=others)


MergeCheck = Callable[[PreparedMerge], list[GateCheck]]
DatasetCheck = Callable[[GateContext, DatasetUnderReview], list[GateCheck]]


def evaluate(context: GateContext, prep: PreparedMerge, *, approval: str | None = None) -> GateReport:
    """Judge a prepared merge (its plans are the merge's own, so gate and merge agree).

    ``approval`` is a person's reason for changing the target's contract; without it, any
    change to the contract of a protected target fails the gate."""
    if prep.up_to_date:
        done = f"{prep.target} already contains {prep.source}"
        return _report(prep, [GateCheck("*", "merge", "up-to-date", "pass", message=done)])
    checks = [c for check in MERGE_CHECKS for c in check(prep)]
    for i, ds in enumerate(_datasets(context, prep, approval), 1):  # one dataset at a time
        steps = CHECKS if ds.change is not None else KEPT_CHECKS
        checks += [c for check in steps for c in check(context, ds)]
        progress.advance("gate", i, len(prep.plans), "datasets judged", ds.name)
    if not any(c.category != "protection" for c in checks):
        checks.append(GateCheck("*", "merge", "changes", "pass", message="the merge changes no dataset"))
    return _report(prep, checks)


def _report(prep: PreparedMerge, checks: list[GateCheck]) -> GateReport:
    return GateReport(prep.source, prep.target, prep.source_id, prep.target_id, tuple(checks))


def _datasets(
    context: GateContext, prep: PreparedMerge, approval: str | None
) -> Iterator[DatasetUnderReview]:
    """The datasets of the merge by name, each with what its checks read: the target's contract,
    its data and the rows the merge brings only where the merge changes the data, and those rows
    only where a contract judges them."""
    target = prep.target_commit
    for name, plan in sorted(prep.plans.items()):
        change = None if plan.action == "keep" else plan.change
        if change is None:
            yield DatasetUnderReview(name, plan, prep, approval)
            continue
        key = target.contracts.get(name)
        contract = context.contracts.get(key) if key else None
        snap = target.datasets.get(name)
        view = View(context.layers, name, snap) if snap is not None else None
        rows: pa.Table | None = None  # not read where no contract judges them, or an engine does
        if contract is not None and context.judge is None:
            rows = _rows(context, name, list(change.restore), change.schema, change.data)
        removed = sum(r.file.rows for r in change.remove)
        yield DatasetUnderReview(
            name, plan, prep, approval, change, contract, view, rows, removed, context.judge
        )


def _rows(
    context: GateContext, name: str, refs: list[FileRef], schema: pa.Schema, extra: pa.Table | None
) -> pa.Table:
    """The rows the merge brings into the target: the files it adds and the rows it writes."""
    parts = [read_files(context.layers, name, refs, schema)] if refs else []
    if extra is not None and extra.num_rows:
        parts.append(conform(extra, schema, allow_new_columns=False)[0])
    return pa.concat_tables(parts) if parts else schema.empty_table()


# --- checks of the merge as a whole -------------------------------------------------------------


def rule_changes(prep: PreparedMerge) -> list[GateCheck]:
    """A warning for every change of the target's protection rules since the branch forked:
    a reviewer must see that the rules the gate applies are not the ones the branch began under."""
    out = []
    for cid, commit in prep.rules.changes:
        settings = commit.metadata.get("lake.protection", {})
        words = ", ".join(f"{k}={'on' if v else 'off'}" for k, v in settings.items()) or "changed"
        out.append(
            GateCheck(
                "*",
                "protection",
                "rules-changed",
                "warn",
                value=words,
                message=f"the rules of {prep.target} changed since {prep.source} forked: {words}, "
                f"by {commit.author} at {commit.time[:19].replace('T', ' ')} UTC (commit {cid[:12]})",
            )
        )
    return out


def contract_conflicts(prep: PreparedMerge) -> list[GateCheck]:
    """Conflicts between the two sides' contracts (a dataset's own conflicts open its checks)."""
    planned = {id(c) for p in prep.plans.values() for c in p.conflicts}
    return [
        GateCheck(c.dataset, "merge", "conflict", "fail", message=c.reason)
        for c in prep.conflicts
        if id(c) not in planned
    ]


# --- checks of one dataset ----------------------------------------------------------------------


def conflicts(context: GateContext, ds: DatasetUnderReview) -> list[GateCheck]:
    """What the merge would refuse for this dataset."""
    return [GateCheck(ds.name, "merge", "conflict", "fail", message=c.describe()) for c in ds.plan.conflicts]


def contract_change(context: GateContext, ds: DatasetUnderReview) -> list[GateCheck]:
    """The contract change the branch brings, judged against the target's contract: a breaking
    change blocks unless the target's schema_evolution is ``any``. On a protected target every
    change (looser or not, a first contract, a removal) blocks unless it is approved; an approval
    turns the change's failures into warnings, and the merge commit records it."""
    name, prep, approval = ds.name, ds.merge, ds.approval
    source, target, base = prep.source_commit, prep.target_commit, prep.base
    t_key, s_key = target.contracts.get(name), source.contracts.get(name)
    if (base is not None and s_key == base.contracts.get(name)) or s_key == t_key:
        return []  # the branch did not touch the contract, or brings the one the target has
    checks = _approval(ds) if prep.rules.protected else []
    current = context.contracts.get(t_key) if t_key else None
    if s_key is None:
        removed = "the branch removes the dataset's contract: its writes would go unchecked"
        return [*checks, GateCheck(name, "contract", "removed", "warn", message=removed)]
    if current is None:
        first = "the branch brings the first contract for this dataset; it takes effect after the merge"
        return [*checks, GateCheck(name, "contract", "proposed", "warn", message=first)]
    allowed = current.schema_evolution == "any"
    for c in diff_contracts(current, context.contracts.get(s_key)).changes:
        if c.level == "breaking" and not allowed:
            status: Status = "warn" if approval else "fail"
        else:
            status = "warn" if c.level != "compatible" else "pass"
        checks.append(GateCheck(name, "contract", c.path, status, value=c.level, message=c.message))
    return checks


def _approval(ds: DatasetUnderReview) -> list[GateCheck]:
    """On a protected target: whether the contract change carries a person's approval."""
    if ds.approval:
        return [GateCheck(ds.name, "contract", "approval", "warn", value="approved", message=ds.approval)]
    prep = ds.merge
    return [
        GateCheck(
            ds.name,
            "contract",
            "approval",
            "fail",
            value="not approved",
            message=f"{prep.target} is protected: any change to its contract needs an explicit "
            f"approval (lake merge {prep.source} --into {prep.target} "
            '--approve-contract-change "why")',
        )
    ]


def contract_required(context: GateContext, ds: DatasetUnderReview) -> list[GateCheck]:
    """A target that requires contracts refuses a dataset that would reach it without one."""
    rules, target = ds.merge.rules, ds.merge.target
    if ds.contract is not None or not rules.require_contracts:
        return []
    if is_quarantine(ds.name) or ds.name in ds.merge.contracts:
        return []
    why = f"{target} requires a contract for every dataset, and {ds.name!r} has none"
    return [GateCheck(ds.name, "contract", "required", "fail", message=why)]


def schema(context: GateContext, ds: DatasetUnderReview) -> list[GateCheck]:
    """The merged schema against the target's ``schema_evolution`` (``strict``: no change;
    ``additive``: only new nullable columns; ``any``)."""
    if ds.contract is None or ds.change is None:
        return []
    snap = ds.snapshot
    deltas = schema_diff(snap.schema, delta_schema_json(ds.change.schema)) if snap else ()
    rule = ds.contract.schema_evolution
    bad = [
        d
        for d in deltas
        if rule == "strict" or (rule == "additive" and not (isinstance(d, ColumnAdded) and d.nullable))
    ]
    return [
        GateCheck(
            ds.name,
            "schema",
            f"schema_evolution={rule}",
            "fail" if bad else "pass",
            value="; ".join(d.describe() for d in deltas) or "unchanged",
            threshold=rule,
            message=("not allowed: " + "; ".join(d.describe() for d in bad)) if bad else "",
        )
    ]


def quality(context: GateContext, ds: DatasetUnderReview) -> list[GateCheck]:
    """Every check of the target's contract on the rows the merge brings; table-wide rules
    (uniqueness, row counts, freshness) across the target's kept rows too."""
    if ds.contract is None:
        nothing = "the target has no contract for this dataset, so nothing judges its data"
        return [GateCheck(ds.name, "quality", "contract", "warn", message=nothing)]
    report = ds.judged.report if ds.judged is not None else ds.checked.report
    return [GateCheck.of_result(ds.name, r) for r in report.results]


def drift(context: GateContext, ds: DatasetUnderReview) -> list[GateCheck]:
    """Drift of the rows the merge brings against the target's, per column: from the target's
    profile when it keeps one (a protected branch: quantile sketches and category counts stand
    for the reference, which costs no scan), else from a scan of the target's columns."""
    if ds.contract is None or ds.view is None:
        return []
    profile = context.profiles.get(ds.name, ds.view.snapshot)
    spec = ds.contract.drift or DriftSpec()
    keys = [*ds.contract.primary_key, *(c for c, s in ds.contract.columns.items() if s.unique)]
    judged = ds.judged
    cur = pl.from_arrow(ds.checked.table) if judged is None else None
    assert cur is None or isinstance(cur, pl.DataFrame)
    brought = cur.columns if cur is not None else list(judged.profile.columns) if judged is not None else []
    columns = [c for c in ds.contract.columns if c in brought and c in ds.view.schema.names]
    if not columns:
        return []
    scanned = None if profile is not None else ds.view.scan().select(columns).collect()
    out: list[GateCheck] = []
    for col in columns:
        cfg = spec.columns.get(col, spec.default)
        if cfg.method == "none":
            continue
        kept = None
        if profile is not None:
            kept = profile.columns.get(col)
            if kept is None or kept.kind == "other" or (kept.kind == "categorical" and kept.counts is None):
                out.append(
                    GateCheck(ds.name, "drift", col, "skip", message="no distribution kept for this column")
                )
                continue
            ref = kept.reference(col) if kept.kind == "numeric" else pl.Series(col, [], dtype=pl.String)
            if kept.rows - kept.nulls < MIN_ROWS:
                ref = ref.head(0)  # too few values: column_drift says so
        else:
            assert scanned is not None
            ref = scanned[col]
        if cur is not None:
            out += _column_drift(ds.name, col, ref, cur[col], kept, cfg, keys)
            continue
        assert judged is not None
        brings = judged.profile.columns[col]
        if brings.kind == "other" or (brings.kind == "categorical" and brings.counts is None):
            why = "too many distinct values to compare (an identifier?)" if brings.kind != "other" else ""
            out.append(GateCheck(ds.name, "drift", col, "skip", message=why or "no distribution kept"))
            continue
        sample = brings.reference(col)
        if ref.dtype != sample.dtype and (isinstance(ref.dtype, pl.Datetime) or ref.dtype == pl.Date):
            ref = ref.dt.epoch("s")  # the engine's profile keeps them as numbers, as a target's does
        counted = (brings.rows, brings.nulls)
        out += _column_drift(ds.name, col, ref, sample, kept, cfg, keys, counted=counted)
    return out


def _column_drift(
    name: str,
    col: str,
    ref: pl.Series,
    cur: pl.Series,
    kept: ColumnProfile | None,
    cfg: DriftMethod,
    keys: list[str],
    *,
    counted: tuple[int, int] | None = None,
) -> list[GateCheck]:
    """One column's drift and its null rate's material shift, each a check that fails (or,
    with the column's ``severity: warn``, warns). ``kept`` is the target profile's column
    ``ref`` comes from (None: ``ref`` is a scan). ``counted``: the rows and nulls ``cur`` stands
    for, when it is a profile's sample (an engine's) rather than the rows themselves."""
    if cfg.method == "auto":
        why = identifier_reason(col, ref if kept is None else cur, keys)
        if why:
            return [GateCheck(name, "drift", col, "skip", message=why)]
    if isinstance(cur.dtype, pl.Datetime) or cur.dtype == pl.Date:
        cur = cur.dt.epoch("s")
        if kept is None:  # a profile keeps them as numbers already
            ref = ref.dt.epoch("s")
    rules = ShiftRules(
        cfg.share_floor, cfg.share_factor, cfg.null_rate_rise, cfg.null_rate_factor, cfg.null_rate_floor
    )
    counts = kept.counts if kept is not None and kept.kind == "categorical" else None
    if counts is not None and kept is not None and kept.rows - kept.nulls < MIN_ROWS:
        counts = {}
    result = column_drift(col, ref, cur, cfg.method, cfg.threshold, rules, reference_counts=counts)
    ref_rows, ref_nulls = (kept.rows, kept.nulls) if kept is not None else (ref.len(), ref.null_count())
    if kept is not None:
        result.reference_summary["null_rate"] = round(kept.nulls / kept.rows if kept.rows else 0.0, 6)
        result.reference_summary["rows"] = kept.rows
        result.reference_summary["from"] = "profile"
    details: dict[str, Any] = {
        "method": result.method,
        "value": result.value,
        "reference": result.reference_summary,
        "current": result.current_summary,
    }
    if result.histogram is not None:
        details["histogram"] = result.histogram.to_dict()
    demote = cfg.severity == "warn"
    status = cast(Status, "warn" if demote and result.status == "fail" else result.status)
    out = [
        GateCheck(
            name,
            "drift",
            col,
            status,
            value="" if result.value is None else f"{result.value:.4f}",
            threshold="" if result.threshold is None else f"{result.method} {result.threshold}",
            message=result.reason,
            drift=details,
        )
    ]
    cur_rows, cur_nulls = counted if counted is not None else (cur.len(), cur.null_count())
    moved = null_rate_shift(ref_nulls, ref_rows, cur_nulls, cur_rows, rules)
    ref_rate = ref_nulls / ref_rows if ref_rows else 0.0
    cur_rate = cur_nulls / cur_rows if cur_rows else 0.0
    rule = (
        f"rise < {rules.null_rate_rise * 100:g} points, "
        f"< {rules.null_rate_factor:g}x from >= {rules.null_rate_floor:.0%}"
    )
    out.append(
        GateCheck(
            name,
            "drift",
            f"{col}.null_rate",
            ("warn" if demote else "fail") if moved else "pass",
            value=f"{cur_rate:.1%} (reference {ref_rate:.1%})",
            threshold=rule,
            message=moved,
        )
    )
    return out


def volume(context: GateContext, ds: DatasetUnderReview) -> list[GateCheck]:
    """Rows added and removed against the contract's optional ``volume`` bounds."""
    if ds.contract is None:
        return []
    added, removed = ds.added, ds.removed
    target_rows = ds.snapshot.rows if ds.snapshot else 0
    vol = ds.contract.volume
    problems = []
    if vol is not None:
        if vol.max_rows_added is not None and added > vol.max_rows_added:
            problems.append(f"adds {added} rows, more than {vol.max_rows_added}")
        if vol.max_rows_removed is not None and removed > vol.max_rows_removed:
            problems.append(f"removes {removed} rows, more than {vol.max_rows_removed}")
        if vol.max_growth is not None and target_rows and added / target_rows > vol.max_growth:
            problems.append(f"grows the dataset by {added / target_rows:.1%}, more than {vol.max_growth:.1%}")
    bounds = vol.model_dump(exclude_none=True).items() if vol else []
    return [
        GateCheck(
            ds.name,
            "volume",
            "rows",
            "fail" if problems else "pass",
            value=f"+{added} / -{removed} (target {target_rows})",
            threshold=", ".join(f"{k}={v}" for k, v in bounds),
            message="; ".join(problems),
        )
    ]


MERGE_CHECKS: tuple[MergeCheck, ...] = (rule_changes, contract_conflicts)
"""Checks of the merge as a whole, before any dataset's."""

CHECKS: tuple[DatasetCheck, ...] = (
    conflicts,
    contract_change,
    contract_required,
    schema,
    quality,
    references,
    drift,
    volume,
)
"""Per dataset whose data the merge changes, in the report's order."""

KEPT_CHECKS: tuple[DatasetCheck, ...] = (conflicts, contract_change)
"""Per dataset whose data the merge keeps (or cannot merge): only the contract the branch proposes."""


def verdict_metadata(
    report: GateReport, *, force: bool, reason: str | None, approval: str | None, by: str
) -> dict[str, Any]:
    """What the merge commit records of the gate: its summary, an approved contract change (the
    reason, who, the datasets, the diff the report showed), and an override. Raises
    :class:`GateFailedError` when the gate blocks and ``force`` does not override it (conflicts
    are the merge's own business: a strategy resolves them, or MergeConflictError)."""
    blocking = [c for c in report.checks if c.status == "fail" and c.category != "merge"]
    if blocking and not force:
        raise GateFailedError(report)
    meta: dict[str, Any] = {"lake.gate": report.summary()}
    approved = [c for c in report.checks if c.name == "approval" and c.value == "approved"]
    if approved:
        meta["lake.contract_approval"] = {
            "reason": approval,
            "by": by,
            "datasets": sorted({c.dataset for c in approved}),
            "changes": [
                f"{c.dataset}: {c.name} {c.value}: {c.message}".strip()
                for c in report.checks
                if c.category == "contract" and c.name != "approval"
            ],
        }
    if force and not report.passed:
        meta["lake.override"] = {"reason": reason, "by": by, "report": report.summary()}
    return meta
