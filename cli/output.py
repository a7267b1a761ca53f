"""Rendering results for people (rich tables) and for programs (--json); errors in one place."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

import lake

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def done(as_json: bool, payload: Any, message: str) -> None:
    """Report a finished command: ``payload`` as JSON, or ``message`` for a person."""
    if as_json:
        emit_json(payload)
    else:
        out.print(message)


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    t = Table(title=title, title_justify="left", header_style="bold")
    for c in columns:
        t.add_column(c, overflow="fold")
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    out.print(t)


def short(cid: str) -> str:
    return cid[:12]


def error(exc: lake.LakeError) -> None:
    err.print(f"[bold red]error:[/] {exc.message}", highlight=False, markup=True)
    if exc.hint:
        err.print(f"[dim]hint:[/] {exc.hint}", highlight=False)


def changes_rows(result: lake.WriteResult) -> list[list[Any]]:
    return [
        [name, ch.operation, ch.rows_added, ch.rows_removed, ch.files_added, ch.files_removed]
        for name, ch in sorted(result.datasets.items())
    ]


def write_result(result: lake.WriteResult, as_json: bool) -> None:
    if as_json:
        emit_json(result.to_dict())
        return
    if not result.changed:
        out.print(f"nothing changed on [bold]{result.branch}[/] (head {short(result.commit)})")
        return
    out.print(f"committed [bold]{short(result.commit)}[/] on [bold]{result.branch}[/]")
    table(None, ["dataset", "operation", "rows +", "rows -", "files +", "files -"], changes_rows(result))


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
