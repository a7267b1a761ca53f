"""Concurrent writers lose no update; a crash at any step leaves every branch readable."""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from conftest import crash_between_delta_commit_and_ref
from killing import BATCH, forkserver, soak_commit
from reliability import record

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


WORKERS = 8
COMMITS_EACH = 50
KINDS = {
    0: "append",
    1: "append",
    2: "append",
    3: "append",
    4: "upsert",
    5: "upsert",
    6: "delete",
    7: "delete",
}


def _worker(uri: str, env: dict[str, str], worker: int, commits: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """Commits ``commits`` times to main: a transaction of events and tally (and, every fifth,
    deletes of the one before), an upsert of accounts, or a delete from ledger, by its kind."""
    os.environ.update(env)
    repo = lake.Repository.open(uri)
    main = repo.branch("main")
    landed: list[str] = []
    try:
        for i in range(commits):
            kind = KINDS[worker]
            if kind == "append":
                landed.append(soak_commit(repo, "main", f"w{worker}", i))
            elif kind == "upsert":
                row = pa.table({"id": [worker * 100 + i % 10], "v": [i]})
                landed.append(main.upsert("accounts", row, key=["id"], message=f"w{worker}-{i}").commit)
            else:
                landed.append(main.delete("ledger", f"owner = {worker} AND seq = {i}").commit)
        out.put((worker, landed, ""))
    except lake.LakeError as exc:  # reported, so that the test says what gave up
        out.put((worker, landed, f"{type(exc).__name__}: {exc}"))


def _reader(uri: str, env: dict[str, str], stop: str, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """Reads main at its head, again and again, until ``stop`` exists: each read must be a
    snapshot some commit made (BATCH events per tally row, as every transaction writes them)."""
    os.environ.update(env)
    repo = lake.Repository.open(uri)
    reads, torn = 0, []
    while not os.path.exists(stop):
        head = repo.resolve("main")
        events = repo.read("events", ref=head, columns=["tag", "seq"]).to_pylist()
        tally = repo.read("tally", ref=head).to_pylist()
        counts: dict[tuple[str, int], int] = {}
        for row in events:
            counts[(row["tag"], row["seq"])] = counts.get((row["tag"], row["seq"]), 0) + 1
        if counts != {(t["tag"], t["seq"]): BATCH for t in tally}:
            torn.append(head)
        reads += 1
    out.put((reads, torn))


ON_S3_IN_CI = 3  # commits each on moto in CI: a run of 50 there takes 5 minutes (-m soak runs it)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "commits"),
    [
        ("local", COMMITS_EACH),
        ("s3", ON_S3_IN_CI),
        pytest.param("s3", COMMITS_EACH, marks=pytest.mark.soak, id="s3-full"),
    ],
)
def test_eight_processes_committing_to_one_branch_lose_nothing(
    backend: str, commits: int, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Issue 15 (and issue 7, point 17): 8 processes x 50 commits on main, at once: four commit
    transactions of two datasets (appends, and deletes of their own rows), two upsert one keyed
    dataset, two delete from another; a ninth process reads main throughout. No writer gives up,
    every acknowledged commit is in main's history, the rows add up exactly, and every read
    was a committed snapshot."""
    repo_uri = (
        str(tmp_path / "lake") if backend == "local" else f"s3://{request.getfixturevalue('bucket')}/lake"
    )
    env = request.getfixturevalue("s3_env") if repo_uri.startswith("s3://") else {}
    repo = lake.Repository.init(repo_uri)
    main = repo.branch("main")
    soak_commit(repo, "main", "seed", 0)
    main.write("accounts", pa.table({"id": [0], "v": [0]}))
    owners = [w for w, k in KINDS.items() if k == "delete"] + [99]
    main.write(
        "ledger",
        pa.table(
            {
                "owner": [o for o in owners for _ in range(COMMITS_EACH)],
                "seq": [i for _ in owners for i in range(COMMITS_EACH)],
            }
        ),
    )
    ctx = forkserver()
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    seen: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    stop = str(tmp_path / "stop")
    reader = ctx.Process(target=_reader, args=(repo_uri, dict(env), stop, seen))
    reader.start()
    procs = [ctx.Process(target=_worker, args=(repo_uri, dict(env), w, commits, out)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    results = [out.get(timeout=1200) for _ in procs]
    Path(stop).touch()
    reads, torn = seen.get(timeout=120)
    for p in [*procs, reader]:
        p.join(timeout=60)
    assert [r[2] for r in results if r[2]] == []
    acknowledged = {cid for _, landed, _ in results for cid in landed}
    assert len(acknowledged) == WORKERS * commits
    history = {c.id for c in repo.log()}
    assert acknowledged <= history, "acknowledged commits missing from main's history"
    assert len(history) == 4 + WORKERS * commits  # the root, three set-up commits, and ours
    assert torn == [] and reads > 0, f"{len(torn)} of {reads} reads were not a committed snapshot"

    events = pl.from_arrow(repo.read("events", columns=["tag", "seq"]))
    per_seq = events.group_by("tag", "seq").len()  # type: ignore[union-attr]
    appenders = [w for w, k in KINDS.items() if k == "append"]
    kept = [
        i for i in range(commits) if i % 5 != 3 or i == commits - 1
    ]  # every fifth commit deletes the one before
    want = sorted([("seed", 0)] + [(f"w{w}", i) for w in appenders for i in kept])
    assert sorted(per_seq.select("tag", "seq").rows()) == want
    assert set(per_seq["len"].to_list()) == {BATCH}
    accounts = dict(repo.read("accounts").to_pandas()[["id", "v"]].itertuples(index=False))
    upserters = [w for w, k in KINDS.items() if k == "upsert"]
    last = {r: max(i for i in range(commits) if i % 10 == r) for r in range(min(10, commits))}
    assert accounts == {0: 0, **{w * 100 + r: i for w in upserters for r, i in last.items()}}
    ledger = repo.read("ledger", columns=["owner", "seq"]).to_pylist()
    deleters = [w for w, k in KINDS.items() if k == "delete"]
    left = [(w, i) for w in deleters for i in range(commits, COMMITS_EACH)] + [
        (99, i) for i in range(COMMITS_EACH)
    ]
    assert sorted((r["owner"], r["seq"]) for r in ledger) == sorted(left)
    plain = pl.read_delta(repo.table_uri("events"), storage_options=repo.config.polars_options())
    assert plain.height == events.height  # main's plain Delta table agrees
    record(
        "concurrency",
        test="commits",
        backend=backend,
        workers=WORKERS,
        commits=commits,
        landed=len(acknowledged),
        lost=len(acknowledged - history),
        reads=reads,
        torn=len(torn),
    )


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


def _gated_merger(uri: str, env: dict[str, str], branch: str, out: mp.Queue) -> None:  # type: ignore[type-arg]
    os.environ.update(env)
    try:
        merged = lake.Repository.open(uri).merge(branch)
        out.put((branch, merged.commit, 0, ""))
    except lake.LakeError as exc:
        out.put((branch, None, exc.exit_code, type(exc).__name__))


def test_four_merges_into_a_protected_main_at_once_each_pass_the_gate(repo: lake.Repository) -> None:
    """Issue 15: four branches merge into a protected, keyed main at once. b3 adds a key b0 adds
    too: whichever of the two merges second meets a main that holds it, so its gate (run again
    on main as it is then) refuses it. The three others land, each through a gate that judged
    the main it landed on; main's keys stay unique."""
    main = repo.branch("main")
    main.write("orders", pa.table({"id": [0]}))
    main.set_contract("orders", KEYED)
    for b in range(4):
        ids = list(range(100 * (b + 1), 100 * (b + 1) + 20)) + ([100] if b == 3 else [])
        repo.create_branch(f"b{b}").write("orders", pa.table({"id": ids}))
    repo.protect("main", protected=True)
    env = dict(os.environ) if repo.uri.startswith("s3://") else {}
    ctx = forkserver()
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_gated_merger, args=(repo.uri, env, f"b{b}", out)) for b in range(4)]
    for p in procs:
        p.start()
    results = {r[0]: r for r in (out.get(timeout=600) for _ in procs)}
    for p in procs:
        p.join(timeout=60)
    refused = [b for b, r in results.items() if r[1] is None]
    assert len(refused) == 1 and refused[0] in ("b0", "b3"), results
    assert results[refused[0]][2] == 1, results  # the gate's verdict (or a conflict): exit 1
    ids = repo.read("orders").column("id").to_pylist()
    assert len(ids) == len(set(ids)) == 1 + 3 * 20 + (1 if refused[0] == "b0" else 0)
    merges = [c for c in repo.log() if len(c.commit.parents) == 2]
    assert sorted(c.id for c in merges) == sorted(r[1] for r in results.values() if r[1])
    for c in merges:  # no merge skipped the gate: each records the verdict that admitted it
        assert c.commit.metadata["lake.gate"]["verdict"] in ("pass", "warn"), c.commit.metadata
        assert "lake.override" not in c.commit.metadata
    backend = "s3" if repo.uri.startswith("s3://") else "local"
    record("concurrency", test="merges", backend=backend, merges=4, landed=len(merges), refused=len(refused))


def test_a_swap_whose_answer_was_lost_under_a_rival_is_not_made_twice(repo: lake.Repository) -> None:
    """Issue 15: the ref swap lands but its answer is lost, and before the writer looks again a
    rival commits on top of it; the writer must see its commit in the branch's history, not redo
    the write (which would append its rows twice)."""
    main = repo.branch("main")
    main.write("orders", pa.table({"id": [1]}))
    real_move = RefStore.move
    raced = {"done": False}

    def lands_then_a_rival(self: RefStore, ref, commit, **kw):  # type: ignore[no-untyped-def]
        moved = real_move(self, ref, commit, **kw)
        if not raced["done"]:
            raced["done"] = True
            main.write("orders", pa.table({"id": [3]}), message="rival")
            raise lake.ConcurrentUpdateError("the answer was lost")
        return moved

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RefStore, "move", lands_then_a_rival)
        result = main.write("orders", pa.table({"id": [2]}), message="mine")
    assert sorted(repo.read("orders").column("id").to_pylist()) == [1, 2, 3]
    assert [c.commit.message for c in repo.log(limit=2)] == ["rival", "mine"]
    assert result.commit == repo.log(limit=2)[1].id
