"""Branch creation on a main of 10M rows in 100 files against an empty repository, through the
Python API on local disk. Targets: ratio <= 1.2, median <= 30 ms (lakeFS's published p90)."""

from __future__ import annotations

import argparse
import statistics
import time

from _common import report, table, tempdir

import lake


def creation_times(repo: lake.Repository, n: int, prefix: str) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        repo.create_branch(f"{prefix}-{i}")
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--rows-per-file", type=int, default=100_000)
    parser.add_argument("--branches", type=int, default=50)
    args = parser.parse_args()
    empty = lake.Repository.init(f"{tempdir()}/lake")
    big = lake.Repository.init(f"{tempdir()}/lake")
    main_branch = big.branch("main")
    for i in range(args.files):
        main_branch.write("orders", table(args.rows_per_file, seed=i, offset=i * args.rows_per_file))
    [info] = big.datasets()
    # interleave the two so that machine noise hits both alike
    t_empty: list[float] = []
    t_big: list[float] = []
    for round_ in range(5):
        t_empty += creation_times(empty, args.branches // 5, f"r{round_}")
        t_big += creation_times(big, args.branches // 5, f"r{round_}")
    med_empty, med_big = statistics.median(t_empty), statistics.median(t_big)
    report(
        f"Branch creation (main: {info.rows:,} rows in {info.files} files)",
        [(f"create_branch, {info.files}-file main vs empty repository", med_big, med_empty, 1.2)],
    )
    verdict = "ok" if med_big <= 0.030 else "OVER"
    print(f"median on the big repository: {med_big * 1000:.1f} ms (target <= 30 ms) {verdict}")


if __name__ == "__main__":
    main()
