"""A write of 5M rows checked against the issue's orders contract (8 checks and the column
rules), against a plain deltalake.write_deltalake of the same data, on local disk.
Target: ratio <= 1.3. Also prints where the time goes (validation alone, write alone)."""

from __future__ import annotations

import argparse
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
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    contract = Contract.from_yaml(CONTRACT)
    data = orders(args.rows)
    root = tempdir()
    repo = lake.Repository.init(f"{root}/lake")
    main_branch = repo.branch("main")

    def ours() -> None:
        name = f"d{uuid.uuid4().hex[:8]}"
        main_branch.set_contract(name, contract.with_dataset(name))
        start = time.perf_counter()
        main_branch.write(name, data)
        timings.append(time.perf_counter() - start)

    timings: list[float] = []
    plain = median_seconds(lambda: write_deltalake(f"{root}/plain-{uuid.uuid4().hex}", data), args.repeat)
    for _ in range(args.repeat):
        ours()
    validated = sorted(timings)[len(timings) // 2]

    def check_only() -> None:
        typed = cast_to_contract(contract, data)
        validate(contract, typed.table, pre=typed.results)

    check = median_seconds(check_only, args.repeat)
    report(
        f"Validated write ({args.rows:,} rows, {len(contract.checks)} dataset checks + column rules)",
        [
            ("branch.write with the contract vs write_deltalake", validated, plain, 1.3),
            ("validation alone vs write_deltalake", check, plain, 1.0),
        ],
    )


if __name__ == "__main__":
    main()
