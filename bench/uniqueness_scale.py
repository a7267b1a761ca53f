"""Uniqueness across a whole 50M-row dataset: checking a new 1M-row batch's primary key against
the dataset, against re-reading the dataset's key column (what a naive check does on every
write). The check reads only files whose min/max statistics overlap the batch's keys.
Target: ratio < 1 (the check costs less than the re-read)."""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyarrow as pa
from _common import report, tempdir

import lake
from lake.contracts import Contract
from lake.storage import open_store
from lake.table.layers import Layers
from lake.table.views import KeptRows, View
from lake.validation.engine import validate

CONTRACT = Contract.model_validate(
    {
        "dataset": "events",
        "primary_key": ["id"],
        "columns": {"id": {"type": "int64"}, "value": {"type": "float64"}},
    }
)


def batch(start: int, rows: int) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(np.arange(start, start + rows, dtype=np.int64)),
            "value": pa.array(np.random.default_rng(start).random(rows)),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--rows-per-file", type=int, default=1_000_000)
    args = parser.parse_args()
    repo = lake.Repository.init(f"{tempdir()}/lake")
    main_branch = repo.branch("main")
    main_branch.set_contract("events", CONTRACT)
    n = args.rows_per_file
    start = time.perf_counter()
    for i in range(args.files):
        main_branch.write("events", batch(i * n, n))
    built = time.perf_counter() - start
    view = View(Layers(repo.config, open_store(repo.config)), "events", repo.snapshot("events"))
    new = batch(args.files * n, n)
    clash = batch(args.files * n - 10, n)  # overlaps the newest file by 10 ids

    def check(data: pa.Table) -> tuple[float, bool]:
        t = time.perf_counter()
        rep, _ = validate(CONTRACT, data, others=KeptRows(view, []))
        return time.perf_counter() - t, rep.ok

    t_new, ok_new = check(new)
    t_clash, ok_clash = check(clash)
    assert ok_new and not ok_clash
    t = time.perf_counter()
    column = view.scan().select("id").collect()
    t_reread = time.perf_counter() - t
    print(
        f"(built {view.snapshot.rows:,} rows in {view.snapshot.files} files in {built:.0f} s; "
        f"re-read {column.height:,} keys)"
    )
    report(
        "Uniqueness across the dataset (1M-row batch against the whole dataset)",
        [
            ("validate a batch of new keys vs re-reading the key column", t_new, t_reread, 1.0),
            ("validate a batch overlapping the newest file vs re-reading", t_clash, t_reread, 1.0),
        ],
    )


if __name__ == "__main__":
    main()
