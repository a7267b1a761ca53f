"""Concurrent writers lose no update; a crash at any step leaves every branch readable."""

from __future__ import annotations

import multiprocessing as mp
import os

import polars as pl
import pyarrow as pa
import pytest
from conftest import crash_between_delta_commit_and_ref

import lake
from lake.graph.refs import RefStore

WRITERS = 4
WRITES_EACH = 4


def _writer(uri: str, env: dict[str, str], worker: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    os.environ.update(env)
    repo = lake.Repository.open(uri)
    done = 0
    retried = 0
    for i in range(WRITES_EACH):
        row = pa.table({"writer": [worker], "seq": [i]})
        for _ in range(20):
            try:
                repo.branch("main").write("events", row, message=f"w{worker}-{i}")
                done += 1
                break
            except lake.ConcurrentUpdateError:
                retried += 1  # typed and retryable: nothing was committed
    out.put((worker, done, retried))


def _race(uri: str, env: dict[str, str]) -> list[tuple[int, int, int]]:
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_writer, args=(uri, env, w, out)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    results = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return results


@pytest.mark.slow
def test_processes_writing_one_branch_lose_no_update(repo_uri: str, request: pytest.FixtureRequest) -> None:
    env = request.getfixturevalue("s3_env") if repo_uri.startswith("s3://") else {}
    repo = lake.Repository.init(repo_uri)
    repo.branch("main").write("events", pa.table({"writer": [-1], "seq": [-1]}))
    results = _race(repo_uri, dict(env))
    assert all(done == WRITES_EACH for _, done, _ in results)
    table = repo.read("events")
    got = sorted(zip(table.column("writer").to_pylist(), table.column("seq").to_pylist(), strict=True))
    want = sorted([(-1, -1)] + [(w, i) for w in range(WRITERS) for i in range(WRITES_EACH)])
    assert got == want
    # every successful write is exactly one commit on main's first-parent chain
    assert len(repo.log()) == 1 + 1 + WRITERS * WRITES_EACH
    # main's plain Delta table agrees with the lake
    import polars as pl

    plain = pl.read_delta(repo.table_uri("events"), storage_options=repo.config.polars_options())
    assert plain.height == len(want)


def test_two_writers_of_different_datasets_both_land(repo: lake.Repository) -> None:
    """A ref race on untouched datasets rebases instead of redoing the write."""
    main = repo.branch("main")
    main.write("a", pa.table({"x": [1]}))
    main.write("b", pa.table({"x": [1]}))
    real_move = RefStore.move
    raced = {"done": False}

    def move_after_a_rival(self: RefStore, ref, commit, **kw):  # type: ignore[no-untyped-def]
        if not raced["done"]:
            raced["done"] = True
            repo.branch("main").write("b", pa.table({"x": [2]}), message="rival")
        return real_move(self, ref, commit, **kw)

    RefStore.move = move_after_a_rival  # type: ignore[method-assign]
    try:
        result = main.write("a", pa.table({"x": [2]}), message="mine")
    finally:
        RefStore.move = real_move  # type: ignore[method-assign]
    assert result.attempts == 1
    assert sorted(repo.read("a").column("x").to_pylist()) == [1, 2]
    assert sorted(repo.read("b").column("x").to_pylist()) == [1, 2]
    assert [c.commit.message for c in repo.log(limit=2)] == ["mine", "rival"]


@pytest.mark.parametrize("branch", ["main", "feature"])
def test_crash_between_the_delta_commit_and_the_ref_leaves_the_branch_consistent(
    repo: lake.Repository, branch: str
) -> None:
    repo.branch("main").write("orders", pa.table({"id": [1]}))
    if branch != "main":
        repo.create_branch(branch).write("orders", pa.table({"id": [2]}))
    b = repo.branch(branch)
    head = b.head
    before = sorted(repo.read("orders", branch).column("id").to_pylist())
    crash_between_delta_commit_and_ref(lambda: b.write("orders", pa.table({"id": [99]}), message="lost"))
    # readers through the ref never see the half-done write
    assert b.head == head
    assert sorted(repo.read("orders", branch).column("id").to_pylist()) == before
    # the next writer heals the orphaned Delta version and commits on top of the named one
    b.write("orders", pa.table({"id": [3]}), message="next")
    assert sorted(repo.read("orders", branch).column("id").to_pylist()) == sorted([*before, 3])
    if branch == "main":
        import polars as pl

        plain = pl.read_delta(repo.table_uri("orders"), storage_options=repo.config.polars_options())
        assert sorted(plain["id"].to_list()) == [1, 3]


def _merger(uri: str, env: dict[str, str], branches: list[str], out: mp.Queue) -> None:  # type: ignore[type-arg]
    os.environ.update(env)
    repo = lake.Repository.open(uri)
    merged = 0
    for name in branches:
        for _ in range(20):
            try:
                repo.merge(name)
                merged += 1
                break
            except lake.ConcurrentUpdateError:
                continue
    out.put(merged)


@pytest.mark.slow
def test_concurrent_merges_and_writes_into_main_lose_nothing(
    repo_uri: str, request: pytest.FixtureRequest
) -> None:
    env = request.getfixturevalue("s3_env") if repo_uri.startswith("s3://") else {}
    repo = lake.Repository.init(repo_uri)
    repo.branch("main").write("events", pa.table({"writer": [-1], "seq": [-1]}))
    names = []
    for i in range(4):
        b = repo.create_branch(f"b{i}")
        b.write("events", pa.table({"writer": [100 + i], "seq": [0]}))
        names.append(b.name)
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [
        ctx.Process(target=_merger, args=(repo_uri, dict(env), names[:2], out)),
        ctx.Process(target=_merger, args=(repo_uri, dict(env), names[2:], out)),
        ctx.Process(target=_writer, args=(repo_uri, dict(env), 0, out)),
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    table = repo.read("events")
    got = sorted(zip(table.column("writer").to_pylist(), table.column("seq").to_pylist(), strict=True))
    want = sorted([(-1, -1), *((100 + i, 0) for i in range(4)), *((0, s) for s in range(WRITES_EACH))])
    assert got == want, results
    import polars as pl

    plain = pl.read_delta(repo.table_uri("events"), storage_options=repo.config.polars_options())
    assert plain.height == len(want)


APPENDERS = 8
APPENDS_EACH = 50


def _appender(uri: str, env: dict[str, str], worker: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    os.environ.update(env)
    repo = lake.Repository.open(uri)
    attempts = []
    try:
        for i in range(APPENDS_EACH):
            rows = pa.table({"writer": [worker] * 1000, "seq": [i] * 1000, "n": list(range(1000))})
            result = repo.branch("main").write("events", rows, message=f"w{worker}-{i}")
            attempts.append(result.attempts)
        out.put((worker, len(attempts), max(attempts), ""))
    except lake.LakeError as exc:  # reported, so that the test says what gave up
        out.put((worker, len(attempts), max(attempts, default=0), f"{type(exc).__name__}: {exc}"))


@pytest.mark.slow
def test_eight_processes_appending_to_one_dataset_never_give_up(
    repo_uri: str, request: pytest.FixtureRequest
) -> None:
    """Issue 7, point 17: 8 processes x 50 appends of 1,000 rows to one dataset on one branch.
    Appends commute, so every one lands (no ConcurrentUpdateError), and the rows add up."""
    env = request.getfixturevalue("s3_env") if repo_uri.startswith("s3://") else {}
    repo = lake.Repository.init(repo_uri)
    repo.branch("main").write("events", pa.table({"writer": [-1], "seq": [-1], "n": [0]}))
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_appender, args=(repo_uri, dict(env), w, out)) for w in range(APPENDERS)]
    for p in procs:
        p.start()
    results = [out.get(timeout=900) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert [r for r in results if r[3]] == []
    assert sorted(r[1] for r in results) == [APPENDS_EACH] * APPENDERS
    table = repo.read("events", columns=["writer", "seq"])
    assert table.num_rows == 1 + APPENDERS * APPENDS_EACH * 1000
    counts = pl.from_arrow(table).group_by("writer", "seq").len()  # type: ignore[union-attr]
    assert counts.filter(pl.col("writer") >= 0)["len"].to_list() == [1000] * APPENDERS * APPENDS_EACH
    assert len(repo.log()) == 2 + APPENDERS * APPENDS_EACH  # one commit per acknowledged append
    plain = pl.read_delta(repo.table_uri("events"), storage_options=repo.config.polars_options())
    assert plain.height == table.num_rows  # main's plain Delta table agrees


KEYED = """\
dataset: orders
columns:
  id: {type: int64}
primary_key: [id]
"""


def test_a_merge_whose_target_moved_after_its_gate_is_judged_again(repo: lake.Repository) -> None:
    """Issue 15: two branches each add id 7; each passes the gate alone. The second merge's gate
    judged main before the first merge landed: it must be judged again on main as it is now,
    never land a duplicate key that no gate saw."""
    main = repo.branch("main")
    main.write("orders", pa.table({"id": [1, 2]}))
    main.set_contract("orders", KEYED)
    for name in ("a", "b"):
        repo.create_branch(name).write("orders", pa.table({"id": [7]}))
    repo.protect("main", protected=True)
    real_move = RefStore.move
    raced = {"done": False}

    def rival_merges_first(self: RefStore, ref, commit, **kw):  # type: ignore[no-untyped-def]
        if ref.name == "main" and not raced["done"]:
            raced["done"] = True
            repo.merge("a")  # lands between b's gate and b's compare-and-swap
        return real_move(self, ref, commit, **kw)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RefStore, "move", rival_merges_first)
        with pytest.raises(lake.LakeError) as refused:
            repo.merge("b")
    assert refused.value.exit_code == 1, refused.value  # the gate (or the merge) says no, as data
    ids = repo.read("orders").column("id").to_pylist()
    assert sorted(ids) == [1, 2, 7]
    assert [c.commit.message for c in repo.log(limit=1)] == ["Merge a into main"]
