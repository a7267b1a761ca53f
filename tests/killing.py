"""The crash suite's scenarios: one operation of each kind the lake does, a repository set up for
it, and the child process that runs it and dies at a kill point (:mod:`lake.kill`).

A scenario's ``setup`` runs once in the test's process and is copied for each kill; its ``act``
runs in a child process forked from a server that has imported lakegate already
(:func:`start_child`), with ``LAKE_KILL_AT`` naming the point where it dies. What every branch and
tag reads (:func:`state`) is compared before, after and in between.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import random
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
from deltalake import write_deltalake

import lake

TXN = "_lake_txn"  # a set-aside row names its transaction: another in each run of a scenario

ORDERS_YAML = """\
dataset: orders
columns:
  id: {type: int64}
  amount: {type: float64, min: 0}
primary_key: [id]
"""


def orders(ids: range | list[int], amount: float = 1.0) -> pa.Table:
    ids = list(ids)
    return pa.table({"id": pa.array(ids, pa.int64()), "amount": [float(i) * amount for i in ids]})


def probe(repo: lake.Repository, branch: str) -> None:
    """The next write after a crash: one more row of orders, which every scenario's contract allows."""
    repo.branch(branch).write("orders", orders([10_000]), message="the write after the crash")


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str  # what it does, as the docs list it
    setup: Callable[[lake.Repository], None]
    act: Callable[[lake.Repository], object]
    after: Callable[[lake.Repository], None] = field(default=lambda repo: probe(repo, "main"))
    changes_rows: bool = True  # False: what refs read stays (gc, optimize, an undo of what they never read)


def _main_orders(repo: lake.Repository) -> None:
    repo.branch("main").write("orders", orders(range(1, 4)))


def _dev(repo: lake.Repository) -> None:
    """main and a branch dev that both changed orders since dev forked (a three-way merge)."""
    _main_orders(repo)
    repo.create_branch("dev")
    repo.branch("dev").write("orders", orders([4, 5]))
    repo.branch("dev").delete("orders", "id = 1")
    repo.branch("main").write("orders", orders([6]))


def _contract(repo: lake.Repository) -> None:
    _main_orders(repo)
    repo.branch("main").set_contract("orders", ORDERS_YAML)


def _protected(repo: lake.Repository) -> None:
    _contract(repo)
    repo.create_branch("dev")
    repo.branch("dev").write("orders", orders([4, 5]))
    repo.protect("main", protected=True)


def _merge_probe(repo: lake.Repository) -> None:
    """The next change to a protected main: a merge of a branch made after the crash."""
    repo.create_branch("probe")
    probe(repo, "probe")
    repo.merge("probe")


def _small_files(repo: lake.Repository) -> None:
    for i in range(4):
        repo.branch("main").write("orders", orders([i * 10 + 1, i * 10 + 2]))


def _foreign(repo: lake.Repository) -> None:
    _main_orders(repo)
    options = repo.config.delta_options()
    write_deltalake(repo.table_uri("orders"), orders([100]), mode="append", storage_options=options)


def _garbage(repo: lake.Repository) -> None:
    """Files and layers only expired commits and a deleted branch reach: work for gc."""
    _main_orders(repo)
    repo.create_branch("gone")
    repo.branch("gone").write("orders", orders([7, 8]))
    repo.delete_branch("gone")
    repo.branch("main").write("orders", orders(range(20, 24)), mode="overwrite")
    repo.branch("main").delete("orders", "id = 20")


def _transaction(repo: lake.Repository) -> None:
    with repo.branch("main").transaction(message="orders and payments together") as tx:
        tx.write("orders", orders([4, 5]))
        tx.write("payments", pa.table({"order": pa.array([4, 5], pa.int64()), "paid": [True, False]}))


def _stream(repo: lake.Repository) -> None:
    data = orders(range(100, 400))
    reader = pa.RecordBatchReader.from_batches(data.schema, data.to_batches(max_chunksize=50))
    repo.branch("main").write("orders", reader)


def _revert(repo: lake.Repository) -> None:
    repo.revert(repo.branch("main").head)


def _quarantine(repo: lake.Repository) -> None:
    bad = pa.table({"id": pa.array([4, 5, 6], pa.int64()), "amount": [4.0, -5.0, 6.0]})
    repo.branch("main").write("orders", bad, on_violation="quarantine")


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario(
            "append", "append to main", _main_orders, lambda r: r.branch("main").write("orders", orders([4]))
        ),
        Scenario(
            "append-branch",
            "append on a branch (its own layer)",
            lambda r: (_main_orders(r), r.create_branch("dev")),
            lambda r: r.branch("dev").write("orders", orders([4])),
            lambda r: probe(r, "dev"),
        ),
        Scenario("create", "first write of a dataset", lambda r: None, _main_orders),
        Scenario(
            "add-column",
            "append with a new column",
            _main_orders,
            lambda r: r.branch("main").write(
                "orders", orders([4]).append_column("note", pa.array(["x"])), schema_mode="merge"
            ),
        ),
        Scenario("stream", "streamed write (a RecordBatchReader)", _main_orders, _stream),
        Scenario(
            "overwrite",
            "overwrite",
            _main_orders,
            lambda r: r.branch("main").write("orders", orders([9]), mode="overwrite"),
        ),
        Scenario("delete", "delete", _main_orders, lambda r: r.branch("main").delete("orders", "id = 2")),
        Scenario(
            "upsert-branch",
            "upsert on a branch",
            lambda r: (_main_orders(r), r.create_branch("dev")),
            lambda r: r.branch("dev").upsert("orders", orders([2, 4], amount=3.0), key=["id"]),
            lambda r: probe(r, "dev"),
        ),
        Scenario("transaction", "transaction over two datasets", _main_orders, _transaction),
        Scenario("quarantine", "write that sets rows aside", _contract, _quarantine),
        Scenario(
            "contract",
            "contract set",
            _main_orders,
            lambda r: r.branch("main").set_contract("orders", ORDERS_YAML),
        ),
        Scenario("merge", "three-way merge", _dev, lambda r: r.merge("dev")),
        Scenario(
            "merge-protected",
            "merge into a protected main (profiles kept)",
            _protected,
            lambda r: r.merge("dev"),
            _merge_probe,
        ),
        Scenario("revert", "revert", _small_files, _revert),
        Scenario("optimize", "optimize", _small_files, lambda r: r.optimize("orders"), changes_rows=False),
        Scenario(
            "adopt",
            "adoption of a foreign append",
            _foreign,
            lambda r: r.repair_foreign("orders", "adopt", reason="kill test"),
        ),
        Scenario(
            "undo",
            "undo of a foreign append",
            _foreign,
            lambda r: r.repair_foreign("orders", "undo", reason="kill test"),
            changes_rows=False,
        ),
        Scenario("gc", "gc", _garbage, lambda r: r.gc(older_than="0s", grace="0s"), changes_rows=False),
    ]
}


# -- what a repository reads -------------------------------------------------------------------------
def state(repo: lake.Repository) -> dict[str, Any]:
    """What each branch and tag reads: every dataset's rows (sorted) and contract."""
    refs = [b.name for b in repo.branches()] + [f"tag:{t.name}" for t in repo.tags()]
    seen: dict[str, Any] = {}
    for ref in refs:
        name = ref.removeprefix("tag:")
        datasets: dict[str, Any] = {}
        for info in repo.datasets(name):
            rows = [
                {k: v for k, v in r.items() if k != TXN} for r in repo.read(info.name, ref=name).to_pylist()
            ]
            contract = repo.contract(info.name, ref=name)
            datasets[info.name] = (
                sorted(json.dumps(r, sort_keys=True, default=str) for r in rows),
                contract.hash if contract is not None else None,
            )
        seen[ref] = datasets
    return seen


# -- copies of a set-up repository -------------------------------------------------------------------
def copy_repo(source: str, target: str) -> None:
    """Copy every object of the repository at ``source`` to ``target`` (a folder, or an S3 prefix)."""
    if not source.startswith("s3://"):
        shutil.copytree(source, target)
        return
    bucket, _, prefix = source.removeprefix("s3://").partition("/")
    to = target.removeprefix("s3://").partition("/")[2]
    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for obj in page.get("Contents", []):
            key = to + obj["Key"][len(prefix) :]
            s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": obj["Key"]})


# -- the child process -------------------------------------------------------------------------------
def _act(uri: str, env: dict[str, str], scenario: str) -> None:
    os.environ.update(env)
    repo = lake.Repository.open(uri)
    SCENARIOS[scenario].act(repo)


def forkserver() -> Any:
    """The multiprocessing context whose children fork from a server that imported lakegate and
    this module once: a child starts in milliseconds, not in the seconds an import takes."""
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(["lake", "killing"])  # read when the server starts
    return context


def _run(target: Callable[..., None], args: tuple[Any, ...], timeout: float, what: str) -> int:
    """Run ``target(*args)`` in a child forked from :func:`forkserver`; its exit code."""
    child = forkserver().Process(target=target, args=args)
    child.start()
    child.join(timeout=timeout)
    if child.exitcode is None:
        child.kill()
        raise AssertionError(f"{what}: the child did not end in {timeout:.0f} s")
    return int(child.exitcode)


def start_child(uri: str, scenario: str, env: dict[str, str]) -> int:
    """Run the scenario's operation on ``uri`` in a child process; its exit code (137: killed)."""
    return _run(_act, (uri, env, scenario), 300, scenario)


def check_killed(
    uri: str, before: dict[str, Any], after: dict[str, Any], write: Callable[[lake.Repository], None]
) -> None:
    """What a repository killed mid-change must hold: every ref reads the state ``before`` or
    ``after``; fsck finds only garbage; ``write`` (the next change) succeeds; gc then leaves fsck
    clean and every ref reading what it read."""
    repo = lake.Repository.open(uri)
    now = state(repo)
    for ref in before.keys() | after.keys() | now.keys():
        assert now.get(ref) in (before.get(ref), after.get(ref)), ref
    problems = repo.fsck(grace="0s").problems
    assert not problems, [p.message for p in problems]
    write(repo)
    healed = state(repo)
    repo.gc(older_than="0s", grace="0s")
    check = repo.fsck(grace="0s")
    assert check.clean, check.to_dict()
    assert state(repo) == healed, "gc changed what refs read"


def reached(trace: Path, pid: int | None = None) -> Iterator[tuple[str, int]]:
    """Each kill point a traced run reached (in process ``pid``, if given), with how many times."""
    counts: dict[str, int] = {}
    for line in trace.read_text().splitlines() if trace.exists() else []:
        event = json.loads(line)
        if pid is not None and event["pid"] != pid:
            continue
        counts[event["point"]] = counts.get(event["point"], 0) + 1  # "n" counts per process, not per run
    yield from counts.items()


def occurrences(total: int) -> list[int]:
    """Which reaches of a point to kill at: all of a few, else the first, a middle one and the last."""
    return list(range(1, total + 1)) if total <= 3 else sorted({1, (total + 1) // 2, total})


# -- the random-kill soak's child (tests/test_soak.py) -------------------------------------------------
BATCH = 20  # events per tally row: what every commit of the soak holds


def _batch(tag: str, seq: int) -> tuple[pa.Table, pa.Table]:
    events = pa.table({"tag": [tag] * BATCH, "seq": [seq] * BATCH, "n": list(range(BATCH))})
    return events, pa.table({"tag": [tag], "seq": [seq]})


def soak_commit(repo: lake.Repository, branch: str, tag: str, seq: int) -> str:
    events, tally = _batch(tag, seq)
    with repo.branch(branch).transaction(message=f"{tag}-{seq}") as tx:
        if seq % 5 == 4:
            tx.delete("events", f"tag = '{tag}' AND seq = {seq - 1}")
            tx.delete("tally", f"tag = '{tag}' AND seq = {seq - 1}")
        tx.write("events", events)
        tx.write("tally", tally)
    return tx.result.commit


def soak_setup(repo: lake.Repository) -> None:
    soak_commit(repo, "main", "seed", 0)
    repo.create_branch("dev")
    soak_commit(repo, "dev", "dev", 0)
    repo.create_branch("gone")
    soak_commit(repo, "gone", "gone", 0)
    repo.delete_branch("gone")
    soak_commit(repo, "main", "seed", 1)


def soak_work(uri: str, env: dict[str, str], role: str, seed: int, acked: str) -> None:
    """The child: works until it is killed, appending each landed commit to ``acked``."""
    os.environ.update(env)
    repo = lake.Repository.open(uri)
    rng = random.Random(seed)
    with open(acked, "a", encoding="utf-8") as out:

        def ack(branch: str, commit: str) -> None:
            out.write(json.dumps({"branch": branch, "commit": commit}) + "\n")
            out.flush()
            os.fsync(out.fileno())

        for seq in range(2, 10_000):
            if role == "writer":
                branch = rng.choice(["main", "dev"])
                ack(branch, soak_commit(repo, branch, f"w-{branch}", seq))
            elif role == "merger":
                name = f"m{seq}"
                repo.create_branch(name)
                soak_commit(repo, name, name, seq)
                merged = repo.merge(name)
                assert merged.commit is not None
                ack("main", merged.commit)
            else:
                repo.gc(older_than="0s", grace="0s")
                soak_commit(repo, "main", "gc", seq)  # more garbage for the next round


# -- Spark commits (tests/test_spark_kill_points.py) ---------------------------------------------------
def _spark_session() -> Any:
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[1]")
        .appName("lakegate-kill")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )


def spark_scenario(spark: Any, repo: lake.Repository, scenario: str) -> None:
    """The scenario's Spark operation, run by ``spark``'s driver."""
    import lake.spark

    frame = spark.createDataFrame(orders([2, 4, 5], amount=2.0).to_pandas())
    if scenario == "spark-write":
        lake.spark.write(frame, repo, "orders")
    elif scenario == "spark-upsert":
        lake.spark.upsert(frame, repo, "orders", key=["id"])
    else:
        raise AssertionError(scenario)


def _spark_act(uri: str, env: dict[str, str], scenario: str) -> None:
    """The driver: a Spark session of its own (its JVM ends with it), then the scenario's write."""
    import sys

    os.environ.update(env)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = _spark_session()
    spark.sparkContext.setLogLevel("OFF")
    spark_scenario(spark, lake.Repository.open(uri), scenario)


SPARK_SCENARIOS = {
    "spark-write": "a Spark write (Spark's own writer on local disk, the executors' on S3)",
    "spark-upsert": "a Spark upsert (the executors rewrite the files that hold a key)",
}


def start_spark_child(uri: str, scenario: str, env: dict[str, str]) -> int:
    """Run a Spark scenario on ``uri`` in a child process with a Spark session of its own; its
    exit code (137: killed)."""
    return _run(_spark_act, (uri, env, scenario), 600, scenario)
