"""The merge gate: judges the would-be result of merging a branch, with checks that come from
the target's contract (never from the branch under test), on the rows the merge brings.

Per dataset the merge changes: the proposed contract change (a breaking change blocks unless
the target's ``schema_evolution`` is ``any``), the schema against ``schema_evolution``, every
contract check on the merged data (table-wide rules hold across both sides' rows), drift of the
rows the branch adds against the target's rows, and volume against the contract's bounds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import polars as pl
import pyarrow as pa

from lake.contracts import Contract, DriftSpec, diff_contracts
from lake.graph.names import is_quarantine
from lake.merge.plan import DatasetPlan, PreparedMerge
from lake.table.diff import ColumnAdded, schema_diff
from lake.table.frames import conform, delta_schema_json
from lake.table.views import FileRef, KeptRows, View, read_files
from lake.validation.drift import MIN_ROWS, column_drift, identifier_reason
from lake.validation.engine import cast_to_contract, validate
from lake.validation.gate_report import GateCheck, GateReport, Status
from lake.validation.profile import Profile

if TYPE_CHECKING:
    from lake.repository import Repository


def evaluate(repo: Repository, prep: PreparedMerge, *, approval: str | None = None) -> GateReport:
    """Judge a prepared merge (its plans are the merge's own, so gate and merge agree).

    ``approval`` is a person's reason for changing the target's contract; without it, any
    change to the contract of a protected target fails the gate."""
    source, target = prep.source, prep.target
    s_id, t_id = prep.source_id, prep.target_id
    checks: list[GateCheck] = []
    if prep.up_to_date:
        checks.append(
            GateCheck("*", "merge", "up-to-date", "pass", message=f"{target} already contains {source}")
        )
        return GateReport(source, target, s_id, t_id, tuple(checks))
    checks += _rule_changes(prep)
    planned = {id(c) for p in prep.plans.values() for c in p.conflicts}
    for c in prep.conflicts:
        if id(c) not in planned:  # contract conflicts; dataset conflicts are reported with their plan
            checks.append(GateCheck(c.dataset, "merge", "conflict", "fail", message=c.reason))
    for name, plan in sorted(prep.plans.items()):
        for c in plan.conflicts:
            checks.append(GateCheck(name, "merge", "conflict", "fail", message=c.describe()))
        if plan.action == "keep" or plan.change is None:
            checks += _contract_checks(repo, name, prep, approval)
            continue
        checks += _dataset_checks(repo, name, plan, prep, approval)
    if not any(c.category != "protection" for c in checks):
        checks.append(GateCheck("*", "merge", "changes", "pass", message="the merge changes no dataset"))
    return GateReport(source, target, s_id, t_id, tuple(checks))


def _rule_changes(prep: PreparedMerge) -> list[GateCheck]:
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


def _rows(
    repo: Repository, name: str, refs: list[FileRef], schema: pa.Schema, extra: pa.Table | None
) -> pa.Table:
    """The rows the merge brings into the target: the files it adds and the rows it writes."""
    parts = [read_files(repo._layers, name, refs, schema)] if refs else []
    if extra is not None and extra.num_rows:
        parts.append(conform(extra, schema, allow_new_columns=False)[0])
    return pa.concat_tables(parts) if parts else schema.empty_table()


def _contract_checks(
    repo: Repository, name: str, prep: PreparedMerge, approval: str | None
) -> list[GateCheck]:
    """The contract change the branch brings, judged against the target's contract: a breaking
    change blocks unless the target's schema_evolution is ``any``. On a protected target every
    change (looser or not, a first contract, a removal) blocks unless it is approved; an approval
    turns the change's failures into warnings, and the merge commit records it."""
    source, target, base = prep.source_commit, prep.target_commit, prep.base
    t_key, s_key = target.contracts.get(name), source.contracts.get(name)
    if (base is not None and s_key == base.contracts.get(name)) or s_key == t_key:
        return []  # the branch did not touch the contract, or brings the one the target has
    checks: list[GateCheck] = []
    if prep.rules.protected:
        if approval:
            checks.append(GateCheck(name, "contract", "approval", "warn", value="approved", message=approval))
        else:
            checks.append(
                GateCheck(
                    name,
                    "contract",
                    "approval",
                    "fail",
                    value="not approved",
                    message=f"{prep.target} is protected: any change to its contract needs an explicit "
                    f"approval (lake merge {prep.source} --into {prep.target} "
                    '--approve-contract-change "why")',
                )
            )
    current = repo._contracts.get(t_key) if t_key else None
    demote = "warn" if approval else "fail"
    if s_key is None:
        checks.append(
            GateCheck(
                name,
                "contract",
                "removed",
                "warn",
                message="the branch removes the dataset's contract: its writes would go unchecked",
            )
        )
    elif current is None:
        checks.append(
            GateCheck(
                name,
                "contract",
                "proposed",
                "warn",
                message="the branch brings the first contract for this dataset; "
                "it takes effect after the merge",
            )
        )
    else:
        d = diff_contracts(current, repo._contracts.get(s_key))
        allowed = current.schema_evolution == "any"
        for c in d.changes:
            status = (
                demote
                if c.level == "breaking" and not allowed
                else "warn"
                if c.level != "compatible"
                else "pass"
            )
            checks.append(
                GateCheck(name, "contract", c.path, cast(Status, status), value=c.level, message=c.message)
            )
    return checks


def _dataset_checks(
    repo: Repository, name: str, plan: DatasetPlan, prep: PreparedMerge, approval: str | None
) -> list[GateCheck]:
    checks: list[GateCheck] = []
    change = plan.change
    assert change is not None
    target = prep.target_commit
    checks += _contract_checks(repo, name, prep, approval)
    t_key = target.contracts.get(name)
    contract = repo._contracts.get(t_key) if t_key else None
    if contract is None:
        if prep.rules.require_contracts and not is_quarantine(name) and name not in prep.contracts:
            checks.append(
                GateCheck(
                    name,
                    "contract",
                    "required",
                    "fail",
                    message=f"{prep.target} requires a contract for every dataset, and {name!r} has none",
                )
            )
        checks.append(
            GateCheck(
                name,
                "quality",
                "contract",
                "warn",
                message="the target has no contract for this dataset, so nothing judges its data",
            )
        )
        return checks
    snap = target.datasets.get(name)
    tview = View(repo._layers, name, snap) if snap is not None else None
    new_rows = _rows(repo, name, list(change.restore), change.schema, change.data)
    removed_rows = sum(r.file.rows for r in change.remove)

    # 1. schema against the target's rule
    deltas = schema_diff(snap.schema if snap else None, delta_schema_json(change.schema)) if snap else ()
    rule = contract.schema_evolution
    bad = [
        d
        for d in deltas
        if rule == "strict" or (rule == "additive" and not (isinstance(d, ColumnAdded) and d.nullable))
    ]
    checks.append(
        GateCheck(
            name,
            "schema",
            f"schema_evolution={rule}",
            "fail" if bad else "pass",
            value="; ".join(d.describe() for d in deltas) or "unchanged",
            threshold=rule,
            message=("not allowed: " + "; ".join(d.describe() for d in bad)) if bad else "",
        )
    )

    # 2. quality: every contract check, table-wide rules across both sides' rows
    typed = cast_to_contract(contract, new_rows)
    others = KeptRows(tview, change.remove) if tview is not None else None
    report, _ = validate(contract, typed.table, others=others, pre=typed.results)
    for r in report.results:
        checks.append(
            GateCheck(
                name,
                "quality",
                r.name,
                r.status,
                value=f"{r.failed_rows} of {r.rows} rows",
                threshold=r.threshold,
                message=r.message,
                samples=tuple(r.samples),
            )
        )

    # 3. drift of the rows the branch adds or changes, against the target's rows
    profile = repo._profiles.get(name, snap) if snap is not None else None
    checks += _drift(name, contract, typed.table, tview, profile)

    # 4. volume
    target_rows = snap.rows if snap else 0
    vol = contract.volume
    problems = []
    if vol is not None:
        if vol.max_rows_added is not None and new_rows.num_rows > vol.max_rows_added:
            problems.append(f"adds {new_rows.num_rows} rows, more than {vol.max_rows_added}")
        if vol.max_rows_removed is not None and removed_rows > vol.max_rows_removed:
            problems.append(f"removes {removed_rows} rows, more than {vol.max_rows_removed}")
        if vol.max_growth is not None and target_rows and new_rows.num_rows / target_rows > vol.max_growth:
            problems.append(
                f"grows the dataset by {new_rows.num_rows / target_rows:.1%}, more than {vol.max_growth:.1%}"
            )
    checks.append(
        GateCheck(
            name,
            "volume",
            "rows",
            "fail" if problems else "pass",
            value=f"+{new_rows.num_rows} / -{removed_rows} (target {target_rows})",
            threshold=", ".join(
                f"{k}={v}" for k, v in (vol.model_dump(exclude_none=True).items() if vol else [])
            ),
            message="; ".join(problems),
        )
    )
    return checks


def _drift(
    name: str, contract: Contract, current: pa.Table, tview: View | None, profile: Profile | None
) -> list[GateCheck]:
    """Drift of ``current`` against the target: from its profile when the target keeps one (a
    protected branch), else from a scan of the target's columns."""
    out: list[GateCheck] = []
    if tview is None:
        return out
    spec = contract.drift or DriftSpec()
    keys = [*contract.primary_key, *(c for c, s in contract.columns.items() if s.unique)]
    cur = pl.from_arrow(current)
    assert isinstance(cur, pl.DataFrame)
    columns = [c for c in contract.columns if c in cur.columns and c in tview.schema.names]
    if not columns:
        return out
    reference = None if profile is not None else tview.scan().select(columns).collect()
    for col in columns:
        cfg = spec.columns.get(col, spec.default)
        if cfg.method == "none":
            continue
        cur_s = cur[col]
        null_rate = None
        if profile is not None:
            prof = profile.columns.get(col)
            if prof is None or prof.kind == "other" or (prof.kind == "categorical" and prof.counts is None):
                out.append(
                    GateCheck(name, "drift", col, "skip", message="no distribution kept for this column")
                )
                continue
            ref_s = prof.reference(col)
            null_rate = prof.nulls / prof.rows if prof.rows else 0.0
            if prof.rows - prof.nulls < MIN_ROWS:
                ref_s = ref_s.head(0)  # too few values: column_drift says so
        else:
            assert reference is not None
            ref_s = reference[col]
        if cfg.method == "auto":
            why = identifier_reason(col, ref_s if profile is None else cur_s, keys)
            if why:
                out.append(GateCheck(name, "drift", col, "skip", message=why))
                continue
        if isinstance(cur_s.dtype, pl.Datetime) or cur_s.dtype == pl.Date:
            cur_s = cur_s.dt.epoch("s")
            if profile is None:
                ref_s = ref_s.dt.epoch("s")
        result = column_drift(col, ref_s, cur_s, cfg.method, cfg.threshold)
        if null_rate is not None:
            result.reference_summary["null_rate"] = round(null_rate, 6)
            result.reference_summary["rows"] = profile.columns[col].rows if profile else 0
            result.reference_summary["from"] = "profile"
        details: dict[str, Any] = {
            "method": result.method,
            "value": result.value,
            "reference": result.reference_summary,
            "current": result.current_summary,
        }
        if result.histogram is not None:
            details["histogram"] = result.histogram.to_dict()
        out.append(
            GateCheck(
                name,
                "drift",
                col,
                cast(Status, result.status),
                value="" if result.value is None else f"{result.value:.4f}",
                threshold="" if result.threshold is None else f"{result.method} {result.threshold}",
                message=result.reason,
                drift=details,
            )
        )
        ref_null = result.reference_summary.get("null_rate", 0.0)
        cur_null = result.current_summary.get("null_rate", 0.0)
        if abs(cur_null - ref_null) > 0.1:
            out.append(
                GateCheck(
                    name,
                    "drift",
                    f"{col}.null_rate",
                    "warn",
                    value=f"{cur_null:.1%}",
                    threshold=f"reference {ref_null:.1%} ± 10 points",
                )
            )
    return out
