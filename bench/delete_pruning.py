"""Deleting 1,000 ids from a 100-file, 10M-row dataset: the files the delete reads (pruned by the
files' min/max statistics) and its time, against the same delete with a predicate no statistics can
prune (``order_id + 0 IN (...)``), side by side in one run. Each delete runs on a fresh branch."""

from __future__ import annotations

import argparse
import statistics
import time

from _common import report, table, tempdir

import lake
from lake.table.views import View

_read: list[int] = []
_scan = View.scan


def counting_scan(self: View, refs: object = None, **kw: object) -> object:
    """View.scan, noting how many files each scan reads (refs None: every file of the view)."""
    _read.append(len(self.files) if refs is None else len(refs))  # type: ignore[arg-type]
    return _scan(self, refs, **kw)  # type: ignore[arg-type]


def timed_delete(repo: lake.Repository, where: str, n: int) -> tuple[float, int, int]:
    name = f"d{n}"
    repo.create_branch(name)
    _read.clear()
    start = time.perf_counter()
    result = repo.branch(name).delete("orders", where)
    took = time.perf_counter() - start
    return took, max(_read, default=0), result.datasets["orders"].rows_removed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--rows", type=int, default=100_000, help="rows per file")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    repo = lake.Repository.init(f"{tempdir()}/lake")
    main_branch = repo.branch("main")
    for i in range(args.files):
        main_branch.write("orders", table(args.rows, seed=i, offset=i * args.rows))
    total = args.files * args.rows
    first = total // 2 + 17
    ids = ", ".join(str(i) for i in range(first, first + 1000))
    View.scan = counting_scan  # type: ignore[method-assign]
    pruned, plain = [], []
    read_pruned = read_plain = 0
    for n in range(args.repeat):
        took, read_pruned, removed = timed_delete(repo, f"order_id IN ({ids})", 2 * n)
        assert removed == 1000, removed
        pruned.append(took)
        took, read_plain, removed = timed_delete(repo, f"order_id + 0 IN ({ids})", 2 * n + 1)
        assert removed == 1000, removed
        plain.append(took)
    report(
        f"delete 1,000 ids from {args.files} files of {args.rows:,} rows ({total:,} rows)",
        [
            (
                "delete pruned by statistics / not prunable",
                statistics.median(pruned),
                statistics.median(plain),
                0.5,
            )
        ],
    )
    share = read_pruned / args.files
    print(
        f"files read: pruned {read_pruned} of {args.files} ({share:.0%}, target <= 5%), "
        f"not prunable {read_plain} of {args.files}"
    )


if __name__ == "__main__":
    main()
