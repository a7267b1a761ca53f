"""Merging a branch that appended one file into a main of 1,000 files, against the same merge
into a main of 10 files. The merge adds the branch's file to main's Delta table by reference;
its cost follows the change. Target: ratio <= 1.5."""

from __future__ import annotations

import argparse
import statistics
import time

from _common import report, table, tempdir

import lake


def merges(files: int, count: int) -> list[float]:
    repo = lake.Repository.init(f"{tempdir()}/lake")
    main = repo.branch("main")
    for i in range(files):
        main.write("orders", table(100, seed=i, offset=i * 100))
    branches = []
    for j in range(count):
        b = repo.create_branch(f"b{j}")
        b.write("orders", table(100, seed=10**6 + j, offset=10**9 + j * 100))
        branches.append(b.name)
    out = []
    for name in branches:
        start = time.perf_counter()
        repo.merge(name)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--large", type=int, default=1000)
    parser.add_argument("--merges", type=int, default=15)
    args = parser.parse_args()
    small = statistics.median(merges(args.small, args.merges))
    large = statistics.median(merges(args.large, args.merges))
    report(
        "Merge cost (a branch that appended one file)",
        [(f"merge into a {args.large}-file main vs a {args.small}-file main", large, small, 1.5)],
    )


if __name__ == "__main__":
    main()
