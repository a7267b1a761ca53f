"""What a reference check costs at 10M referenced rows (issue 10, point 3).

customers: 10M rows (customer_id ascending, plus a name) in 10 files of 1M; orders references
customers.customer_id; orders_plain is the same contract without the reference. Measured, each
the median of --repeat runs, each on fresh order ids:

* a 100k-row write to orders naming random customers of the whole range (every customers file
  may hold a probed id: the referenced column is read in full, once), against the same write to
  orders_plain;
* a 100k-row write naming customers of the newest 1M (the statistics leave one file to read);
* a 100k-row append of new customers, against the same append to customers_plain (no
  referencing row can lose its customer: nothing is read);
* a 1k-row delete from customers (ids no order names), against the same delete from
  customers_plain, which nothing references: the delete's rewritten file gives the values it
  removes, and the orders files whose statistics may hold them are read for them.

The repository lives under --dir (default: a new temporary directory).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyarrow as pa
from _common import median_seconds, tempdir

import lake
from lake.contracts import Contract

CUSTOMERS = 10_000_000
FILES = 10


def orders_contract(dataset: str, *, reference: bool) -> Contract:
    customer: dict[str, object] = {"type": "int64"}
    if reference:
        customer["references"] = {"dataset": "customers", "column": "customer_id"}
    return Contract.model_validate(
        {
            "dataset": dataset,
            "primary_key": ["order_id"],
            "columns": {
                "order_id": {"type": "int64", "nullable": False},
                "customer_id": customer,
                "amount": {"type": "float64"},
            },
        }
    )


def customers(start: int, rows: int) -> pa.Table:
    ids = np.arange(start, start + rows, dtype=np.int64)
    return pa.table({"customer_id": pa.array(ids), "name": pa.array(ids.astype(str)).cast(pa.string())})


def orders(start: int, rows: int, low: int, high: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "order_id": pa.array(np.arange(start, start + rows, dtype=np.int64)),
            "customer_id": pa.array(rng.integers(low, high, rows, dtype=np.int64)),
            "amount": pa.array(rng.gamma(2.0, 50.0, rows)),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", default=None)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    repo = lake.Repository.init(f"{args.dir or tempdir()}/lake")
    main_branch = repo.branch("main")
    start = time.perf_counter()
    per_file = CUSTOMERS // FILES
    for i in range(FILES):
        main_branch.write("customers", customers(i * per_file, per_file))
        main_branch.write("customers_plain", customers(i * per_file, per_file))
    built = time.perf_counter() - start
    main_branch.set_contract("orders", orders_contract("orders", reference=True))
    main_branch.set_contract("orders_plain", orders_contract("orders_plain", reference=False))
    named = int(CUSTOMERS * 0.9)  # orders name customers below this; the deletes take ids above
    next_id = {"orders": 0, "orders_plain": 0}

    def write(dataset: str, low: int, high: int) -> None:
        first = next_id[dataset]
        next_id[dataset] += args.rows
        main_branch.write(dataset, orders(first, args.rows, low, high, seed=first))

    recent = (named - per_file, named)
    rows = [
        (
            f"write {args.rows:,} orders, random customers, vs no reference",
            median_seconds(lambda: write("orders", 0, named), args.repeat),
            median_seconds(lambda: write("orders_plain", 0, named), args.repeat),
        ),
        (
            f"write {args.rows:,} orders, customers of one file, vs no reference",
            median_seconds(lambda: write("orders", *recent), args.repeat),
            median_seconds(lambda: write("orders_plain", *recent), args.repeat),
        ),
    ]
    added = {"customers": CUSTOMERS, "customers_plain": CUSTOMERS}

    def append(dataset: str) -> None:
        added[dataset] += args.rows
        main_branch.write(dataset, customers(added[dataset] - args.rows, args.rows))

    rows.append(
        (
            f"append {args.rows:,} new customers (nothing to re-check)",
            median_seconds(lambda: append("customers"), args.repeat),
            median_seconds(lambda: append("customers_plain"), args.repeat),
        )
    )
    gone = {"customers": named, "customers_plain": named}

    def delete(dataset: str) -> None:
        low = gone[dataset]
        gone[dataset] += 1000
        main_branch.delete(dataset, where=f"customer_id >= {low} AND customer_id < {low + 1000}")

    rows.append(
        (
            "delete 1,000 customers (none named), vs nothing references them",
            median_seconds(lambda: delete("customers"), args.repeat),
            median_seconds(lambda: delete("customers_plain"), args.repeat),
        )
    )
    orders_rows = repo.snapshot("orders").rows
    print(
        f"(built 2 x {CUSTOMERS:,} customers in {FILES} files each in {built:.0f} s; "
        f"orders: {orders_rows:,} rows)"
    )
    print(f"\nReference checks against {CUSTOMERS:,} referenced rows (median of {args.repeat})")
    print(f"{'measure':<66} {'with':>9} {'without':>9} {'added':>9} {'ratio':>6}")
    for what, ours, plain in rows:
        print(
            f"{what:<66} {ours * 1000:>7.1f}ms {plain * 1000:>7.1f}ms "
            f"{(ours - plain) * 1000:>7.1f}ms {ours / plain:>6.2f}"
        )


if __name__ == "__main__":
    main()
