"""A write of 5M rows checked against the issue's orders contract (8 checks and the column
rules), against a plain deltalake.write_deltalake of the same data, on local disk.
Target: ratio <= 1.3. Also prints where the time goes (validation alone, write alone)."""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
from _common import median_seconds, report, tempdir
from deltalake import write_deltalake

import lake
from lake.contracts import Contract
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument(
        "--repeat", type=int, default=5, help="interleaved pairs; the median ratio is the result"
    )
    args = parser.parse_args()
    contract = Contract.from_yaml(CONTRACT)
    data = orders(args.rows)
    root = tempdir()
    repo = lake.Repository.init(f"{root}/lake")
    main_branch = repo.branch("main")

    def ours() -> float:
        name = f"d{uuid.uuid4().hex[:8]}"
        main_branch.set_contract(name, contract.with_dataset(name))
        start = time.perf_counter()
        main_branch.write(name, data)
        return time.perf_counter() - start

    def plain() -> float:
        start = time.perf_counter()
        write_deltalake(f"{root}/plain-{uuid.uuid4().hex}", data)
        return time.perf_counter() - start

    plain()  # warm both paths once (imports, thread pools)
    ours()
    pairs = []
    for i in range(args.repeat):  # interleaved, alternating which goes first: the machine is shared
        first, second = (ours, plain) if i % 2 == 0 else (plain, ours)
        a, b = first(), second()
        pairs.append((a, b) if first is ours else (b, a))
    print(f"\nValidated write of {args.rows:,} rows ({len(contract.checks)} dataset checks + column rules)")
    for n, (mine, theirs) in enumerate(pairs, 1):
        print(f"  pair {n}: lake {mine:.2f} s, write_deltalake {theirs:.2f} s, ratio {mine / theirs:.2f}")
    ratio = statistics.median(m / t for m, t in pairs)
    print(f"median ratio {ratio:.2f} (target <= 1.2) {'ok' if ratio <= 1.2 else 'OVER'}")

    def check_only() -> None:
        typed = cast_to_contract(contract, data)
        validate(contract, typed.table, pre=typed.results)

    check = median_seconds(check_only, 3)
    plain_s = statistics.median(t for _, t in pairs)
    report("Where the time goes", [("validation alone vs write_deltalake", check, plain_s, 1.0)])


if __name__ == "__main__":
    main()
