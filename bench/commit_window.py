"""The window in which a plain Delta reader of main sees a lake write before lake readers do: from
the write's first Delta commit (``delta.commit``) to its ref swap (``ref.swap``), measured with
the kill points' trace (:mod:`lake.kill`), on local disk and on moto's S3, beside the whole
write's time (the window as a share of it).

Cases: an append of N rows; a transaction appending N rows to each of two datasets (the first
dataset's version is visible while the second's files are written); and a plain reader's view,
polled during the window, to show it sees the new rows early.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from _common import moto_server, new_bucket, table, tempdir

import lake
from lake import kill


def windows(trace: Path) -> list[float]:
    """For each ref swap in the trace, the seconds since the first Delta commit before it."""
    out, first = [], None
    for line in trace.read_text().splitlines():
        event = json.loads(line)
        if event["point"] == "delta.commit" and first is None:
            first = event["time"]
        elif event["point"] == "ref.swap" and first is not None:
            out.append(event["time"] - first)
            first = None
    return out


def measure(repo: lake.Repository, rows: int, repeat: int, datasets: int) -> tuple[float, float, float]:
    """(median window, max window, median whole write), in seconds."""
    trace = Path(tempfile.mkdtemp()) / "trace.jsonl"
    os.environ[kill.KILL_TRACE] = str(trace)
    whole = []
    try:
        for i in range(repeat):
            data = table(rows, seed=i, offset=i * rows)
            start = time.perf_counter()
            with repo.branch("main").transaction(message=f"write {i}") as tx:
                for d in range(datasets):
                    tx.write(f"orders{d}", data)
            whole.append(time.perf_counter() - start)
    finally:
        del os.environ[kill.KILL_TRACE]
    got = windows(trace)
    return statistics.median(got), max(got), statistics.median(whole)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'backend':<7} {'case':<34} {'window median':>14} {'max':>9} {'write':>9} {'share':>6}")
    with moto_server() as env:
        for backend in ("local", "s3"):
            for rows in args.rows:
                for datasets in (1, 2):
                    uri = f"{tempdir()}/lake" if backend == "local" else f"s3://{new_bucket(env)}/lake"
                    repo = lake.Repository.init(uri)
                    for d in range(datasets):
                        repo.branch("main").write(f"orders{d}", table(10))
                    median, worst, write = measure(repo, rows, args.repeat, datasets)
                    case = f"{rows:,} rows" + (" x 2 datasets (one txn)" if datasets == 2 else "")
                    print(
                        f"{backend:<7} {case:<34} {median * 1000:>12.1f}ms {worst * 1000:>7.1f}ms "
                        f"{write * 1000:>7.0f}ms {median / write:>6.1%}"
                    )


if __name__ == "__main__":
    main()
