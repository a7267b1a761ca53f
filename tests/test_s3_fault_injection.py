"""S3 faults injected over HTTP, case by case (issue 15, "Storage faults").

An HTTP proxy on 127.0.0.1 in front of moto (:class:`proxies.HttpFaultProxy`) answers the
requests a rule matches with a fault instead: a 500 or 503, a slow answer, a dropped connection,
an answer cut short, an answer lost after the request took effect, a hang, or a 412 on a
conditional put. Each case of :data:`FAULT_CASES` runs one lake operation through it with the
FAST budget (2 attempts per request, 2 s each) and checks:

- the outcome: a transient fault (the next ``times`` matching requests) is retried and the
  operation succeeds; a persistent one fails with :class:`lake.StorageError` (exit 3 in the CLI);
- nothing partial: afterwards, every branch holds either the rows it held before or the rows the
  operation should have made, and ``fsck`` finds no problem (garbage is allowed);
- no credential (the secret key, the session token) in the error, its causes or the CLI's output;
- a failure comes within the retry budget (a generous bound: no tight timings).

A 412 on a ref's compare-and-swap says another writer moved the ref. When it did not (the 412 is
spurious, or the answer to a retry of a put that landed), the store re-reads the object: its own
bytes there mean the put landed; the precondition holding now means the put may simply be made
again (as if it came later); only a ref that really moved is a lost race
(:class:`lake.ConcurrentUpdateError`, which the commit loop rebases or redoes). A 412 that keeps
coming though the object is unchanged is a storage fault.

A body cut short in an *error* answer (the 404 for ``_delta_log/_last_checkpoint`` that delta-rs
asks for first) is not retried by delta-rs's object_store, which retries cut bodies of the
answers it wanted (see the case ``merge-cut-getlast_checkpoint-x1``): only a retry around the
table's load (in lake.table.layers) would carry it through.

:func:`fault_rows` lists the cases for docs/reliability.md; importing this module starts nothing.
"""

from __future__ import annotations

import json
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import Lake
from proxies import FaultKind, HttpFaultProxy
from reliability import record

import lake

SECRET = f"wJalrXUtnFEMI-{uuid.uuid4().hex}"
TOKEN = f"FwoGZXIvYXdzE-{uuid.uuid4().hex}"
# Small budgets so that every fault fails in seconds: 2 attempts of at most 2 s each.
FAST = {"CONNECT_TIMEOUT": "1s", "TIMEOUT": "2s", "MAX_RETRIES": "1", "RETRY_TIMEOUT": "4s"}
# A failure must come well within what the budget allows an operation of a few dozen requests.
WITHIN = 30.0
SLOWER_THAN_TIMEOUT = 2.5  # a 'slow' answer the TIMEOUT above gives up on

ORDERS = pa.table({"id": [1, 2, 3], "amount": [10.0, 20.0, 30.0]})
MORE = pa.table({"id": [4], "amount": [40.0]})
NEW = pa.table({"id": [5], "amount": [50.0]})

Rows = list[tuple[Any, ...]]
State = dict[str, tuple[str, Rows]]  # branch -> its head commit and the rows of its orders

# Where a fault is injected: a substring of the request's path (and query).
REFS = "_lake/refs/heads/main"  # main's ref: read by every operation, moved by every commit
NEW_REF = "_lake/refs/heads/dev"  # the ref 'branch create' makes
AHEAD = "_lake/refs/heads/ahead"  # the ref a fast-forward moves
COMMITS = "_lake/commits/"  # commit objects (content-addressed, put with If-None-Match)
CONTRACTS = "_lake/contracts/"
DELTA_LOG = "_delta_log"  # delta-rs (object_store): reads and commits of the Delta logs
LOG_ENTRY = "_delta_log/0"  # a Delta log entry (00000000000000000000.json)
CHECKPOINT = "_last_checkpoint"  # what delta-rs asks first: absent here, a 404 with a body
DATA = ".parquet"  # data files: boto3 uploads them, pyarrow and polars read them


# -- the operations ------------------------------------------------------------------------------
def _rows(table: pa.Table) -> list[tuple[Any, ...]]:
    names = sorted(table.column_names)
    return sorted(zip(*(table.column(n).to_pylist() for n in names), strict=True))


def _commit_on(state: State, branch: str, rows: Rows) -> State:
    """``state`` after one new commit on ``branch`` (its head written "+<parent>"), holding ``rows``."""
    return {**state, branch: ("+" + state[branch][0], sorted(rows))}


def _at(state: State, branch: str, other: str) -> State:
    """``state`` with ``branch`` where ``other`` is."""
    return {**state, branch: state[other]}


def _holds(repo: lake.Repository, state: State, expected: State) -> bool:
    """Whether ``state`` is ``expected``: the same branches and rows, each head the commit
    expected, or exactly one new commit on the parent expected (nothing twice, nothing half)."""
    if state.keys() != expected.keys():
        return False
    for branch, (head, rows) in state.items():
        want, want_rows = expected[branch]
        if rows != want_rows:
            return False
        if want.startswith("+"):
            if head == want[1:] or repo.commit(head).commit.parents[:1] != (want[1:],):
                return False
        elif head != want:
            return False
    return True


_AMOUNT_ID = _rows(ORDERS)  # (amount, id) rows, as _rows sorts columns by name


def _contract() -> lake.Contract:
    return lake.Contract.model_validate(
        {"dataset": "orders", "columns": {"id": {"type": "int64"}, "amount": {"type": "float64"}}}
    )


@dataclass(frozen=True)
class Operation:
    """A lake operation, in Python and on the command line, and the state it should leave."""

    does: str  # as the docs say it
    run: Callable[[lake.Repository], object]
    cli: Callable[[Path], tuple[str, ...]]  # the command's arguments, given a directory for files
    after: Callable[[State], State]
    reads: list[tuple[Any, ...]] | None = None  # a read's rows, checked as well


OPERATIONS: dict[str, Operation] = {
    "write": Operation(
        "append rows to a dataset",
        lambda repo: repo.branch("main").write("orders", NEW),
        lambda tmp: ("write", "orders", str(tmp / "new.parquet")),
        lambda s: _commit_on(s, "main", [*s["main"][1], *_rows(NEW)]),
    ),
    "delete": Operation(
        "delete rows",
        lambda repo: repo.branch("main").delete("orders", "id = 1"),
        lambda tmp: ("delete", "orders", "--where", "id = 1"),
        lambda s: _commit_on(s, "main", [r for r in s["main"][1] if r[1] != 1]),
    ),
    "merge": Operation(
        "merge a branch (a merge commit)",
        lambda repo: repo.merge("fix"),
        lambda tmp: ("merge", "fix"),
        lambda s: _commit_on(s, "main", s["fix"][1]),
    ),
    "branch create": Operation(
        "create a branch (a ref put If-None-Match)",
        lambda repo: repo.create_branch("dev"),
        lambda tmp: ("branch", "create", "dev"),
        lambda s: _at(s, "dev", "main"),
    ),
    "fast-forward": Operation(
        "move a ref (a fast-forward merge: a ref put If-Match)",
        lambda repo: repo.merge("fix", into="ahead"),
        lambda tmp: ("merge", "fix", "--into", "ahead"),
        lambda s: _at(s, "ahead", "fix"),
    ),
    "contract set": Operation(
        "set a dataset's contract",
        lambda repo: repo.branch("main").set_contract("orders", _contract()),
        lambda tmp: ("contract", "set", "orders", str(tmp / "orders.yaml")),
        lambda s: _commit_on(s, "main", s["main"][1]),
    ),
    "read": Operation(
        "read a dataset (delta-rs log, pyarrow data files)",
        lambda repo: repo.read("orders"),
        lambda tmp: ("read", "orders"),
        lambda s: s,
        reads=_AMOUNT_ID,
    ),
    "scan": Operation(
        "scan a dataset with polars",
        lambda repo: repo.scan("orders").collect().to_arrow(),
        lambda tmp: ("read", "orders"),
        lambda s: s,
        reads=_AMOUNT_ID,
    ),
}

Expected = Literal["succeeds after retries", "StorageError (exit 3)", "OSError from polars' collect"]
SUCCEEDS: Expected = "succeeds after retries"
FAILS: Expected = "StorageError (exit 3)"
# Repository.scan returns a LazyFrame: the caller collects it, so a storage fault then is polars'
# own OSError, raised outside the lake (which cannot map it); it names the object, and no secret.
POLARS_FAILS: Expected = "OSError from polars' collect"


@dataclass(frozen=True)
class Case:
    operation: str  # a key of OPERATIONS
    fault: FaultKind
    where: str | None  # a substring of the path; None: every request
    times: int | None  # the next N matching requests (transient); None: all of them (persistent)
    expected: Expected
    method: str | None = None
    via: Literal["api", "cli"] = "api"

    @property
    def id(self) -> str:
        where = {
            None: "any",
            REFS: "ref",
            NEW_REF: "new-ref",
            AHEAD: "ahead-ref",
            LOG_ENTRY: "log-entry",
            COMMITS: "commit",
            CONTRACTS: "contract",
        }
        place = where.get(self.where, (self.where or "").strip("._"))
        times = "always" if self.times is None else f"x{self.times}"
        op = self.operation.replace(" ", "-")
        return f"{self.via}-{op}-{self.fault}-{(self.method or '').lower()}{place}-{times}"


T1, ALWAYS = 1, None
FAULT_CASES: list[Case] = [
    # transient: retried by the client that met it, and the operation succeeds
    Case("write", "503", REFS, T1, SUCCEEDS, "PUT"),
    Case("write", "500", DATA, T1, SUCCEEDS, "PUT"),
    Case("write", "503", DELTA_LOG, T1, SUCCEEDS, "PUT"),
    Case("write", "drop", COMMITS, T1, SUCCEEDS, "PUT"),
    Case("write", "slow", REFS, T1, SUCCEEDS, "GET"),
    Case("write", "lose", REFS, T1, SUCCEEDS, "PUT"),
    Case("write", "lose", COMMITS, T1, SUCCEEDS, "PUT"),
    Case("write", "lose", DELTA_LOG, T1, SUCCEEDS, "PUT"),
    Case("write", "412", REFS, T1, SUCCEEDS),
    Case("write", "412", COMMITS, T1, SUCCEEDS),
    Case("write", "412", DELTA_LOG, T1, SUCCEEDS),
    Case("delete", "503", DELTA_LOG, T1, SUCCEEDS, "GET"),
    Case("delete", "drop", DATA, T1, SUCCEEDS, "GET"),
    Case("merge", "500", REFS, T1, SUCCEEDS),
    Case("merge", "cut", LOG_ENTRY, T1, SUCCEEDS, "GET"),
    Case("merge", "cut", CHECKPOINT, T1, SUCCEEDS, "GET"),
    Case("branch create", "503", NEW_REF, T1, SUCCEEDS, "PUT"),
    Case("branch create", "412", NEW_REF, T1, SUCCEEDS),
    Case("branch create", "lose", NEW_REF, T1, SUCCEEDS, "PUT"),
    Case("fast-forward", "412", AHEAD, T1, SUCCEEDS),
    Case("fast-forward", "lose", AHEAD, T1, SUCCEEDS, "PUT"),
    Case("contract set", "503", CONTRACTS, T1, SUCCEEDS, "PUT"),
    Case("read", "503", DATA, T1, SUCCEEDS, "GET"),
    Case("read", "500", DELTA_LOG, T1, SUCCEEDS, "GET"),
    Case("read", "drop", DATA, T1, SUCCEEDS, "GET"),
    Case("read", "cut", DATA, T1, SUCCEEDS, "GET"),
    Case("read", "slow", DATA, T1, SUCCEEDS, "GET"),
    Case("scan", "503", DATA, T1, SUCCEEDS, "GET"),
    Case("scan", "cut", DATA, T1, SUCCEEDS, "GET"),
    # persistent: a StorageError within the retry budget, and nothing partial
    Case("write", "503", REFS, ALWAYS, FAILS, "PUT"),
    Case("write", "500", DATA, ALWAYS, FAILS, "PUT"),
    Case("write", "hang", DELTA_LOG, ALWAYS, FAILS, "PUT"),
    Case("write", "lose", REFS, ALWAYS, FAILS, "PUT"),
    Case("write", "412", REFS, ALWAYS, FAILS),
    Case("write", "412", COMMITS, ALWAYS, FAILS),
    Case("delete", "drop", DELTA_LOG, ALWAYS, FAILS),
    Case("merge", "hang", REFS, ALWAYS, FAILS, "PUT"),
    Case("branch create", "503", NEW_REF, ALWAYS, FAILS),
    Case("fast-forward", "412", AHEAD, ALWAYS, FAILS),
    Case("read", "cut", DATA, ALWAYS, FAILS, "GET"),
    Case("read", "slow", DATA, ALWAYS, FAILS, "GET"),
    Case("scan", "503", DATA, ALWAYS, POLARS_FAILS, "GET"),
    # the command line: exit 3, one error, nothing secret (and 0 when retries carry it through)
    Case("write", "503", REFS, ALWAYS, FAILS, "PUT", via="cli"),
    Case("merge", "drop", DELTA_LOG, ALWAYS, FAILS, via="cli"),
    Case("read", "500", DATA, ALWAYS, FAILS, "GET", via="cli"),
    Case("branch create", "503", NEW_REF, T1, SUCCEEDS, "PUT", via="cli"),
]

_FAULTS = {
    "500": "500 InternalError",
    "503": "503 ServiceUnavailable",
    "slow": f"slow answer ({SLOWER_THAN_TIMEOUT:g} s, more than TIMEOUT)",
    "drop": "connection reset before the answer",
    "cut": "answer cut short (headers and half the body, then closed)",
    "lose": "answer lost (the request took effect, then the connection reset)",
    "hang": "no answer (connection held open)",
    "412": "412 PreconditionFailed on a conditional put",
}


def _method(case: Case) -> str:
    if case.fault == "412":
        return "conditional PUT"  # the only request a precondition can fail
    return case.method or "any request"


def fault_rows() -> list[dict[str, str]]:
    """One row per case of :data:`FAULT_CASES`, for docs/reliability.md."""
    return [
        {
            "operation": f"{case.operation} ({'lake CLI' if case.via == 'cli' else 'Python API'})",
            "fault": _FAULTS[case.fault],
            "where": f"{_method(case)} {case.where or '(every path)'}",
            "times": "every matching request" if case.times is None else f"next {case.times}",
            "expected": case.expected,
        }
        for case in FAULT_CASES
    ]


# -- the repository behind the proxy -------------------------------------------------------------
# Faults injected by this module's cases so far, by kind (each case checks it survived them).
INJECTED: Counter[str] = Counter()


def _options(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_SESSION_TOKEN": TOKEN,
        **FAST,
    }


@pytest.fixture
def fault_proxy(s3_endpoint: str) -> Iterator[HttpFaultProxy]:
    """The HTTP fault proxy in front of moto; what it injected is added to :data:`INJECTED`."""
    host, port = s3_endpoint.removeprefix("http://").split(":")
    proxy = HttpFaultProxy((host, int(port)))
    yield proxy
    proxy.close()
    INJECTED.update(proxy.injected)


@dataclass(frozen=True)
class Template:
    bucket: str
    state: State  # what each branch holds


@pytest.fixture(scope="module")
def template(s3_endpoint: str) -> Template:
    """A repository built once, straight on moto: orders on main (ids 1-3), a branch 'fix' that
    appended id 4 and a branch 'ahead' at main. Each case works on a copy of it."""
    name = f"template-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=name)
    repo = lake.Repository.init(f"s3://{name}/lake", storage_options=_options(s3_endpoint))
    repo.branch("main").write("orders", ORDERS)
    repo.create_branch("fix")
    repo.create_branch("ahead")
    repo.branch("fix").write("orders", MORE)
    return Template(name, _state(repo))


@pytest.fixture
def uri(template: Template, s3_env: dict[str, str]) -> str:
    """A copy of the template repository in a bucket of its own (objects copied on the server:
    the same bytes and entity tags; the Delta logs hold only relative paths)."""
    s3 = boto3.client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL"], region_name="us-east-1")
    name = f"lake-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=template.bucket):
        for obj in page.get("Contents", []):
            s3.copy_object(Bucket=name, Key=obj["Key"], CopySource=f"{template.bucket}/{obj['Key']}")
    return f"s3://{name}/lake"


def _state(repo: lake.Repository) -> State:
    """Each branch's head and rows (every branch here holds one dataset: orders)."""
    return {b.name: (b.commit, _rows(repo.read("orders", b.name))) for b in repo.branches()}


def _no_secret(text: str) -> None:
    assert SECRET not in text and TOKEN not in text


def _storage_error(err: BaseException, uri: str) -> None:
    """A StorageError that names the operation, the object and the cause; nothing secret in it
    nor in any exception it was raised from."""
    assert isinstance(err, lake.StorageError), f"{type(err).__name__}: {err}"
    assert err.exit_code == 3
    assert err.operation and err.object and err.cause and err.object.startswith(uri)
    _no_secret(f"{err.message}\n{err.hint}\n{json.dumps(err.to_dict())}")
    _no_secret("".join(traceback.format_exception(err)))  # the causes it was raised from too


def _prepare(case: Case, tmp: Path) -> None:
    pq.write_table(NEW, tmp / "new.parquet")
    (tmp / "orders.yaml").write_text(_contract().to_yaml())


@pytest.mark.parametrize("case", FAULT_CASES, ids=[c.id for c in FAULT_CASES])
def test_a_fault(
    case: Case,
    template: Template,
    uri: str,
    s3_env: dict[str, str],
    fault_proxy: HttpFaultProxy,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    options = _options(fault_proxy.url)
    repo = lake.Repository.open(uri, storage_options=options)
    before = template.state
    op = OPERATIONS[case.operation]
    delay = SLOWER_THAN_TIMEOUT if case.fault == "slow" else 0.0
    fault_proxy.inject(case.fault, method=case.method, path=case.where, times=case.times, delay=delay)
    failure: BaseException | None = None
    out = ""
    started = time.monotonic()
    if case.via == "cli":
        _prepare(case, tmp_path)
        for name, value in options.items():
            monkeypatch.setenv(name if name.startswith("AWS_") else f"LAKE_STORAGE_{name}", value)
        out = Lake(uri, capsys)(*op.cli(tmp_path), code=0 if case.expected == SUCCEEDS else 3)
    else:
        try:
            result = op.run(repo)
        except Exception as exc:  # judged below
            failure = exc
        else:
            if op.reads is not None:
                assert isinstance(result, pa.Table) and _rows(result) == op.reads
    elapsed = time.monotonic() - started
    fault_proxy.heal()
    fault_proxy.settle()  # a slow request may still land after its client gave up

    assert fault_proxy.injected[case.fault] >= 1, "the fault was never met"
    assert not fault_proxy.unsupported
    if case.expected == SUCCEEDS:
        assert failure is None, f"{type(failure).__name__}: {failure}"
    elif case.expected == POLARS_FAILS:
        assert isinstance(failure, OSError) and uri in str(failure), f"{type(failure).__name__}: {failure}"
        _no_secret("".join(traceback.format_exception(failure)))
    elif case.via == "api":
        assert failure is not None, "the operation succeeded"
        _storage_error(failure, uri)
    else:  # the CLI: one error naming the object, not a bug report
        assert "error:" in out and uri in out and "internal error:" not in out and "report it" not in out
    assert elapsed < WITHIN, f"took {elapsed:.1f} s"
    _no_secret(out)

    healed = lake.Repository.open(uri, storage_options=_options(s3_env["AWS_ENDPOINT_URL"]))  # on moto
    after = _state(healed)
    expected = op.after(before)
    if case.expected == SUCCEEDS:
        assert _holds(healed, after, expected), f"{after} is not {expected}"
    else:
        assert _holds(healed, after, before) or _holds(healed, after, expected), "a partial commit"
    assert healed.fsck().problems == ()
    record("fault", case=case.id, injected=dict(fault_proxy.injected))


def test_the_table_lists_every_case() -> None:
    rows = fault_rows()
    assert len(rows) == len(FAULT_CASES) == len({c.id for c in FAULT_CASES})
    assert all(set(r) == {"operation", "fault", "where", "times", "expected"} for r in rows)
