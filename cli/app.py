"""The `lake` command line. One typer sub-app per noun; every command takes --json.

Exit codes: 0 success; 1 the data's verdict (a contract failure, a blocked gate, a merge
conflict, a protected branch refusing); 2 bad usage or input; 3 could not run (storage,
network, credentials, an internal error). Tracebacks only with --debug (or LAKE_DEBUG=1).

Imports cost what a command uses: at module level only typer, rich's console and the error
classes load, so ``lake --help`` and ``lake --version`` print at once. The repository (and with
it polars, pyarrow, deltalake, pandera, scipy) loads in the command that opens one.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import traceback
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.exceptions import TyperException

import lake
from lake import progress
from lake.errors import GateFailedError

from . import bars, config, output

if TYPE_CHECKING:
    import polars as pl

    from lake.maintain.fsck import FsckResult

app = typer.Typer(
    name="lake",
    help="Branches, commits, diffs and merges for Delta tables.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
branch_app = typer.Typer(help="Create, list, delete and protect branches.", no_args_is_help=True)
contract_app = typer.Typer(help="Data contracts: set, show, check, infer, diff, ODCS.", no_args_is_help=True)
tag_app = typer.Typer(help="Create, list and delete tags.", no_args_is_help=True)
app.add_typer(branch_app, name="branch")
app.add_typer(tag_app, name="tag")
app.add_typer(contract_app, name="contract")
config_app = typer.Typer(
    help="Settings: lake.toml (found upward from here), then the user's config file.", no_args_is_help=True
)
app.add_typer(config_app, name="config")

_state: dict[str, Any] = {"debug": False}

Repo = Annotated[
    str | None,
    typer.Option(
        "--repo",
        "-r",
        envvar="LAKE_REPO",
        help="Repository URI: a directory or s3://bucket/prefix.",
        show_default=".lake",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
Message = Annotated[str | None, typer.Option("--message", "-m", help="Commit message.")]
Author = Annotated[str | None, typer.Option("--author", envvar="LAKE_AUTHOR", help="Commit author.")]
BranchOpt = Annotated[str, typer.Option("--branch", "-b", envvar="LAKE_BRANCH", help="Branch to commit to.")]
Quarantine = Annotated[
    bool,
    typer.Option("--quarantine", help="Commit the valid rows; set the others aside in DATASET__quarantine."),
]
RefOpt = Annotated[str | None, typer.Option("--ref", help="Branch, tag or commit (default main).")]


class Mode(StrEnum):
    append = "append"
    overwrite = "overwrite"


class SchemaModeOpt(StrEnum):
    strict = "strict"
    merge = "merge"
    overwrite = "overwrite"


class ReadFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


def _open(repo: str | None) -> lake.Repository:
    from lake.repository import DEFAULT_REPO, Repository

    uri = repo or DEFAULT_REPO
    return Repository.open(uri, storage_options=_storage_options(uri))


def _storage_options(uri: str) -> dict[str, str] | None:
    """The settings files' storage options, for a repository on S3 (a local one takes none)."""
    settings: config.Settings | None = _state.get("settings")
    on_s3 = uri.startswith(("s3://", "s3a://"))
    return (settings.storage_options() or None) if settings is not None and on_s3 else None


def _write_output(path: Path, write: Callable[[Path], object]) -> None:
    """Write a command's ``--output`` file; a path that cannot be written is bad input (exit 2)."""
    try:
        write(path)
    except OSError as exc:
        raise lake.InvalidInputError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _version(value: bool) -> None:
    if value:
        output.out.print(f"lake {lake.__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", envvar="LAKE_DEBUG", help="Show tracebacks on errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colors (also: NO_COLOR set to anything, as no-color.org).")
    ] = False,
) -> None:
    _state["debug"] = _state["debug"] or debug


@app.command()
def init(
    uri: Annotated[
        str | None, typer.Argument(help="Where to create it (default: .lake here, or $LAKE_REPO).")
    ] = None,
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """Create a repository with a branch 'main'."""
    from lake.repository import DEFAULT_REPO, Repository

    target = uri or repo or DEFAULT_REPO
    r = Repository.init(target, storage_options=_storage_options(target))
    output.done(
        json_out,
        {"repository": r.uri, "branch": r.default_branch, "head": r.resolve("main")},
        f"initialized an empty lakegate repository at [bold]{r.uri}[/] on branch main",
    )


@app.command()
def write(
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    file: Annotated[Path, typer.Argument(help="A parquet, CSV or JSON-lines file.")],
    branch: BranchOpt = "main",
    mode: Annotated[Mode, typer.Option("--mode", help="Append rows or replace the dataset.")] = Mode.append,
    schema_mode: Annotated[
        SchemaModeOpt,
        typer.Option("--schema-mode", help="merge adds new columns; overwrite replaces the schema."),
    ] = SchemaModeOpt.strict,
    fmt: Annotated[str, typer.Option("--format", help="auto|parquet|csv|json")] = "auto",
    replace_where: Annotated[
        str | None,
        typer.Option(
            "--replace-where", help="With --mode overwrite: replace only the rows this SQL predicate selects."
        ),
    ] = None,
    partition_by: Annotated[
        list[str] | None,
        typer.Option(
            "--partition-by",
            help="A new dataset's partition column (repeat for more; comma-separated works too).",
        ),
    ] = None,
    quarantine: Quarantine = False,
    message: Message = None,
    author: Author = None,
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """Write a file's rows to a dataset on a branch, as one commit (checked against its contract)."""
    if fmt not in ("auto", "parquet", "csv", "json"):
        raise lake.UsageError(f"unknown --format {fmt!r}: use auto, parquet, csv or json")
    from .inputs import read_input

    opened = _open(repo)
    data = read_input(file, fmt, opened.contract(dataset, f"refs/heads/{branch}"))  # type: ignore[arg-type]
    result = opened.branch(branch).write(
        dataset,
        data,
        mode=mode.value,
        schema_mode=schema_mode.value,
        on_violation="quarantine" if quarantine else "reject",
        replace_where=replace_where,
        partition_by=[c.strip() for p in partition_by for c in p.split(",") if c.strip()]
        if partition_by
        else None,
        message=message or f"{mode.value} {file.name} to {dataset}",
        author=author,
    )
    output.write_result(result, json_out)


@app.command()
def delete(
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    where: Annotated[str, typer.Option("--where", "-w", help="SQL predicate of the rows to delete.")],
    branch: BranchOpt = "main",
    message: Message = None,
    author: Author = None,
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """Delete the rows matching a SQL predicate, as one commit."""
    result = _open(repo).branch(branch).delete(dataset, where, message=message, author=author)
    output.write_result(result, json_out)


@app.command()
def upsert(
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    file: Annotated[Path, typer.Argument(help="A parquet, CSV or JSON-lines file.")],
    key: Annotated[list[str], typer.Option("--key", "-k", help="Key column (repeat for a compound key).")],
    branch: BranchOpt = "main",
    fmt: Annotated[str, typer.Option("--format", help="auto|parquet|csv|json")] = "auto",
    quarantine: Quarantine = False,
    message: Message = None,
    author: Author = None,
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """Update rows whose key matches the file's rows and insert the rest, as one commit."""
    from .inputs import read_input

    opened = _open(repo)
    data = read_input(file, fmt, opened.contract(dataset, f"refs/heads/{branch}"))  # type: ignore[arg-type]
    result = opened.branch(branch).upsert(
        dataset,
        data,
        key=key,
        message=message,
        author=author,
        on_violation="quarantine" if quarantine else "reject",
    )
    output.write_result(result, json_out)


class ExportFormatOpt(StrEnum):
    delta = "delta"
    parquet = "parquet"


@app.command()
def export(
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    to: Annotated[str, typer.Option("--to", help="Where: a local path or s3://bucket/prefix.")],
    ref: Annotated[str | None, typer.Option("--ref", help="Branch, tag or commit (default main).")] = None,
    fmt: Annotated[
        ExportFormatOpt, typer.Option("--format", "-f", help="delta (a plain Delta table) or parquet files.")
    ] = ExportFormatOpt.delta,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace what the target holds.")] = False,
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """Copy a dataset at any ref to a plain Delta table (or parquet files) any engine reads."""
    result = _open(repo).export(dataset, to, ref, format=fmt.value, overwrite=overwrite)
    output.done(
        json_out,
        {
            "dataset": result.dataset,
            "commit": result.commit,
            "uri": result.uri,
            "format": result.format,
            "rows": result.rows,
        },
        f"exported {result.rows} rows of {dataset} at {ref or 'main'} ({output.short(result.commit)}) "
        f"to {result.uri} as {result.format}",
    )


@app.command()
def files(
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    ref: Annotated[str | None, typer.Option("--ref", help="Branch, tag or commit (default main).")] = None,
    manifest: Annotated[
        str | None,
        typer.Option(
            "--manifest",
            help="Also write a symlink-format manifest (for Presto, Trino, Athena) below this folder.",
        ),
    ] = None,
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """List the data files and the schema of a dataset at any ref, for engines that read files."""
    listed = _open(repo).files(dataset, ref, manifest=manifest)
    if json_out:
        output.emit_json(listed.to_dict())
        return
    output.table(
        f"{dataset} at {ref or 'main'} ({output.short(listed.commit)}): {len(listed.files)} files, "
        f"{listed.rows} rows",
        ["uri", "rows", "bytes", "partition"],
        [
            [f.uri, f.rows, f.size, ", ".join(f"{k}={v}" for k, v in f.partition.items())]
            for f in listed.files
        ],
    )
    output.table(
        None, ["column", "type", "nullable"], [[f.name, str(f.type), f.nullable] for f in listed.schema]
    )
    if manifest is not None:
        output.out.print(f"wrote the symlink-format manifest below {manifest}")


@app.command()
def read(
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    ref: Annotated[str | None, typer.Option("--ref", help="Branch, tag or commit (default main).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=0, help="At most this many rows.")] = None,
    where: Annotated[
        str | None,
        typer.Option(
            "--where", "-w", help="SQL predicate: only the rows it selects (files pruned by statistics)."
        ),
    ] = None,
    fmt: Annotated[
        ReadFormat, typer.Option("--format", "-f", help="table, csv, json (lines) or parquet.")
    ] = ReadFormat.table,
    output_file: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """Print a dataset at any branch, tag or commit."""
    import polars as pl
    import pyarrow.parquet as pq

    from lake.storage.faults import storage_errors

    if json_out:
        fmt = ReadFormat.json
    lake_repo = _open(repo)
    head = limit if limit is not None else (50 if fmt is ReadFormat.table and output_file is None else None)
    location = f"{lake_repo.table_uri(dataset)} at {ref or lake_repo.default_branch}"
    if head is None:  # every row: read by partition, reporting progress (the bars)
        whole = pl.from_arrow(lake_repo.read(dataset, ref, where=where))
        assert isinstance(whole, pl.DataFrame)
        data = whole
    else:  # a few rows: polars reads no more files than the head needs
        with storage_errors("read the data files of", location, lake_repo.config):
            data = lake_repo.scan(dataset, ref, where=where).head(head).collect()
    if fmt is ReadFormat.parquet:
        if output_file is None:
            raise lake.UsageError("--format parquet needs --output FILE")
        _write_output(output_file, lambda p: pq.write_table(data.to_arrow(), p))
        return
    if fmt is ReadFormat.table:
        if output_file is not None:
            raise lake.UsageError(
                "--format table prints to the terminal; use csv, json or parquet with --output"
            )
        output.table(f"{dataset} @ {ref or 'main'} ({data.height} rows shown)", data.columns, data.rows())
        return
    text = _render(data, fmt)
    if output_file is not None:
        _write_output(output_file, lambda p: p.write_text(text))
    else:
        sys.stdout.write(text)


def _override_note(metadata: Any) -> str:
    """What a log line must say plainly: overridden gates, approved contract changes, and
    changes of a branch's protection rules."""
    notes = []
    over = metadata.get("lake.override")
    if over:
        notes.append(f"[gate overridden by {over['by']}: {over['reason']}]")
    approval = metadata.get("lake.contract_approval")
    if approval:
        notes.append(
            f"[contract change of {', '.join(approval['datasets'])} approved by {approval['by']}: "
            f"{approval['reason']}]"
        )
    rules = metadata.get("lake.protection")
    if rules:
        words = ", ".join(f"{k}={'on' if v else 'off'}" for k, v in rules.items())
        notes.append(f"[RULES CHANGED: {words}]")
    return "".join(" " + n for n in notes)


def _render(data: pl.DataFrame, fmt: ReadFormat) -> str:
    if fmt is ReadFormat.json:
        return data.write_ndjson()
    import pyarrow.csv as pacsv

    buf = io.BytesIO()
    pacsv.write_csv(data.to_arrow(), buf)
    return buf.getvalue().decode()


@app.command()
def status(repo: Repo = None, json_out: Json = False) -> None:
    """The repository at a glance: default branch, protected branches and their rules, datasets
    with their contracts and row counts, and the branches ahead of the default branch."""
    opened = _open(repo)
    got = opened.status()
    if json_out:
        output.emit_json(got.to_dict())
        return
    output.out.print(
        f"repository [bold]{got.uri}[/], default branch [bold]{got.default_branch}[/] at "
        f"{output.short(got.head)}",
        highlight=False,
    )

    def rules(b: lake.BranchStatus) -> str:
        words = [
            w for w, on in (("protected", b.protected), ("requires contracts", b.require_contracts)) if on
        ]
        return ", ".join(words) or "-"

    guarded = [b for b in got.branches if b.protected or b.require_contracts]
    output.out.print(
        "protected: " + (", ".join(f"{b.name} ({rules(b)})" for b in guarded) if guarded else "no branch"),
        highlight=False,
    )
    output.table(
        f"datasets on {got.default_branch}",
        ["dataset", "rows", "files", "contract", "partitioned by"],
        [
            [
                d.name,
                d.rows,
                d.files,
                output.short(d.contract) if d.contract else "none",
                ", ".join(d.partition_by),
            ]
            for d in got.datasets
        ],
    )
    others = [b for b in got.branches if b.name != got.default_branch]
    output.table(
        f"branches (against {got.default_branch})",
        ["branch", "ahead", "behind", "head", "rules"],
        [[b.name, b.ahead, b.behind, output.short(b.commit), rules(b)] for b in others],
    )


@app.command()
def log(
    at: Annotated[
        str | None, typer.Argument(help="Start from this branch, tag or commit (as --ref).")
    ] = None,
    ref: Annotated[str | None, typer.Option("--ref", help="Start from this branch, tag or commit.")] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", "-d", help="Only commits that changed it.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1)] = None,
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """Show the history of a ref, newest first (lake log main, or lake log --ref main)."""
    if at is not None and ref is not None and at != ref:
        raise lake.UsageError(f"two refs given: {at!r} and --ref {ref!r}", hint="give one")
    ref = ref or at
    commits = _open(repo).log(ref, dataset=dataset, limit=limit)
    if json_out:
        output.emit_json([c.to_dict() for c in commits])
        return
    output.table(
        f"log of {ref or 'main'}" + (f" for {dataset}" if dataset else ""),
        ["commit", "time", "author", "message", "datasets changed"],
        [
            [
                output.short(c.id),
                c.commit.time[:19].replace("T", " "),
                c.commit.author,
                c.commit.message + _override_note(c.commit.metadata),
                ", ".join(sorted(c.commit.changes)),
            ]
            for c in commits
        ],
    )


@app.command()
def show(
    ref: Annotated[str, typer.Argument(help="Branch, tag or commit.")],
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """Show one commit: message, author, changes and datasets."""
    info = _open(repo).commit(ref)
    if json_out:
        output.emit_json(info.to_dict())
    else:
        output.commit_detail(info)


@app.command()
def datasets(
    ref: Annotated[str | None, typer.Option("--ref", help="Branch, tag or commit (default main).")] = None,
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """List the datasets at a ref with their size and schema."""
    infos = _open(repo).datasets(ref)
    if json_out:
        output.emit_json([d.to_dict() for d in infos])
        return
    output.table(
        f"datasets at {ref or 'main'}",
        ["dataset", "rows", "files", "columns", "plain Delta table"],
        [
            [
                d.name,
                d.rows,
                d.files,
                ", ".join(f"{n}:{t}" for n, t in d.columns),
                d.location or "(through lakegate)",
            ]
            for d in infos
        ],
    )


@app.command()
def diff(
    base: Annotated[str, typer.Argument(help="Branch, tag or commit to compare from.")],
    target: Annotated[str, typer.Argument(help="Branch, tag or commit to compare to.")],
    dataset: Annotated[str | None, typer.Option("--dataset", "-d")] = None,
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """Show per dataset the rows and files added and removed, and the schema changes."""
    d = _open(repo).diff(base, target, dataset=dataset)
    if json_out:
        output.emit_json(d.to_dict())
        return
    if not d.datasets:
        output.out.print(f"no differences between {base} and {target}")
        return
    output.table(
        f"diff {base} ({output.short(d.base)}) .. {target} ({output.short(d.target)})",
        ["dataset", "status", "rows +", "rows -", "files +", "files -", "schema"],
        [
            [
                x.dataset,
                x.status,
                x.rows_added,
                x.rows_removed,
                x.files_added,
                x.files_removed,
                "; ".join(c.describe() for c in x.schema_changes) or "unchanged",
            ]
            for x in d.datasets
        ],
    )


class RevertStrategyOpt(StrEnum):
    fail = "fail"
    revert_wins = "revert-wins"
    current_wins = "current-wins"


@app.command()
def revert(
    commit: Annotated[str, typer.Argument(help="The commit to undo.")],
    branch: BranchOpt = "main",
    parent: Annotated[
        int | None,
        typer.Option(
            "--parent",
            min=1,
            help="Revert a merge commit against this parent (1 = the branch merged into), as git's -m.",
        ),
    ] = None,
    strategy: Annotated[
        RevertStrategyOpt,
        typer.Option(
            "--strategy",
            help="When later commits changed the same rows: fail, revert-wins (bring the rows "
            "before the commit back) or current-wins (keep the rows as they are now).",
        ),
    ] = RevertStrategyOpt.fail,
    message: Message = None,
    author: Author = None,
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """Make a new commit on a branch that undoes the rows a commit changed (exit 1 on a conflict)."""
    result = _open(repo).revert(
        commit, branch=branch, parent=parent, strategy=strategy.value, message=message, author=author
    )
    output.write_result(result, json_out)


@app.command()
def optimize(
    dataset: Annotated[str, typer.Argument(help="The dataset whose small files to compact.")],
    branch: BranchOpt = "main",
    target_size: Annotated[
        str,
        typer.Option(
            "--target-size",
            help="The size of the files to write, e.g. 128MB or 64MiB (MB = 10^6 bytes, MiB = 2^20).",
        ),
    ] = "128MiB",
    author: Author = None,
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """Compact small files into one Delta OPTIMIZE commit (dataChange false): no row changes, so
    it is allowed on a protected branch. Old files stay for history until 'lake gc'."""
    from pydantic import ByteSize, TypeAdapter, ValidationError

    try:
        size = int(TypeAdapter(ByteSize).validate_python(target_size))
    except ValidationError:
        raise lake.InvalidInputError(
            f"--target-size {target_size!r} is not a size", hint="write it as 128MB, 64MiB or 1GB"
        ) from None
    result = _open(repo).optimize(dataset, branch=branch, target_size=size, author=author)
    output.write_result(result, json_out)


ApproveContractChange = Annotated[
    str | None,
    typer.Option(
        "--approve-contract-change",
        help="Approve the change of a protected target's contract, with the reason (recorded).",
    ),
]


class StrategyOpt(StrEnum):
    fail = "fail"
    source_wins = "source-wins"
    target_wins = "target-wins"


@app.command()
def merge(
    source: Annotated[str, typer.Argument(help="Branch, tag or commit to merge.")],
    into: Annotated[str, typer.Option("--into", help="Branch to merge into.")] = "main",
    strategy: Annotated[
        StrategyOpt, typer.Option("--strategy", help="What to do on a conflict.")
    ] = StrategyOpt.fail,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would happen; change nothing.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Merge although the gate fails (needs --reason).")
    ] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why the gate is overridden; recorded.")
    ] = None,
    approve_contract_change: ApproveContractChange = None,
    message: Message = None,
    author: Author = None,
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """Merge a branch into another (three-way, per dataset, copying no data) if the gate passes."""
    result = _open(repo).merge(
        source,
        into=into,
        strategy=strategy.value,
        dry_run=dry_run,
        force=force,
        reason=reason,
        approve_contract_change=approve_contract_change,
        message=message,
        author=author,
    )
    if json_out:
        output.emit_json(result.to_dict())
    else:
        output.merge_result(result)
    if result.conflicts and strategy is StrategyOpt.fail:
        raise typer.Exit(1)


class GateFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"
    junit = "junit"
    github = "github"
    html = "html"


class FailOn(StrEnum):
    fail = "fail"
    warn = "warn"


@app.command()
def gate(
    source: Annotated[str, typer.Argument(help="Branch (or tag, commit) under test.")],
    into: Annotated[str, typer.Option("--into", help="Branch it would merge into.")] = "main",
    fmt: Annotated[GateFormat, typer.Option("--format", "-f", help="Report format.")] = GateFormat.text,
    output_file: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to this file.")
    ] = None,
    output_dir: Annotated[
        Path | None,
        typer.Option(
            "--output-dir",
            help="Write the report in every format here, from one evaluation: lake-gate.txt, .json, .md, "
            ".xml (JUnit), .html and .github (annotations).",
        ),
    ] = None,
    summary: Annotated[
        bool, typer.Option("--summary", help="Also append the Markdown report to $GITHUB_STEP_SUMMARY.")
    ] = False,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 1 on fail (default) or also on warn.")
    ] = FailOn.fail,
    approve_contract_change: ApproveContractChange = None,
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """Run the merge gate (schema, quality, drift, volume) from the target's contract; exit 1 if blocked."""
    report = _open(repo).gate(source, into=into, approve_contract_change=approve_contract_change)
    if json_out:
        fmt = GateFormat.json
    text = {
        GateFormat.text: report.to_text,
        GateFormat.json: report.to_json,
        GateFormat.markdown: report.to_markdown,
        GateFormat.junit: report.to_junit,
        GateFormat.github: report.to_github,
        GateFormat.html: report.to_html,
    }[fmt]()
    if output_dir is not None:
        formats = {
            "txt": report.to_text,
            "json": report.to_json,
            "md": report.to_markdown,
            "xml": report.to_junit,
            "html": report.to_html,
            "github": report.to_github,
        }
        try:
            output_dir.mkdir(parents=True, exist_ok=True)
            for suffix, render in formats.items():
                (output_dir / f"lake-gate.{suffix}").write_text(render(), encoding="utf-8")
        except OSError as exc:
            raise lake.InvalidInputError(
                f"cannot write the reports to {output_dir}: {exc.strerror or exc}"
            ) from exc
        output.err.print(f"{report.headline()}\nreports written to {output_dir.resolve()}", highlight=False)
    if output_file is not None:
        _write_output(output_file, lambda p: p.write_text(text))
        output.err.print(f"{report.headline()}\nreport written to {output_file.resolve()}", highlight=False)
    elif output_dir is not None and fmt is GateFormat.text:
        pass  # the files hold it
    elif fmt is GateFormat.text:
        output.gate_report(report)
    else:
        sys.stdout.write(text)
    if summary:
        target = os.environ.get("GITHUB_STEP_SUMMARY")
        if not target:
            raise lake.UsageError("--summary needs $GITHUB_STEP_SUMMARY (set by GitHub Actions)")
        with open(target, "a") as fh:
            fh.write(report.to_markdown())
    if report.verdict == "fail" or (report.verdict == "warn" and fail_on is FailOn.warn):
        raise typer.Exit(1)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            break
    return f"{value:.1f} {unit}"


@app.command("validate")
def validate_file(
    file: Annotated[Path, typer.Argument(help="A parquet, CSV or JSON-lines file.")],
    contract: Annotated[
        Path, typer.Option("--contract", "-c", help="The contract (YAML) to check it against.")
    ],
    fmt: Annotated[str, typer.Option("--format", help="text|json|junit")] = "text",
    input_format: Annotated[str, typer.Option("--input-format", help="auto|parquet|csv|json")] = "auto",
    json_out: Json = False,
) -> None:
    """Check a file against a contract, with no repository: exit 0 when it passes, 1 when a
    check fails (lake validate out.parquet --contract orders.yaml --format junit > report.xml)."""
    if fmt not in ("text", "json", "junit"):
        raise lake.UsageError(f"unknown --format {fmt!r}: use text, json or junit")
    if input_format not in ("auto", "parquet", "csv", "json"):
        raise lake.UsageError(f"unknown --input-format {input_format!r}: use auto, parquet, csv or json")
    from lake.contracts import Contract
    from lake.standalone import validate

    from .inputs import read_input

    spec = Contract.from_yaml(contract)  # first: a broken contract is named before any data is read
    report = validate(read_input(file, input_format, spec), spec)  # type: ignore[arg-type]
    if json_out or fmt == "json":
        output.emit_json(report.to_dict())
    elif fmt == "junit":
        from lake.validation.junit import to_junit

        sys.stdout.write(to_junit(report, name=f"{file.name} against {contract.name}"))
    else:
        output.validation_report(report)
    if not report.ok:
        raise typer.Exit(1)


@app.command("gc")
def gc_command(
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than",
            help="Keep every commit newer than this (30m, 12h, 7d, 2w); branch and tag heads always.",
        ),
    ] = "7d",
    grace: Annotated[
        str, typer.Option("--grace", help="Delete nothing younger than this (an in-flight writer's files).")
    ] = "1h",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would be freed; delete nothing.")
    ] = False,
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """Delete the files no branch, tag or recent commit can reach (the lake's VACUUM)."""
    result = _open(repo).gc(older_than=older_than, grace=grace, dry_run=dry_run)
    if json_out:
        output.emit_json(result.to_dict())
        return
    total = result.total
    verb = "would free" if dry_run else "freed"
    output.out.print(
        f"{verb} [bold]{total.files}[/] files, [bold]{_size(total.bytes)}[/] "
        f"(kept {result.retained} commits: every branch and tag head, and all newer than {result.horizon})",
        highlight=False,
    )
    output.table(
        None,
        ["what", "files", "size"],
        [
            ["data files of failed writes and expired commits", result.data.files, _size(result.data.bytes)],
            [
                f"layers of deleted branches ({len(result.layers)})",
                result.layer_files.files,
                _size(result.layer_files.bytes),
            ],
            ["contracts, profiles no kept commit names", result.metadata.files, _size(result.metadata.bytes)],
        ],
    )
    if result.expired:
        will = "would expire" if dry_run else "expired"
        output.out.print(
            f"{len(result.expired)} commit(s) {will}: their messages stay in 'lake log', their data is gone",
            highlight=False,
        )
    for line in result.skipped:
        output.err.print(f"[yellow]skipped[/] {line}", highlight=False)


class RepairOpt(StrEnum):
    adopt = "adopt"
    undo = "undo"


@app.command("fsck")
def fsck_command(
    grace: Annotated[
        str, typer.Option("--grace", help="Files younger than this are no orphans (in-flight writers).")
    ] = "1h",
    repair: Annotated[
        RepairOpt | None,
        typer.Option(
            "--repair",
            help="Decide about Delta versions other engines wrote: adopt them (on a protected branch "
            "the gate judges them as a merge) or undo them (a new Delta version without their files).",
        ),
    ] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", "-d", help="Repair this dataset only (default: every one).")
    ] = None,
    branch: Annotated[
        str, typer.Option("--branch", "-b", help="The branch whose tables to repair.")
    ] = "main",
    reason: Annotated[str | None, typer.Option("--reason", help="Why (recorded in the commit).")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Adopt although the gate blocks (needs --reason; recorded).")
    ] = False,
    author: Author = None,
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """Check refs, commits, contracts, profiles and data files; list foreign and orphaned Delta
    versions, orphan files and whose each branch layer is. Exit 1 when anything is found."""
    opened = _open(repo)
    repaired: list[dict[str, object]] = []
    if repair is not None:
        if not (reason or "").strip():
            raise lake.InvalidInputError(
                "--repair needs --reason: say why the foreign change is kept or undone"
            )
        names = [dataset] if dataset else [p.dataset for p in opened.foreign(branch)]
        for name in names:
            done = opened.repair_foreign(
                name, repair.value, reason=reason or "", branch=branch, force=force, author=author
            )
            if done is not None:
                repaired.append({"dataset": name, "decision": repair.value, "commit": done.commit})
                if not json_out:
                    output.out.print(
                        f"{'adopted' if repair.value == 'adopt' else 'undid'} the foreign versions of "
                        f"{name} on {branch}: commit {output.short(done.commit)}",
                        highlight=False,
                        markup=False,
                    )
            elif not json_out:
                output.out.print(f"{name}: no foreign versions on {branch}", highlight=False, markup=False)
    result = opened.fsck(grace=grace)
    if json_out:
        output.emit_json(
            {**result.to_dict(), "repaired": repaired} if repair is not None else result.to_dict()
        )
    else:
        _fsck_report(result)
    if not result.clean:
        raise typer.Exit(1)


def _fsck_report(result: FsckResult) -> None:
    checked = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in result.checked.items())
    output.out.print(f"checked {checked}", highlight=False)
    if result.problems:
        output.table(
            "problems", ["kind", "where", "problem"], [[p.kind, p.where, p.message] for p in result.problems]
        )
    if result.unnamed:
        output.table(
            "Delta versions no lake commit names",
            ["dataset", "branch", "version", "kind", "operation", "written by"],
            [
                [
                    u.dataset,
                    u.branch,
                    u.version,
                    u.kind,
                    u.operation,
                    f"lake txn {u.txn}" if u.txn else u.engine,
                ]
                for u in result.unnamed
            ],
        )
    if result.orphans:
        output.table(
            "orphan files (in no Delta version; 'lake gc' reclaims them)",
            ["dataset", "file", "size", "modified"],
            [[o.dataset, o.path, _size(o.size), o.modified] for o in result.orphans],
        )
    if result.layers:
        output.table(
            "branch layers",
            ["dataset", "layer", "branch", "status", "created from", "files", "size"],
            [
                [
                    b.dataset,
                    b.layer,
                    b.branch or "?",
                    b.status,
                    output.short(b.created_from) if b.created_from else "",
                    b.files,
                    _size(b.bytes),
                ]
                for b in result.layers
            ],
        )
    for w in result.warnings:
        output.err.print(f"[yellow]warning:[/] {w.where}: {w.message}", highlight=False)
    if result.clean:
        output.out.print("[green]clean[/]")
    else:
        found = len(result.problems) + len(result.unnamed) + len(result.orphans)
        output.out.print(f"[bold red]{found} finding(s)[/]")


@branch_app.command("create")
def branch_create(
    name: Annotated[str, typer.Argument(help="New branch name (git ref-name rules).")],
    from_ref: Annotated[
        str | None, typer.Option("--from", help="Branch, tag or commit to start from.")
    ] = None,
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """Create a branch. Copies no data."""
    r = _open(repo)
    b = r.create_branch(name, from_ref)
    head = b.head
    output.done(
        json_out, {"name": name, "commit": head}, f"created branch [bold]{name}[/] at {output.short(head)}"
    )


@branch_app.command("list")
def branch_list(repo: Repo = None, json_out: Json = False) -> None:
    """List branches and their heads."""
    infos = _open(repo).branches()
    output.listing(
        json_out,
        infos,
        "branches",
        ["branch", "head", "protected"],
        lambda b: [b.name, output.short(b.commit), "yes" if b.protected else ""],
    )


@branch_app.command("delete")
def branch_delete(
    name: Annotated[str, typer.Argument(help="Branch to delete.")],
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """Delete a branch (its commits stay reachable from tags and other branches)."""
    _open(repo).delete_branch(name)
    output.done(json_out, {"deleted": name}, f"deleted branch [bold]{name}[/]")


@tag_app.command("create")
def tag_create(
    name: Annotated[str, typer.Argument(help="Tag name.")],
    ref: Annotated[str | None, typer.Argument(help="Branch, tag or commit (default main).")] = None,
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """Tag a commit. Tags never move."""
    info = _open(repo).create_tag(name, ref)
    output.done(json_out, info.to_dict(), f"tagged {output.short(info.commit)} as [bold]{name}[/]")


@tag_app.command("list")
def tag_list(repo: Repo = None, json_out: Json = False) -> None:
    """List tags."""
    infos = _open(repo).tags()
    output.listing(json_out, infos, "tags", ["tag", "commit"], lambda t: [t.name, output.short(t.commit)])


@tag_app.command("delete")
def tag_delete(
    name: Annotated[str, typer.Argument(help="Tag to delete.")], repo: Repo = None, json_out: Json = False
) -> None:
    """Delete a tag."""
    _open(repo).delete_tag(name)
    output.done(json_out, {"deleted": name}, f"deleted tag [bold]{name}[/]")


@branch_app.command("protect")
def branch_protect(
    name: Annotated[str, typer.Argument(help="Branch to protect.")],
    require_contracts: Annotated[
        bool,
        typer.Option(
            "--require-contracts", help="Only require a contract for every dataset (writes stay allowed)."
        ),
    ] = False,
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """Protect a branch: it changes only by merges and cannot be deleted.
    With --require-contracts, only require a contract for every dataset written on it."""
    r = _open(repo)
    if require_contracts:
        r.protect(name, require_contracts=True)
        text = f"branch [bold]{name}[/] now requires a contract for every dataset"
    else:
        r.protect(name, protected=True)
        text = f"branch [bold]{name}[/] is protected: it changes only by merges"
    output.done(
        json_out,
        {"branch": name, "protected": not require_contracts, "require_contracts": require_contracts},
        text,
    )


@branch_app.command("unprotect")
def branch_unprotect(
    name: Annotated[str, typer.Argument(help="Branch.")], repo: Repo = None, json_out: Json = False
) -> None:
    """Lift a branch's rules."""
    _open(repo).protect(name, protected=False, require_contracts=False)
    output.done(
        json_out, {"branch": name, "require_contracts": False}, f"branch [bold]{name}[/] has no rules now"
    )


ContractFile = Annotated[Path, typer.Argument(help="A contract YAML file.")]


@contract_app.command("set")
def contract_set(
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    file: ContractFile,
    branch: BranchOpt = "main",
    message: Message = None,
    author: Author = None,
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """Commit a contract for a dataset; every later write on the branch is checked against it."""
    result = _open(repo).branch(branch).set_contract(dataset, file, message=message, author=author)
    output.done(
        json_out,
        result.to_dict(),
        f"committed the contract of [bold]{dataset}[/] on [bold]{branch}[/] as {output.short(result.commit)}",
    )


@contract_app.command("show")
def contract_show(
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    ref: RefOpt = None,
    odcs: Annotated[bool, typer.Option("--odcs", help="Print it as an ODCS v3 document.")] = False,
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """Print the contract in force for a dataset at a ref (YAML, ODCS or --json)."""

    contract = _open(repo).contract(dataset, ref)
    if contract is None:
        raise lake.DatasetNotFoundError(f"dataset {dataset!r} has no contract at {ref or 'main'!r}")
    output.contract(contract, as_json=json_out, odcs=odcs)


@contract_app.command("check")
def contract_check(
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    ref: RefOpt = None,
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """Validate a dataset's data at a ref against its contract there. Writes nothing."""
    report = _open(repo).check_contract(dataset, ref)
    if json_out:
        output.emit_json(report.to_dict())
    else:
        output.validation_report(report)
    if not report.ok:
        raise typer.Exit(1)


@contract_app.command("infer")
def contract_infer(
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    ref: RefOpt = None,
    repo: Repo = None,
    json_out: Json = False,
) -> None:
    """Draft a contract from a dataset's data: lake contract infer orders > orders.yaml"""
    contract = _open(repo).infer_contract(dataset, ref)
    output.contract(contract, as_json=json_out)


@contract_app.command("diff")
def contract_diff(
    old: Annotated[Path, typer.Argument(help="The current contract (YAML).")],
    new: Annotated[Path, typer.Argument(help="The proposed contract (YAML).")],
    json_out: Json = False,
) -> None:
    """Classify every change between two contracts; exit 1 when one is breaking."""
    from lake.contracts import Contract, diff_contracts

    result = diff_contracts(Contract.from_yaml(old), Contract.from_yaml(new))
    if json_out:
        output.emit_json(result.to_dict())
    else:
        output.contract_diff(result)
    if result.breaking:
        raise typer.Exit(1)


@contract_app.command("import-odcs")
def contract_import_odcs(
    file: Annotated[Path, typer.Argument(help="An ODCS v3 document (v3.0.0 to v3.1.0), YAML or JSON.")],
    dataset: Annotated[
        str | None, typer.Option("--dataset", "-d", help="Import this table only (its name or physicalName).")
    ] = None,
    output_dir: Annotated[
        Path | None,
        typer.Option("--output-dir", "-o", help="Write one contract file per table here, as DATASET.yaml."),
    ] = None,
    json_out: Json = False,
) -> None:
    """Convert an ODCS v3 data contract into lakegate contracts, one per table.

    The document is checked against the official ODCS JSON schema of its apiVersion. Every rule is
    translated, or refused with its name and line (all at once, exit 2), or imported with a warning
    on stderr (and in --json) saying what was not carried. Without --output-dir the contracts go to
    stdout, several as a multi-document YAML."""
    from lake.contracts.odcs import import_odcs

    if not file.is_file():
        raise lake.InvalidInputError(f"no such file: {file}")
    result = import_odcs(file.read_text(), dataset=dataset, label=str(file))
    written: list[Path] = []
    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
        for c in result.contracts:
            if "/" in c.dataset or "\\" in c.dataset or c.dataset in (".", ".."):
                raise lake.InvalidInputError(f"table {c.dataset!r} cannot be a file name in {output_dir}")
            target = output_dir / f"{c.dataset}.yaml"
            target.write_text(c.to_yaml())
            written.append(target)
    output.odcs_import(result, written=written, as_json=json_out, to_stdout=output_dir is None)


@contract_app.command("export-odcs")
def contract_export_odcs(file: ContractFile, json_out: Json = False) -> None:
    """Convert a lakegate contract file into an ODCS v3 document (YAML on stdout)."""
    from lake.contracts import Contract

    contract = Contract.from_yaml(file)
    output.contract(contract, as_json=json_out, odcs=True)


@config_app.command("list")
def config_list(json_out: Json = False) -> None:
    """Show every setting as commands see it, and where it comes from (flags still win)."""
    rows = _state["settings"].effective()
    if json_out:
        output.emit_json([{"key": r.key, "value": r.value, "source": r.source} for r in rows])
        return
    output.table("settings", ["key", "value", "source"], [[r.key, r.value or "", r.source] for r in rows])


@config_app.command("get")
def config_get(
    key: Annotated[str, typer.Argument(help="repo, branch, author, or storage.NAME.")],
    json_out: Json = False,
) -> None:
    """Print one setting's value (nothing when it is not set)."""
    wanted = key if not key.lower().startswith("storage.") else "storage." + key.split(".", 1)[1].upper()
    known = {r.key: r for r in _state["settings"].effective()}
    if wanted not in known and not wanted.startswith("storage."):
        raise lake.UsageError(f"unknown setting {key!r}", hint="settings: repo, branch, author, storage.NAME")
    found = known.get(wanted)
    if json_out:
        output.emit_json({"key": wanted, "value": found.value if found else None})
    elif found is not None and found.value is not None:
        output.out.print(found.value, highlight=False, markup=False)


@config_app.command("set")
def config_set(
    key: Annotated[str, typer.Argument(help="repo, branch, author, or storage.NAME.")],
    value: Annotated[str, typer.Argument(help="The value.")],
    user: Annotated[bool, typer.Option("--user", help="In the user's config file, not lake.toml.")] = False,
) -> None:
    """Set a setting in the nearest lake.toml (a new one here if none), or the user's file."""
    path = config.set_value(key, value, user=user)
    output.out.print(f"set {key} in {path}", highlight=False)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: maps every error to one sentence and an exit code.

    0 ok; 1 the data's verdict (a refusal, a conflict, a failed check); 2 bad usage or input;
    3 could not run (storage, network, credentials, or an internal error)."""
    from rich.markup import escape

    argv, flags = _global_flags(list(sys.argv[1:] if argv is None else argv))
    debug = os.environ.get("LAKE_DEBUG", "") not in ("", "0") or "--debug" in flags
    _state["debug"] = debug
    if "--no-color" in flags or os.environ.get("NO_COLOR"):
        output.no_color()
    try:
        settings = _state["settings"] = config.load()
        defaults = config.default_map(typer.main.get_command(app), settings)
        display = bars.Display() if bars.Display.wanted() and "--json" not in argv else None
        try:
            with progress.reporting(display):
                rc = app(args=argv, prog_name="lake", standalone_mode=False, default_map=defaults)
        finally:
            if display is not None:
                display.stop()
        if isinstance(rc, int):  # a command's typer.Exit(code), returned in non-standalone mode
            return rc
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        output.err.print("aborted")
        return 1
    except TyperException as exc:  # bad usage, as click reports it
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            output.err.print(f"[bold red]error:[/] {exc}")
        return 2
    except lake.LakeError as exc:
        if debug:
            traceback.print_exc()
        if isinstance(exc, GateFailedError) and "--json" not in (argv or sys.argv[1:]):
            output.gate_report(exc.report, stream=output.err)
        if "--json" in (argv or sys.argv[1:]):
            output.emit_json(exc.to_dict())  # the same facts, as data, and nothing else on stdout
            return exc.exit_code
        if isinstance(exc, lake.ContractViolationError):
            for report in exc.reports:
                output.validation_report(report, stream=output.err)
        output.error(exc)
        return exc.exit_code
    except BrokenPipeError:  # the reader of our output went away (lake read | head): not a fault
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")
        return 0
    except OSError as exc:  # I/O that no layer below mapped (e.g. a polars scan): could not run
        from lake.storage import faults

        if debug:
            traceback.print_exc()
        failure = faults.unmapped(exc)
        if "--json" in (argv or sys.argv[1:]):
            output.emit_json(failure.to_dict())
        else:
            output.error(failure)
        return failure.exit_code
    except Exception as exc:
        if debug:
            traceback.print_exc()
        if _arrow_error(exc):  # data that cannot be read or converted (I/O errors are OSErrors, above)
            output.err.print(f"[bold red]error:[/] {exc}")
            return 2
        from lake.storage import faults

        said = faults.mask(f"{type(exc).__name__}: {exc}", faults.env_secrets())
        output.err.print(f"[bold red]internal error:[/] {escape(said)}", highlight=False)
        output.err.print("[dim]hint:[/] run again with --debug for the traceback, and report it")
        return 3
    return 0


_GLOBAL_FLAGS = ("--debug", "--no-color")


def _global_flags(argv: list[str]) -> tuple[list[str], set[str]]:
    """``argv`` without the flags accepted anywhere on the line (before a ``--``), and those flags."""
    end = argv.index("--") if "--" in argv else len(argv)
    found = {a for a in argv[:end] if a in _GLOBAL_FLAGS}
    return [a for a in argv[:end] if a not in _GLOBAL_FLAGS] + argv[end:], found


def _arrow_error(exc: Exception) -> bool:
    """Whether ``exc`` is pyarrow's: only possible once a command has loaded pyarrow, so this
    never imports it."""
    pa = sys.modules.get("pyarrow")
    return pa is not None and isinstance(exc, pa.ArrowException)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
