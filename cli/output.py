"""Rendering results for people (rich tables) and for programs (--json); errors in one place.

Only rich's console loads with this module (every command prints); tables, and the contract and
report types, load when something is rendered, so that ``lake --help`` stays fast."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

import lake

if TYPE_CHECKING:
    from pathlib import Path

    from rich.table import Table

    from lake.contracts import Contract, ContractDiff
    from lake.contracts.odcs import OdcsImport
    from lake.validation.gate_report import GateReport
    from lake.validation.report import ValidationReport

# Off a terminal (CI logs, pipes) rich would wrap tables at 80 columns; 120 reads better there.
_WIDTH = int(os.environ.get("COLUMNS", "0")) or (None if sys.stdout.isatty() else 120)
out = Console(soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, soft_wrap=True, width=_WIDTH)


def no_color() -> None:
    """Print without colors or styles (``--no-color``, ``NO_COLOR``)."""
    for console in (out, err):
        console.no_color = True


def emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def done(as_json: bool, payload: Any, message: str) -> None:
    """Report a finished command: ``payload`` as JSON, or ``message`` for a person."""
    if as_json:
        emit_json(payload)
    else:
        out.print(message)


def listing(
    as_json: bool,
    items: Sequence[Any],
    title: str,
    columns: Sequence[str],
    row: Callable[[Any], Sequence[Any]],
) -> None:
    """A list of results: their dicts as JSON, or one table row each."""
    if as_json:
        emit_json([i.to_dict() for i in items])
    else:
        table(title, columns, [row(i) for i in items])


def _table(title: str | None, columns: Sequence[str], **options: Any) -> Table:
    """An empty rich table with our title style and folding columns (rich.table loads here)."""
    from rich.table import Table

    t = Table(title=title, title_justify="left", **options)
    for c in columns:
        t.add_column(c, overflow="fold")
    return t


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    from rich.text import Text

    t = _table(title, columns, header_style="bold")
    for row in rows:
        t.add_row(*(Text("" if v is None else str(v)) for v in row))  # data, never markup
    out.print(t)


def short(cid: str) -> str:
    return cid[:12]


def error(exc: lake.LakeError) -> None:
    err.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False, markup=True)
    if exc.hint:
        err.print(f"[dim]hint:[/] {escape(exc.hint)}", highlight=False)


def changes_rows(result: lake.WriteResult) -> list[list[Any]]:
    return [
        [name, ch.operation, ch.rows_added, ch.rows_removed, ch.files_added, ch.files_removed]
        for name, ch in sorted(result.datasets.items())
    ]


def adopted(records: Sequence[Mapping[str, Any]]) -> None:
    """Say on stderr which commits of other engines a write or merge adopted first."""
    for a in records:
        versions = ", ".join(f"{v} ({op})" for v, op in zip(a["versions"], a["operations"], strict=False))
        engines = ", ".join(a.get("engines", ())) or "another engine"
        kind = "a change of data" if a.get("data_change") else "maintenance: no row changed"
        err.print(
            f"note: adopted Delta version(s) {versions} of {a['dataset']}, written by {engines} "
            f"outside the lake ({kind}), as commit {short(a['commit'])}",
            highlight=False,
            markup=False,
        )


def write_result(result: lake.WriteResult, as_json: bool) -> None:
    adopted(result.adopted)
    if as_json:
        emit_json(result.to_dict())
        return
    if not result.changed:
        out.print(f"nothing changed on [bold]{result.branch}[/] (head {short(result.commit)})")
        return
    out.print(f"committed [bold]{short(result.commit)}[/] on [bold]{result.branch}[/]")
    table(None, ["dataset", "operation", "rows +", "rows -", "files +", "files -"], changes_rows(result))
    for report in result.validation.values():
        if report.warnings or report.quarantined:
            validation_report(report)


def commit_detail(info: lake.CommitInfo) -> None:
    c = info.commit
    out.print(f"[bold yellow]commit {info.id}[/]")
    if len(c.parents) > 1:
        out.print("merge:  " + " ".join(short(p) for p in c.parents))
    out.print(f"author: {c.author}\ndate:   {c.time}\n\n    {c.message}\n", highlight=False)
    meta = {k: v for k, v in c.metadata.items() if k != "lake.txn"}
    if meta:
        out.print("metadata: " + json.dumps(meta, default=str), highlight=False)
    if c.changes:
        table(
            "changes",
            ["dataset", "operation", "rows +", "rows -", "files +", "files -"],
            [
                [n, ch.operation, ch.rows_added, ch.rows_removed, ch.files_added, ch.files_removed]
                for n, ch in sorted(c.changes.items())
            ],
        )
    if c.datasets:
        table(
            "datasets",
            ["dataset", "rows", "files", "layers"],
            [
                [n, s.rows, s.files, ", ".join(f"{lay.path or '(main)'}@v{lay.version}" for lay in s.layers)]
                for n, s in sorted(c.datasets.items())
            ],
        )


_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red"}


def validation_report(report: ValidationReport, *, stream: Console = out) -> None:
    """Per check: status, column, failing rows and fraction; then up to 10 sample rows each."""
    verdict = "[green]passed[/]" if report.ok else "[bold red]FAILED[/]"
    counts = f"{report.rows} rows, contract {short(report.contract)}"
    title = f"contract check of {report.dataset}: {verdict} ({counts})"
    t = _table(title, ("check", "column", "status", "failing rows", "fraction", "rule"), header_style="bold")
    shown = [r for r in report.results if r.status != "pass"]
    if not shown:
        stream.print(f"{title}: all {len(report.results)} checks passed")
        return
    for r in shown:
        t.add_row(
            r.name,
            r.column or "",
            f"[{_STYLE[r.status]}]{r.status}[/]",
            str(r.failed_rows),
            f"{r.fraction:.2%}",
            r.threshold + (f" ({r.message})" if r.message else ""),
        )
    stream.print(t)
    stream.print(f"{len(report.results) - len(shown)} other checks passed")
    for r in shown:
        if r.samples:
            cols = list(r.samples[0])
            s = _table(f"sample rows breaking {r.name}", cols)
            for row in r.samples:
                s.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in cols))
            stream.print(s)
    if report.quarantined:
        stream.print(f"{report.quarantined} rows were set aside in {report.dataset}__quarantine")


def contract_diff(diff: ContractDiff) -> None:
    style = {"breaking": "bold red", "warning": "yellow", "compatible": "green"}
    t = _table("contract changes", ("level", "where", "change"), header_style="bold")
    for c in diff.changes:
        t.add_row(f"[{style[c.level]}]{c.level}[/]", c.path, c.message)
    out.print(t if diff.changes else "no changes")
    out.print(", ".join(f"{diff.count(lvl)} {lvl}" for lvl in ("breaking", "warning", "compatible")))


def merge_result(result: lake.MergeResult) -> None:
    adopted(result.adopted)
    verb = "would merge" if result.dry_run else "merged"
    if result.kind == "up-to-date":
        out.print(f"{result.target} already contains {result.source}: nothing to merge")
        return
    head = f" as {short(result.commit)}" if result.commit else ""
    out.print(f"{verb} [bold]{result.source}[/] into [bold]{result.target}[/] ({result.kind}){head}")
    if result.datasets:
        table(
            None,
            ["dataset", "operation", "rows +", "rows -", "files +", "files -"],
            [
                [n, ch.operation, ch.rows_added, ch.rows_removed, ch.files_added, ch.files_removed]
                for n, ch in sorted(result.datasets.items())
            ],
        )
    for c in result.conflicts:
        err.print(f"[bold red]conflict[/] {c.describe()}", highlight=False)


def gate_report(report: GateReport, *, stream: Console = out) -> None:
    style = {"pass": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}
    columns = ("dataset", "check", "status", "value", "threshold", "note")
    t = _table(report.headline(), columns, header_style="bold")
    for c in report.checks:
        if c.status == "pass" and c.category == "quality":
            continue  # passing contract checks are counted in the headline, not listed
        t.add_row(
            c.dataset,
            f"{c.category}/{c.name}",
            f"[{style[c.status]}]{c.status}[/]",
            c.value,
            c.threshold,
            c.message,
        )
    stream.print(t)


def odcs_import(result: OdcsImport, *, written: Sequence[Path], as_json: bool, to_stdout: bool) -> None:
    """An ODCS import: warnings on stderr; the contracts on stdout (several as a multi-document
    YAML) or the files written; or all of it as JSON."""
    for w in result.warnings:
        err.print(f"warning: {w}", highlight=False, markup=False)
    if as_json:
        payload = result.to_dict()
        payload["written"] = [str(p) for p in written]
        emit_json(payload)
        return
    if to_stdout:
        sys.stdout.write("---\n".join(c.to_yaml() for c in result.contracts))
    for path in written:
        print(f"wrote {path}")


def contract(item: Contract, *, as_json: bool, odcs: bool = False) -> None:
    """A contract on stdout: our YAML (what `lake contract set` takes) or ODCS v3; or as JSON."""
    from lake.contracts.odcs import to_odcs, to_odcs_yaml

    if as_json:
        emit_json(to_odcs(item) if odcs else item.to_dict())
    else:
        sys.stdout.write(to_odcs_yaml(item) if odcs else item.to_yaml())
