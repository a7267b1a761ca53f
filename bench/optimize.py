"""1,000 appends of 1,000 rows, then `optimize`: the time to read main through the lake and through
a plain Delta reader (polars), before / after, as ratios measured side by side in one run."""

from __future__ import annotations

import argparse
import statistics
import time

import polars as pl
from _common import report, table, tempdir

import lake


def read_times(repo: lake.Repository, repeat: int) -> tuple[float, float]:
    uri = repo.table_uri("orders")
    ours, plain = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        repo.read("orders")
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        pl.read_delta(uri)
        plain.append(time.perf_counter() - start)
    return statistics.median(ours), statistics.median(plain)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--appends", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    repo = lake.Repository.init(f"{tempdir()}/lake")
    main_branch = repo.branch("main")
    start = time.perf_counter()
    for i in range(args.appends):
        main_branch.write("orders", table(args.rows, seed=i, offset=i * args.rows))
    appends = time.perf_counter() - start
    files_before = repo.datasets()[0].files
    ours_before, plain_before = read_times(repo, args.repeat)
    start = time.perf_counter()
    repo.optimize("orders")
    took = time.perf_counter() - start
    files_after = repo.datasets()[0].files
    ours_after, plain_after = read_times(repo, args.repeat)
    report(
        f"optimize after {args.appends:,} appends of {args.rows:,} rows "
        f"({files_before} files -> {files_after})",
        [
            ("lake read: after / before optimize", ours_after, ours_before, 1.0),
            ("polars read_delta: after / before optimize", plain_after, plain_before, 1.0),
        ],
    )
    print(f"appends took {appends:.1f} s; optimize took {took:.2f} s")


if __name__ == "__main__":
    main()
