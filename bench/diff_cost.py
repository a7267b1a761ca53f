"""`diff` between two refs that differ by one appended file, on a 1,000-file table against a
10-file table. The diff reads only the Delta log entries between the two versions.
Target: ratio <= 1.5."""

from __future__ import annotations

import argparse

from _common import median_seconds, report, table, tempdir

import lake


def setup(files: int) -> tuple[lake.Repository, str]:
    repo = lake.Repository.init(f"{tempdir()}/lake")
    main = repo.branch("main")
    for i in range(files):
        main.write("orders", table(100, seed=i, offset=i * 100))
    before = main.head
    main.write("orders", table(100, seed=10**6, offset=10**9))
    branch = repo.create_branch("feature", before)
    branch.write("orders", table(100, seed=10**6 + 1, offset=2 * 10**9))
    return repo, before


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--large", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    small, small_base = setup(args.small)
    large, large_base = setup(args.large)
    for repo, base in ((small, small_base), (large, large_base)):
        [d] = repo.diff(base, "main").datasets
        assert (d.files_added, d.files_removed, d.rows_added) == (1, 0, 100), d

    def cold(repo: lake.Repository, base: str, target: str) -> float:
        # a freshly opened repository each time: no commit or file-list cache helps
        return median_seconds(lambda: lake.Repository.open(repo.uri).diff(base, target), args.repeat)

    report(
        "Diff cost (one appended file; each diff from a freshly opened repository)",
        [
            (
                f"main: {args.large}-file vs {args.small}-file table",
                cold(large, large_base, "main"),
                cold(small, small_base, "main"),
                1.5,
            ),
            (
                f"branch vs its fork point: {args.large}-file vs {args.small}-file",
                cold(large, large_base, "feature"),
                cold(small, small_base, "feature"),
                1.5,
            ),
        ],
    )


if __name__ == "__main__":
    main()
