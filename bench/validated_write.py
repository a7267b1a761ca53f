"""A write of 5M rows checked against the issue's orders contract (4 dataset checks and the column
rules), against a plain deltalake.write_deltalake of the same data. Target: the median ratio of
five interleaved pairs <= 1.2, on local disk (``--s3``: on moto S3 too).

Each pair also gives the CPU both spent (user + system, every thread): the wall ratio tends to the
CPU ratio as other work takes the machine's cores, since the checks then no longer overlap file
writing for free. "Where the time goes" times the parts alone, one after another."""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
from _common import moto_server, new_bucket, tempdir
from deltalake import write_deltalake

import lake
from lake.contracts import Contract
from lake.storage import open_store
from lake.table.layers import Layers
from lake.validation.engine import cast_to_contract, validate

CONTRACT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "orders.yaml"


def orders(rows: int, offset: int = 0, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    created = np.int64(1_790_000_000_000_000) + np.arange(rows, dtype=np.int64) * 1000 + offset * 1000
    shipped = created + rng.integers(0, 86_400_000_000, rows)
    emails = np.array([f"user{i}@example.com" for i in range(1000)])
    return pa.table(
        {
            "order_id": pa.array(np.arange(offset, offset + rows, dtype=np.int64)),
            "customer_id": pa.array(rng.integers(0, 100_000, rows, dtype=np.int64)),
            "amount": pa.array(rng.gamma(2.0, 50.0, rows)),
            "currency": pa.array(rng.choice(np.array(["EUR", "USD", "GBP"]), rows)).cast(pa.string()),
            "email": pa.array(rng.choice(emails, rows)).cast(pa.string()),
            "created_at": pa.array(created.astype("datetime64[us]")).cast(pa.timestamp("us", tz="UTC")),
            "shipped_at": pa.array(shipped.astype("datetime64[us]")).cast(pa.timestamp("us", tz="UTC")),
        }
    )


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the whole process: user + system, every thread)."""
    before, start = os.times(), time.perf_counter()
    fn()
    after = os.times()
    return time.perf_counter() - start, after.user - before.user + after.system - before.system


def measure(
    root: str, where: str, contract: Contract, data: pa.Table, pairs: int, storage: dict[str, str] | None
) -> float:
    repo = lake.Repository.init(f"{root}/lake")
    main = repo.branch("main")

    def ours() -> tuple[float, float]:
        name = f"d{uuid.uuid4().hex[:8]}"
        main.set_contract(name, contract.with_dataset(name))
        return timed(lambda: main.write(name, data))

    def plain() -> tuple[float, float]:
        return timed(
            lambda: write_deltalake(f"{root}/plain-{uuid.uuid4().hex}", data, storage_options=storage)
        )

    plain()  # warm both paths once (imports, thread pools)
    ours()
    done = []
    for i in range(pairs):  # interleaved, alternating which goes first: the machine is shared
        if i % 2 == 0:
            mine = ours()
            theirs = plain()
        else:
            theirs = plain()
            mine = ours()
        done.append((mine, theirs))
    print(
        f"\n{where}: validated write of {data.num_rows:,} rows vs write_deltalake ({pairs} interleaved pairs)"
    )
    for n, ((wall, cpu), (wall_ref, cpu_ref)) in enumerate(done, 1):
        print(
            f"  pair {n}: lake {wall:.2f} s ({cpu:.2f} s CPU), write_deltalake {wall_ref:.2f} s "
            f"({cpu_ref:.2f} s CPU): ratio {wall / wall_ref:.2f}, CPU ratio {cpu / cpu_ref:.2f}"
        )
    ratio = statistics.median(m[0] / t[0] for m, t in done)
    cpu_ratio = statistics.median(m[1] / t[1] for m, t in done)
    spread = [m[0] / t[0] for m, t in done]
    print(
        f"  median ratio {ratio:.2f} (target <= 1.2) {'ok' if ratio <= 1.2 else 'OVER'}; "
        f"pairs {min(spread):.2f}-{max(spread):.2f}; median CPU ratio {cpu_ratio:.2f}"
    )
    parts(repo, contract, data, storage, root)
    return ratio


def parts(
    repo: lake.Repository, contract: Contract, data: pa.Table, storage: dict[str, str] | None, root: str
) -> None:
    """The write's parts alone, each the median of three: wall and CPU seconds."""
    layers = Layers(repo.config, open_store(repo.config))

    def check() -> None:
        typed = cast_to_contract(contract, data)
        validate(contract, typed.table, pre=typed.results)

    steps: list[tuple[str, Callable[[], object]]] = [
        ("cast + checks", check),
        (
            "data files (parquet + stats)",
            lambda: layers.write_files(f"files-{uuid.uuid4().hex[:8]}", "", data),
        ),
        (
            "write_deltalake",
            lambda: write_deltalake(f"{root}/plain-{uuid.uuid4().hex}", data, storage_options=storage),
        ),
    ]
    print("  where the time goes (alone):")
    for what, fn in steps:
        runs = [timed(fn) for _ in range(3)]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        print(f"    {what:<30} {wall:6.2f} s wall {cpu:6.2f} s CPU")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument(
        "--repeat", type=int, default=5, help="interleaved pairs; the median ratio is the result"
    )
    parser.add_argument("--s3", action="store_true", help="also on a moto S3 server")
    args = parser.parse_args()
    contract = Contract.from_yaml(CONTRACT)
    data = orders(args.rows)
    root = tempdir()
    try:
        measure(root, "local disk", contract, data, args.repeat, None)
    finally:
        shutil.rmtree(root, ignore_errors=True)  # a run writes ~3 GB
    if args.s3:
        with moto_server() as env:
            storage = dict(env) | {"AWS_ALLOW_HTTP": "true"}
            measure(f"s3://{new_bucket(env)}", "moto S3", contract, data, args.repeat, storage)


if __name__ == "__main__":
    main()
