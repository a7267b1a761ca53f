"""Every hostile input the issues named, in one table (issue 15, "Hostile input").

Each row of :data:`HOSTILE_CASES` is one input a hostile or careless user gives: a name, a file, a
contract, YAML, SQL, a regular expression, a ref or a credential, given through the CLI or the
Python API, with the outcome the lake owes them. One test runs every row on a real repository
(local disk, and moto's S3 where storage matters) and checks that:

- a refusal is the row's :class:`lake.LakeError` with the row's exit code, its message says what
  failed (the row's ``says``) on one line (a contract's problems: one line each, under one head
  line) and it carries a hint; the CLI prints no traceback, and ``--json`` names the same error;
- an accepted input reads back as the row says;
- a row about credentials never shows the secret, in any output;
- afterwards nothing changed (refusals: every branch and tag where it was) and fsck finds nothing;
- every row finishes within :data:`CASE_SECONDS` (a hang is a failure, not a slow test).

:func:`hostile_rows` gives the table as data: docs/reliability.md is rendered from it, so the
table there cannot drift from what this suite runs. Importing this module starts no service.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from reliability import record

import lake
from lake.cli.app import main
from lake.contracts import Contract

CASE_SECONDS = 15.0  # generous on a shared 2-core machine; every row takes well under 2 s alone
MIB = 1 << 20

AREAS = ("names", "refs", "files", "contracts", "YAML", "SQL", "regexes", "credentials", "others")

ORDERS_YAML = (
    "dataset: orders\n"
    "columns:\n"
    "  id: {type: int64, nullable: false}\n"
    "  amount: {type: float64, min: 0}\n"
    "  currency: {type: string, in: [EUR, USD, GBP]}\n"
)


def orders(ids: Sequence[int], amount: float = 10.0, currency: str = "EUR") -> pa.Table:
    n = len(ids)
    return pa.table(
        {
            "id": pa.array(list(ids), pa.int64()),
            "amount": pa.array([amount] * n, pa.float64()),
            "currency": pa.array([currency] * n, pa.string()),
        }
    )


@dataclass
class World:
    """What a row runs against: a repository whose main holds ``orders`` (ids 1 and 2), a folder
    for the row's files, and a secret the credential rows hand to the lake."""

    repo: lake.Repository
    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    secret: str
    bucket: str | None

    @property
    def uri(self) -> str:
        return self.repo.uri

    @property
    def main(self) -> lake.Branch:
        return self.repo.branch("main")

    def file(self, name: str, content: str | bytes) -> str:
        path = self.tmp / "inputs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return str(path)

    def parquet(self, name: str = "x.parquet", table: pa.Table | None = None) -> str:
        path = self.tmp / "inputs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(orders([3, 4]) if table is None else table, path)
        return str(path)

    def contract_file(self, body: str, name: str = "orders.yaml") -> str:
        return self.file(name, body)


Action = Callable[[World], object]
Argv = Callable[[World], Sequence[str]]


@dataclass(frozen=True)
class Case:
    area: str
    input: str  # the hostile input, as a person would describe it
    via: str  # how it is given: a CLI command line or a Python call
    outcome: str  # the LakeError's class name, or "accepted"
    code: int  # the exit code (0 when accepted)
    says: str  # what the message (accepted: the CLI's output) must contain
    argv: Argv | None = None  # a CLI row: the whole command line (the runner adds nothing)
    call: Action | None = None  # an API row
    setup: Action | None = None  # runs before the repository's state is noted
    check: Action | None = None  # runs afterwards: what an accepted input reads as, or side effects
    read_as: str = ""  # for accepted rows: what the input is read as, for people
    backends: tuple[str, ...] = ("local",)
    secret: bool = False  # a credentials row: the secret must appear in no output

    @property
    def refused(self) -> bool:
        return self.outcome != "accepted"

    def row(self) -> dict[str, str]:
        outcome = (
            f"refused: {self.outcome}, exit {self.code}"
            if self.refused
            else f"accepted, read as {self.read_as}"
        )
        return {"area": self.area, "input": self.input, "via": self.via, "outcome": outcome}


def cli(
    area: str, input: str, via: str, outcome: str, code: int, says: str, argv: Argv, **kw: object
) -> Case:
    return Case(area, input, f"CLI: {via}", outcome, code, says, argv=argv, **kw)  # type: ignore[arg-type]


def api(
    area: str, input: str, via: str, outcome: str, code: int, says: str, call: Action, **kw: object
) -> Case:
    return Case(area, input, f"API: {via}", outcome, code, says, call=call, **kw)  # type: ignore[arg-type]


def on(w: World, *args: str) -> list[str]:
    """``lake ARGS --repo <the row's repository>``."""
    return [*args, "--repo", w.uri]


BOTH = ("local", "s3")


# -- inputs the rows build ------------------------------------------------------------------------
def billion_laughs(levels: int = 9, width: int = 9) -> str:
    """1 KB of YAML whose ``lol`` key stands for ``width ** levels`` strings (see issue 7.10)."""
    lines = ["dataset: orders", "columns:", "  id: {type: int64}", "lol:"]
    lines.append("  a0: &a0 [" + ", ".join(['"lol"'] * width) + "]")
    lines += [f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def merge_key_bomb(levels: int = 30) -> str:
    """``<<`` merges that would copy 2**levels keys if flattened."""
    lines = ["dataset: orders", "columns:", "  id: &m0 {type: int64}"]
    lines += [
        f"  c{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], description: l{i}}}" for i in range(1, levels + 1)
    ]
    return "\n".join(lines) + "\n"


def with_check(sql: str) -> str:
    """The orders contract with one SQL check (double-quoted YAML: ``sql`` must not hold ``"``)."""
    return ORDERS_YAML + f'checks:\n  - name: hostile\n    sql: "{sql}"\n'


def with_pattern(pattern: str) -> str:
    """A contract of ``texts`` whose ``s`` column must match ``pattern`` (single-quoted YAML)."""
    quoted = pattern.replace("'", "''")
    return f"dataset: texts\ncolumns:\n  id: {{type: int64}}\n  s: {{type: string, pattern: '{quoted}'}}\n"


def big_field_csv(size: int) -> bytes:
    return b"id,blob\n1," + b"x" * size + b"\n2,y\n"


def first_commit(w: World) -> str:
    return w.repo.log("main")[-1].id


def prefix_branch(w: World) -> None:
    """A branch named like the first commit's id prefix, made from main's head (another commit)."""
    w.main.write("orders", orders([3]))
    w.repo.create_branch(first_commit(w)[:12])


def protect_with_contract(w: World) -> None:
    w.main.set_contract("orders", ORDERS_YAML)
    w.repo.protect("main", protected=True)


def loosening_branch(w: World) -> None:
    protect_with_contract(w)
    loose = ORDERS_YAML.replace(", min: 0", "").replace(", in: [EUR, USD, GBP]", "")
    w.repo.create_branch("loosen").set_contract("orders", loose)


def branch_and_tag(w: World) -> None:
    w.repo.create_tag("release")
    w.repo.create_branch("release").write("orders", orders([5]))


def texts_contract(pattern: str) -> Action:
    return lambda w: w.main.set_contract("texts", with_pattern(pattern))


def rows(dataset: str, n: int, ref: str = "main") -> Action:
    def check(w: World) -> None:
        assert w.repo.read(dataset, ref).num_rows == n

    return check


def no_file(name: str) -> Action:
    def check(w: World) -> None:
        assert not (w.tmp / name).exists(), f"the YAML ran code: {name} exists"

    return check


def failing_endpoint(w: World) -> None:
    """S3 calls go to a port nobody listens on, fast, with the secret as the key in use."""
    w.monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    for name, value in (
        ("MAX_RETRIES", "0"),
        ("RETRY_TIMEOUT", "1"),
        ("CONNECT_TIMEOUT", "1"),
        ("TIMEOUT", "2"),
    ):
        w.monkeypatch.setenv(f"LAKE_STORAGE_{name}", value)


def secret_in_project_file(w: World) -> None:
    w.monkeypatch.chdir(w.tmp)
    (w.tmp / "lake.toml").write_text(
        f'repo = "{w.uri}"\n[storage]\nAWS_ACCESS_KEY_ID = "AKIAHOSTILE"\n'
        f'AWS_SECRET_ACCESS_KEY = "{w.secret}"\n'
    )
    w.monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    w.monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)


# -- the table ------------------------------------------------------------------------------------
HOSTILE_CASES: list[Case] = [
    # names: datasets -----------------------------------------------------------------------------
    cli(
        "names",
        "a percent-encoded dataset name '%6Frders' (delta-rs decodes it to 'orders')",
        "lake write %6Frders x.parquet",
        "InvalidInputError",
        2,
        "invalid dataset name '%6Frders'",
        lambda w: on(w, "write", "%6Frders", w.parquet()),
        backends=BOTH,
    ),
    cli(
        "names",
        "a dataset name that climbs out of the repository: '../escape'",
        "lake write ../escape x.parquet",
        "InvalidInputError",
        2,
        "invalid dataset name '../escape'",
        lambda w: on(w, "write", "../escape", w.parquet()),
        backends=BOTH,
    ),
    api(
        "names",
        "a non-ASCII dataset name 'ordérs' (polars' Delta reader fails on it)",
        "branch.write('ordérs', table)",
        "InvalidInputError",
        2,
        "only ASCII letters",
        lambda w: w.main.write("ordérs", orders([1])),
    ),
    api(
        "names",
        "a dataset name holding a NUL byte",
        "branch.write('a\\x00b', table)",
        "InvalidInputError",
        2,
        "invalid dataset name",
        lambda w: w.main.write("a\x00b", orders([1])),
    ),
    cli(
        "names",
        "a 300-character dataset name (the filesystem's limit is 255 bytes)",
        "lake write ddd…(300) x.parquet",
        "InvalidInputError",
        2,
        "the most is 128",
        lambda w: on(w, "write", "d" * 300, w.parquet()),
        backends=BOTH,
    ),
    api(
        "names",
        "'Orders' beside the existing 'orders' (one folder on macOS, one table in Spark)",
        "branch.write('Orders', table)",
        "InvalidInputError",
        2,
        "only in case",
        lambda w: w.main.write("Orders", orders([3])),
    ),
    cli(
        "names",
        "a name ending in '__quarantine' (the lake's own datasets)",
        "lake write anything__quarantine x.parquet",
        "InvalidInputError",
        2,
        "are the lake's own",
        lambda w: on(w, "write", "anything__quarantine", w.parquet()),
    ),
    api(
        "names",
        "'_lake', the name of the repository's own folder",
        "branch.write('_lake', table)",
        "InvalidInputError",
        2,
        "invalid dataset name '_lake'",
        lambda w: w.main.write("_lake", orders([1])),
    ),
    api(
        "names",
        "the longest portable dataset name (128 characters)",
        "branch.write('o_x…z', table)",
        "accepted",
        0,
        "",
        lambda w: w.main.write("o" + "_x" * 63 + "z", orders([1])),
        check=rows("o" + "_x" * 63 + "z", 1),
        read_as="a dataset of that name",
        backends=BOTH,
    ),
    # names: branches and tags ----------------------------------------------------------------------
    cli(
        "names",
        "a branch name that climbs: '../../etc'",
        "lake branch create ../../etc",
        "InvalidRefNameError",
        2,
        "cannot contain '..'",
        lambda w: on(w, "branch", "create", "../../etc"),
        backends=BOTH,
    ),
    api(
        "names",
        "a branch name that looks like an option: '-rf'",
        "repo.create_branch('-rf')",
        "InvalidRefNameError",
        2,
        "cannot start with '-'",
        lambda w: w.repo.create_branch("-rf"),
    ),
    cli(
        "names",
        "a branch name with a tab (a control character)",
        "lake branch create $'a\\tb'",
        "InvalidRefNameError",
        2,
        "spaces or control characters",
        lambda w: on(w, "branch", "create", "a\tb"),
    ),
    cli(
        "names",
        "a branch name ending in '.lock' (git's lock files)",
        "lake branch create main.lock",
        "InvalidRefNameError",
        2,
        "'.lock'",
        lambda w: on(w, "branch", "create", "main.lock"),
    ),
    cli(
        "names",
        "a 250-character branch name",
        "lake branch create bbb…(250)",
        "InvalidRefNameError",
        2,
        "at most 200 bytes",
        lambda w: on(w, "branch", "create", "b" * 250),
        backends=BOTH,
    ),
    api(
        "names",
        "a branch name that spells a qualified ref: 'refs/heads/x'",
        "repo.create_branch('refs/heads/x')",
        "InvalidRefNameError",
        2,
        "cannot start with 'refs/'",
        lambda w: w.repo.create_branch("refs/heads/x"),
    ),
    cli(
        "names",
        "a branch name with git's reflog syntax 'a@{1}'",
        "lake branch create 'a@{1}'",
        "InvalidRefNameError",
        2,
        "'@{'",
        lambda w: on(w, "branch", "create", "a@{1}"),
    ),
    cli(
        "names",
        "an empty branch name",
        "lake branch create ''",
        "InvalidRefNameError",
        2,
        "cannot be empty",
        lambda w: on(w, "branch", "create", ""),
    ),
    cli(
        "names",
        "a non-ASCII branch name 'zweig-ü' (git allows it)",
        "lake branch create zweig-ü",
        "accepted",
        0,
        "created branch zweig-ü",
        lambda w: on(w, "branch", "create", "zweig-ü"),
        check=rows("orders", 2, "zweig-ü"),
        read_as="a branch of that name",
        backends=BOTH,
    ),
    cli(
        "names",
        "tag 'v1/x' beside tag 'v1' (one would be a file and a folder)",
        "lake tag create v1/x",
        "RefExistsError",
        2,
        "cannot live beside tag 'v1'",
        lambda w: on(w, "tag", "create", "v1/x"),
        setup=lambda w: w.repo.create_tag("v1"),
    ),
    cli(
        "names",
        "a branch named like one that exists: 'main'",
        "lake branch create main",
        "RefExistsError",
        2,
        "a branch named 'main' exists already",
        lambda w: on(w, "branch", "create", "main"),
    ),
    # refs ----------------------------------------------------------------------------------------
    cli(
        "refs",
        "a branch named like a commit-id prefix, given to revert",
        "lake revert 5255c06a01eb",
        "AmbiguousRefError",
        2,
        "is ambiguous",
        lambda w: on(w, "revert", first_commit(w)[:12]),
        setup=prefix_branch,
    ),
    api(
        "refs",
        "a branch and a tag of one name on different commits",
        "repo.read('orders', 'release')",
        "AmbiguousRefError",
        2,
        "branch release",
        lambda w: w.repo.read("orders", "release"),
        setup=branch_and_tag,
    ),
    cli(
        "refs",
        "git's relative ref syntax 'HEAD~1'",
        "lake read orders --ref HEAD~1",
        "RefNotFoundError",
        2,
        "no branch, tag or commit named 'HEAD~1'",
        lambda w: on(w, "read", "orders", "--ref", "HEAD~1"),
    ),
    cli(
        "refs",
        "an empty ref",
        "lake show ''",
        "RefNotFoundError",
        2,
        "no branch, tag or commit named ''",
        lambda w: on(w, "show", ""),
    ),
    cli(
        "refs",
        "a qualified ref 'refs/heads/main'",
        "lake read orders --ref refs/heads/main --format json",
        "accepted",
        0,
        '"id":2',
        lambda w: on(w, "read", "orders", "--ref", "refs/heads/main", "--format", "json"),
        read_as="branch main",
    ),
    cli(
        "refs",
        "deleting the default branch",
        "lake branch delete main",
        "RefusedError",
        1,
        "the default branch 'main' cannot be deleted",
        lambda w: on(w, "branch", "delete", "main"),
    ),
    cli(
        "refs",
        "a dataset that does not exist at the ref",
        "lake read nope",
        "DatasetNotFoundError",
        2,
        "no dataset 'nope' at 'main'",
        lambda w: on(w, "read", "nope"),
    ),
    # files ---------------------------------------------------------------------------------------
    cli(
        "files",
        "an empty CSV file (0 bytes)",
        "lake write t empty.csv",
        "InvalidInputError",
        2,
        "Empty CSV file",
        lambda w: on(w, "write", "t", w.file("empty.csv", "")),
    ),
    cli(
        "files",
        "a CSV file with a header and no rows",
        "lake write t header.csv",
        "InvalidInputError",
        2,
        "have no type",
        lambda w: on(w, "write", "t", w.file("header.csv", "id,v\n")),
    ),
    cli(
        "files",
        "a CSV row with fewer fields than the header",
        "lake write t ragged.csv",
        "InvalidInputError",
        2,
        "Expected 2 columns, got 1",
        lambda w: on(w, "write", "t", w.file("ragged.csv", "id,v\n1,2\n3\n")),
    ),
    cli(
        "files",
        "a JSON-lines file with a broken line",
        "lake write t bad.jsonl",
        "InvalidInputError",
        2,
        "JSON parse error",
        lambda w: on(w, "write", "t", w.file("bad.jsonl", '{"id": 1}\n{not json\n')),
    ),
    cli(
        "files",
        "random bytes named .parquet",
        "lake write t garbage.parquet",
        "InvalidInputError",
        2,
        "magic bytes not found",
        lambda w: on(w, "write", "t", w.file("garbage.parquet", bytes(range(256)) * 12)),
    ),
    cli(
        "files",
        "a file of an unknown kind (.xlsx)",
        "lake write t data.xlsx",
        "InvalidInputError",
        2,
        "cannot tell the format",
        lambda w: on(w, "write", "t", w.file("data.xlsx", "PK\x03\x04")),
    ),
    cli(
        "files",
        "a text file forced to be read as parquet",
        "lake write t data.txt --format parquet",
        "InvalidInputError",
        2,
        "as parquet",
        lambda w: on(w, "write", "t", w.file("data.txt", "x"), "--format", "parquet"),
    ),
    cli(
        "files",
        "a CSV header naming one column twice",
        "lake write t dup.csv",
        "InvalidInputError",
        2,
        "duplicate column names",
        lambda w: on(w, "write", "t", w.file("dup.csv", "id,id\n1,2\n")),
    ),
    cli(
        "files",
        "a directory where a file is expected",
        "lake write t folder.csv",
        "InvalidInputError",
        2,
        "is a directory",
        lambda w: on(w, "write", "t", str(w.tmp)),
    ),
    cli(
        "files",
        "a CSV file in Latin-1, not UTF-8 (a byte 0xFF in the header)",
        "lake write t latin1.csv",
        "InvalidInputError",
        2,
        "not UTF-8",
        lambda w: on(w, "write", "t", w.file("latin1.csv", b"\xff\xfeid,v\n1,2\n")),
    ),
    cli(
        "files",
        "inf and NaN in a float column (JSON cannot hold them in Delta stats)",
        "lake write t inf.parquet",
        "accepted",
        0,
        "committed",
        lambda w: on(
            w, "write", "t", w.parquet("inf.parquet", pa.table({"id": [1, 2], "v": [math.inf, math.nan]}))
        ),
        check=lambda w: _inf_read(w),
        read_as="2 rows holding inf and NaN, counted right",
        backends=BOTH,
    ),
    cli(
        "files",
        "one 3 MiB CSV field (longer than pyarrow's 1 MiB read block)",
        "lake write blobs big.csv",
        "accepted",
        0,
        "committed",
        lambda w: on(w, "write", "blobs", w.file("big.csv", big_field_csv(3 * MIB))),
        check=lambda w: _blob_read(w, 3 * MIB),
        read_as="2 rows, the field whole",
    ),
    api(
        "files",
        "a pandas frame with two columns named 'amount'",
        "branch.write('t', pandas_frame)",
        "InvalidInputError",
        2,
        "'amount'",
        lambda w: w.main.write("t", pd.DataFrame([[1, 2, 3]], columns=["id", "amount", "amount"])),
    ),
    api(
        "files",
        "a pandas object column of mixed types (1 and 'x')",
        "branch.write('t', pandas_frame)",
        "InvalidInputError",
        2,
        "column 'note'",
        lambda w: w.main.write("t", pd.DataFrame({"id": [1, 2], "note": [1, "x"]})),
    ),
    api(
        "files",
        "a polars Series instead of a frame",
        "branch.write('t', polars_series)",
        "InvalidInputError",
        2,
        "Series",
        lambda w: w.main.write("t", pl.Series("id", [1, 2])),
    ),
    api(
        "files",
        "a plain dict instead of a frame",
        "branch.write('t', {'id': [1, 2]})",
        "InvalidInputError",
        2,
        "polars DataFrame",
        lambda w: w.main.write("t", {"id": [1, 2]}),
    ),
    api(
        "files",
        "data holding the quarantine's own column '_lake_violations'",
        "branch.write('orders', table, on_violation='quarantine')",
        "InvalidInputError",
        2,
        "which a quarantine write adds itself",
        lambda w: w.main.write(
            "orders",
            orders([7], amount=-1.0).append_column("_lake_violations", pa.array(["mine"])),
            on_violation="quarantine",
            schema_mode="merge",
        ),
        setup=lambda w: w.main.set_contract("orders", ORDERS_YAML),
    ),
    # contracts -----------------------------------------------------------------------------------
    cli(
        "contracts",
        "a typo in a contract key ('mni' for 'min')",
        "lake contract set orders orders.yaml",
        "ContractError",
        2,
        "unknown key 'mni' (did you mean 'min'?)",
        lambda w: on(w, "contract", "set", "orders", w.contract_file(ORDERS_YAML.replace("min:", "mni:"))),
    ),
    cli(
        "contracts",
        "an unknown column type 'int46'",
        "lake contract set orders orders.yaml",
        "ContractError",
        2,
        "unknown type 'int46'",
        lambda w: on(w, "contract", "set", "orders", w.contract_file(ORDERS_YAML.replace("int64", "int46"))),
    ),
    cli(
        "contracts",
        "a contract for another dataset than the one it is set on",
        "lake contract set orders customers.yaml",
        "InvalidInputError",
        2,
        "is for dataset 'customers'",
        lambda w: on(
            w, "contract", "set", "orders", w.contract_file(ORDERS_YAML.replace("orders", "customers"))
        ),
    ),
    cli(
        "contracts",
        "a contract naming a column the dataset lacks ('ghost', not null)",
        "lake contract set orders ghost.yaml",
        "ContractViolationError",
        1,
        "ghost",
        lambda w: on(
            w,
            "contract",
            "set",
            "orders",
            w.contract_file(ORDERS_YAML + "  ghost: {type: string, nullable: false}\n"),
        ),
    ),
    api(
        "contracts",
        "setting a contract directly on protected main",
        "branch.set_contract('orders', yaml)",
        "RefusedError",
        1,
        "protected",
        lambda w: w.main.set_contract("orders", ORDERS_YAML.replace("min: 0", "min: 1")),
        setup=protect_with_contract,
    ),
    api(
        "contracts",
        "a branch that only loosens protected main's contract, merged",
        "repo.merge('loosen')",
        "GateFailedError",
        1,
        "contract/approval",
        lambda w: w.repo.merge("loosen"),
        setup=loosening_branch,
    ),
    # YAML ----------------------------------------------------------------------------------------
    cli(
        "YAML",
        "a billion-laughs contract (1 KB, 9 levels of 9 aliases)",
        "lake contract set orders bomb.yaml",
        "ContractError",
        2,
        "at most 10000 nodes",
        lambda w: on(w, "contract", "set", "orders", w.contract_file(billion_laughs(), "bomb.yaml")),
    ),
    cli(
        "YAML",
        "a billion-laughs ODCS file",
        "lake contract import-odcs bomb.odcs.yaml",
        "ContractError",
        2,
        "at most 10000 nodes",
        lambda w: ["contract", "import-odcs", w.contract_file(billion_laughs(), "bomb.odcs.yaml")],
    ),
    api(
        "YAML",
        "30 levels of '<<' merge keys, each merging the last twice (2**30 keys)",
        "Contract.from_text(yaml)",
        "ContractError",
        2,
        "aliases",
        lambda w: Contract.from_text(merge_key_bomb(), "merges.yaml"),
    ),
    api(
        "YAML",
        "an alias inside the node it names (a loop)",
        "Contract.from_text(yaml)",
        "ContractError",
        2,
        "inside",
        lambda w: Contract.from_text(
            "dataset: o\ncolumns: &c\n  id: {type: int64}\n  again: *c\n", "loop.yaml"
        ),
    ),
    api(
        "YAML",
        "lists nested 100,000 deep (200 kB)",
        "Contract.from_text(yaml)",
        "ContractError",
        2,
        "nested more than",
        lambda w: Contract.from_text(
            "dataset: o\ncolumns:\n  id: {type: int64, in: " + "[" * 100_000 + "]" * 100_000 + "}\n"
        ),
    ),
    api(
        "YAML",
        "a list of 150,000 items (300 kB)",
        "Contract.from_text(yaml)",
        "ContractError",
        2,
        "more than 100000 YAML nodes",
        lambda w: Contract.from_text(
            "dataset: o\ncolumns:\n  id: {type: int64, in: [" + ", ".join(["1"] * 150_000) + "]}\n"
        ),
    ),
    cli(
        "YAML",
        "a Python tag that would run a command (!!python/object/apply:os.system)",
        "lake contract set orders pwn.yaml",
        "ContractError",
        2,
        "could not determine a constructor",
        lambda w: on(
            w,
            "contract",
            "set",
            "orders",
            w.contract_file(
                f"dataset: orders\ncolumns: !!python/object/apply:os.system ['touch {w.tmp / 'pwned'}']\n",
                "pwn.yaml",
            ),
        ),
        check=no_file("pwned"),
    ),
    cli(
        "YAML",
        "a key given twice (the second would silently win)",
        "lake contract set orders twice.yaml",
        "ContractError",
        2,
        "key given twice",
        lambda w: on(
            w, "contract", "set", "orders", w.contract_file(ORDERS_YAML + "dataset: other\n", "twice.yaml")
        ),
    ),
    cli(
        "YAML",
        "a YAML list instead of a mapping",
        "lake contract set orders list.yaml",
        "ContractError",
        2,
        "a contract is a YAML mapping",
        lambda w: on(w, "contract", "set", "orders", w.contract_file("- a\n- b\n", "list.yaml")),
    ),
    cli(
        "YAML",
        "an empty contract file",
        "lake contract set orders empty.yaml",
        "ContractError",
        2,
        "a contract is a YAML mapping",
        lambda w: on(w, "contract", "set", "orders", w.contract_file("", "empty.yaml")),
    ),
    cli(
        "YAML",
        "a contract file that is not UTF-8 text",
        "lake contract set orders binary.yaml",
        "ContractError",
        2,
        "not UTF-8",
        lambda w: on(
            w, "contract", "set", "orders", w.file("binary.yaml", b"\xff\xfe\x00\x01dataset: orders\n")
        ),
    ),
    api(
        "YAML",
        "a contract of 5,000 columns (330 kB of plain YAML)",
        "Contract.from_text(yaml)",
        "accepted",
        0,
        "",
        lambda w: Contract.from_text(
            "dataset: wide\ncolumns:\n"
            + "".join(f"  c{i}: {{type: string, max_length: 20}}\n" for i in range(5000))
        ),
        read_as="a contract of 5,000 columns",
    ),
    # SQL -----------------------------------------------------------------------------------------
    cli(
        "SQL",
        "a statement as a check: 'DROP TABLE orders'",
        "lake contract set orders drop.yaml",
        "ContractError",
        2,
        "'DROP TABLE orders'",
        lambda w: on(w, "contract", "set", "orders", w.contract_file(with_check("DROP TABLE orders"))),
    ),
    api(
        "SQL",
        "a subquery in a check",
        "Contract.from_text(yaml)",
        "ContractError",
        2,
        "holds a subquery",
        lambda w: Contract.from_text(with_check("amount > (SELECT max(amount) FROM orders)")),
    ),
    api(
        "SQL",
        "a function that reads files: read_parquet('/etc/passwd')",
        "Contract.from_text(yaml)",
        "ContractError",
        2,
        "which is not allowed in a check",
        lambda w: Contract.from_text(with_check("read_parquet('/etc/passwd') IS NULL")),
    ),
    cli(
        "SQL",
        "a check nested 60 parentheses deep",
        "lake contract set orders deep.yaml",
        "ContractError",
        2,
        "nests parentheses 60 deep",
        lambda w: on(
            w, "contract", "set", "orders", w.contract_file(with_check("(" * 60 + "id > 0" + ")" * 60))
        ),
    ),
    api(
        "SQL",
        "a check of 200 NOTs in a row",
        "Contract.from_text(yaml)",
        "ContractError",
        2,
        "nested too deeply",
        lambda w: Contract.from_text(with_check("NOT " * 200 + "id > 0")),
    ),
    cli(
        "SQL",
        "a check of 2,000 ORs (7 s to plan in polars; 20,000 crashed the process)",
        "lake contract set orders ors.yaml",
        "ContractError",
        2,
        "the most is 512",
        lambda w: on(
            w,
            "contract",
            "set",
            "orders",
            w.contract_file(with_check(" OR ".join(f"id = {i}" for i in range(2_000))), "ors.yaml"),
        ),
    ),
    cli(
        "SQL",
        "a check with a 1,000-value IN list",
        "lake contract set orders in.yaml",
        "accepted",
        0,
        "committed the contract",
        lambda w: on(
            w,
            "contract",
            "set",
            "orders",
            w.contract_file(with_check("id IN (" + ", ".join(str(i) for i in range(1_000)) + ")"), "in.yaml"),
        ),
        check=lambda w: _refuses(w, orders([30_000])),
        read_as="one membership test, enforced on writes",
    ),
    cli(
        "SQL",
        "a delete predicate with a second statement",
        "lake delete orders --where 'id > 0; DROP TABLE orders'",
        "InvalidInputError",
        2,
        "cannot parse the predicate",
        lambda w: on(w, "delete", "orders", "--where", "id > 0; DROP TABLE orders"),
    ),
    cli(
        "SQL",
        "a delete predicate with a subquery",
        "lake delete orders --where 'id IN (SELECT id FROM orders)'",
        "InvalidInputError",
        2,
        "the predicate",
        lambda w: on(w, "delete", "orders", "--where", "id IN (SELECT id FROM orders)"),
    ),
    cli(
        "SQL",
        "a delete predicate naming an unknown column",
        "lake delete orders --where 'ghost > 1'",
        "InvalidInputError",
        2,
        "'ghost > 1' names a column the dataset does not have",
        lambda w: on(w, "delete", "orders", "--where", "ghost > 1"),
    ),
    cli(
        "SQL",
        "a delete predicate nested 60 parentheses deep",
        "lake delete orders --where '((((…id > 1…))))'",
        "InvalidInputError",
        2,
        "the predicate",
        lambda w: on(w, "delete", "orders", "--where", "(" * 60 + "id > 1" + ")" * 60),
    ),
    # regexes -------------------------------------------------------------------------------------
    cli(
        "regexes",
        "a pattern that does not compile: '^[unclosed'",
        "lake contract set texts texts.yaml",
        "ContractError",
        2,
        "invalid regular expression '^[unclosed'",
        lambda w: on(
            w, "contract", "set", "texts", w.contract_file(with_pattern("^[unclosed"), "texts.yaml")
        ),
    ),
    cli(
        "regexes",
        "a look-ahead pattern Python accepts and polars cannot run: '(?=a)b'",
        "lake contract set texts texts.yaml",
        "ContractError",
        2,
        "look-around",
        lambda w: on(w, "contract", "set", "texts", w.contract_file(with_pattern("(?=a)b"), "texts.yaml")),
    ),
    api(
        "regexes",
        "a backreference pattern: '(a)\\1'",
        "Contract.from_text(yaml)",
        "ContractError",
        2,
        "backreferences are not supported",
        lambda w: Contract.from_text(with_pattern(r"(a)\1")),
    ),
    api(
        "regexes",
        "a pattern that compiles past the regex size limit: '(\\w{1000}){1000}'",
        "Contract.from_text(yaml)",
        "ContractError",
        2,
        "invalid regular expression",
        lambda w: Contract.from_text(with_pattern(r"(\w{1000}){1000}")),
    ),
    cli(
        "regexes",
        "catastrophic backtracking: '^(a+)+$' against 50,000 'a's and a '!'",
        "lake write texts redos.csv",
        "ContractViolationError",
        1,
        "s.pattern",
        lambda w: on(w, "write", "texts", w.file("redos.csv", "id,s\n1," + "a" * 50_000 + "!\n")),
        setup=texts_contract("^(a+)+$"),
    ),
    cli(
        "regexes",
        "an invalid regex inside a SQL check: REGEXP_LIKE(currency, '(')",
        "lake contract set orders rx.yaml",
        "ContractError",
        2,
        "invalid regular expression '('",
        lambda w: on(
            w,
            "contract",
            "set",
            "orders",
            w.contract_file(with_check("REGEXP_LIKE(currency, '(')"), "rx.yaml"),
        ),
    ),
    api(
        "regexes",
        "a backreference inside a SQL check: REGEXP_LIKE(currency, '(E)\\1')",
        "Contract.from_text(yaml)",
        "ContractError",
        2,
        "backreferences are not supported",
        lambda w: Contract.from_text(with_check(r"REGEXP_LIKE(currency, '(E)\\1')")),
    ),
    # credentials ---------------------------------------------------------------------------------
    api(
        "credentials",
        "a secret key given without its key id",
        "Repository.open(uri, {AWS_SECRET_ACCESS_KEY: …})",
        "InvalidStorageOptionError",
        2,
        "AWS_ACCESS_KEY_ID",
        lambda w: lake.Repository.open(
            "s3://bucket/lake", storage_options={"AWS_SECRET_ACCESS_KEY": w.secret}
        ),
        secret=True,
    ),
    api(
        "credentials",
        "a secret under a misspelt option name",
        "Repository.open(uri, {AWS_SECRET_KEY: …})",
        "InvalidStorageOptionError",
        2,
        "unknown storage option 'AWS_SECRET_KEY'",
        lambda w: lake.Repository.open("s3://bucket/lake", storage_options={"AWS_SECRET_KEY": w.secret}),
        secret=True,
    ),
    api(
        "credentials",
        "S3 credentials given for a local repository",
        "Repository.open(path, {AWS_…: …})",
        "InvalidStorageOptionError",
        2,
        "do not apply to a local path",
        lambda w: lake.Repository.open(
            str(w.tmp / "lake"),
            storage_options={"AWS_ACCESS_KEY_ID": "AKIAX", "AWS_SECRET_ACCESS_KEY": w.secret},
        ),
        secret=True,
    ),
    cli(
        "credentials",
        "a repository URI with the keys in it: s3://AKIA…:SECRET@bucket/lake",
        "lake log --repo s3://KEY:SECRET@bucket/lake",
        "UsageError",
        2,
        "bucket",
        lambda w: ["log", "--repo", f"s3://AKIAHOSTILE:{w.secret}@{w.bucket}/lake"],
        secret=True,
        backends=("s3",),
    ),
    cli(
        "credentials",
        "a storage failure while the secret is in use (nothing listens at the endpoint)",
        "lake write orders x.parquet",
        "StorageError",
        3,
        "",
        lambda w: on(w, "write", "orders", w.parquet()),
        setup=failing_endpoint,
        secret=True,
        backends=("s3",),
    ),
    cli(
        "credentials",
        "a secret in lake.toml's [storage], listed",
        "lake config list",
        "accepted",
        0,
        "***",
        lambda w: ["config", "list"],
        setup=secret_in_project_file,
        read_as="the setting, its value masked",
        secret=True,
        backends=("s3",),
    ),
    # others --------------------------------------------------------------------------------------
    cli(
        "others",
        "init over an existing repository",
        "lake init URI",
        "RepositoryExistsError",
        2,
        "",
        lambda w: ["init", w.uri],
    ),
    cli(
        "others",
        "a folder that is not a repository",
        "lake log --repo /tmp/empty",
        "NotARepositoryError",
        2,
        "",
        lambda w: ["log", "--repo", str(w.tmp / "inputs")],
        setup=lambda w: (w.tmp / "inputs").mkdir(),
    ),
    cli(
        "others",
        "a forced merge with a blank reason",
        "lake merge b --force --reason ' '",
        "InvalidInputError",
        2,
        "reason",
        lambda w: on(w, "merge", "b", "--force", "--reason", " "),
        setup=lambda w: w.repo.create_branch("b").write("orders", orders([9])),
    ),
]


def hostile_rows() -> list[dict[str, str]]:
    """The table, in order, as docs/reliability.md shows it: area, input, via and outcome."""
    return [case.row() for case in HOSTILE_CASES]


# -- checks of what accepted input reads as -------------------------------------------------------
def _inf_read(w: World) -> None:
    [info] = [d for d in w.repo.datasets() if d.name == "t"]
    assert info.rows == 2  # a file whose stats were unreadable was counted as 0 rows (issue 7.1)
    v = w.repo.read("t").sort_by("id").column("v").to_pylist()
    assert v[0] == math.inf and math.isnan(v[1])


def _blob_read(w: World, size: int) -> None:
    blob = w.repo.read("blobs").sort_by("id").column("blob")
    assert pc.utf8_length(blob).to_pylist() == [size, 1]


def _refuses(w: World, data: pa.Table) -> None:
    with pytest.raises(lake.ContractViolationError, match=r"hostile \(1 rows\)"):
        w.main.write("orders", data)


# -- the one test ---------------------------------------------------------------------------------
def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48]


def _params() -> Iterator[object]:
    for i, case in enumerate(HOSTILE_CASES):
        for backend in case.backends:
            yield pytest.param(case, backend, id=f"{i:02d}-{case.area}-{_slug(case.input)}-{backend}")


def _state(repo: lake.Repository) -> object:
    """Every branch and tag with its commit and rules: a refusal changes none of them."""
    return (
        sorted((b.name, b.commit, b.protected) for b in repo.branches()),
        sorted((t.name, t.commit) for t in repo.tags()),
    )


CONTRACT_HEAD = re.compile(r"^the contract (.+) is not valid:$")


def _one_line_each(outcome: str, message: str, problems: int | None = None) -> None:
    """A message is one line; a ContractError's is one head line and one line per problem."""
    lines = message.splitlines()
    if outcome != "ContractError":
        assert len(lines) == 1, f"the message is not one line:\n{message}"
        return
    head = CONTRACT_HEAD.match(lines[0])
    assert head is not None, message
    assert len(lines) >= 2 and all(line.startswith(f"  {head.group(1)}") for line in lines[1:]), (
        f"each problem must be one line naming the file:\n{message}"
    )
    if problems is not None:
        assert len(lines) == 1 + problems, message


def _run_cli(case: Case, w: World, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert case.argv is not None
    argv = list(case.argv(w))
    capsys.readouterr()
    rc = main(argv)
    said = capsys.readouterr()
    out = said.out + said.err
    assert rc == case.code, f"lake {argv} -> {rc}, the row says {case.code}\n{out}"
    assert "Traceback" not in out and "internal error" not in out, out
    assert case.says in out, out
    if not case.refused:
        return [out]
    rc = main([*argv, "--json"])
    said = capsys.readouterr()
    assert rc == case.code, f"lake {argv} --json -> {rc}\n{said.out}{said.err}"
    assert "Traceback" not in said.out + said.err
    payload = json.loads(said.out)
    assert payload["error"] == case.outcome, payload
    message, hint = payload["message"], payload["hint"]
    assert case.says in message, message
    _one_line_each(case.outcome, message)
    assert hint, f"{case.outcome} without a hint: {message}"
    assert message.splitlines()[0] in out  # people read what --json says
    return [out, said.out, said.err]


def _run_api(case: Case, w: World) -> list[str]:
    assert case.call is not None
    try:
        case.call(w)
    except lake.LakeError as exc:
        assert case.refused, f"the row says accepted, but: {type(exc).__name__}: {exc}"
        assert type(exc).__name__ == case.outcome, f"{type(exc).__name__}: {exc}"
        assert exc.exit_code == case.code
        assert case.says in exc.message, exc.message
        _one_line_each(
            case.outcome, exc.message, len(exc.problems) if isinstance(exc, lake.ContractError) else None
        )
        assert exc.hint, f"{case.outcome} without a hint: {exc.message}"
        return [str(exc), exc.hint, json.dumps(exc.to_dict(), default=str), repr(exc)]
    assert not case.refused, f"the row says {case.outcome}, but it was accepted"
    return []


@pytest.mark.parametrize(("case", "backend"), list(_params()))
def test_hostile_input(
    case: Case,
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret = f"wJalrXUtnFEMI-{uuid.uuid4().hex}"
    bucket = request.getfixturevalue("bucket") if backend == "s3" else None
    uri = f"s3://{bucket}/lake" if bucket else str(tmp_path / "lake")
    with pytest.MonkeyPatch.context() as patch:  # the row's own settings, undone before the checks
        if bucket and case.secret:  # moto checks no signature: every client signs with the secret
            patch.setenv("AWS_SECRET_ACCESS_KEY", secret)
        repo = lake.Repository.init(uri)
        repo.branch("main").write("orders", orders([1, 2]))
        world = World(repo, tmp_path, patch, secret, bucket)
        if case.setup is not None:
            case.setup(world)
        before = _state(repo)

        start = time.monotonic()
        said = _run_cli(case, world, capsys) if case.argv is not None else _run_api(case, world)
        elapsed = time.monotonic() - start
        assert elapsed < CASE_SECONDS, f"took {elapsed:.1f} s"

    if case.secret:
        for text in said:
            assert secret not in text, f"the secret was shown:\n{text}"
    world.repo = repo = lake.Repository.open(uri)
    if case.check is not None:
        case.check(world)
    if case.refused:
        assert _state(repo) == before, "a refused input changed a branch or tag"
    assert repo.fsck().problems == (), repo.fsck().problems
    record("hostile", case=f"{case.area}: {case.input}", backend=backend)


def test_the_table_covers_every_area_and_reads_as_rows() -> None:
    rows = hostile_rows()
    assert len(rows) >= 40 and [r["area"] for r in rows] == [c.area for c in HOSTILE_CASES]
    assert {r["area"] for r in rows} == set(AREAS)
    assert all(set(r) == {"area", "input", "via", "outcome"} and all(r.values()) for r in rows)
    assert all(r["outcome"].startswith(("refused: ", "accepted, read as ")) for r in rows)
    assert len({(r["area"], r["input"]) for r in rows}) == len(rows)  # no row twice
