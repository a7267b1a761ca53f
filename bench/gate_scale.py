"""The gate on a branch that appended 1M rows to a protected 10M-row main, against the same gate
over a 1M-row main. The gate reads main's profile (sketches), not main's rows.
Target: ratio <= 1.3."""

from __future__ import annotations

import argparse
import statistics
import time

from _common import report, table, tempdir

import lake
from lake.contracts import Contract

CONTRACT = Contract.model_validate(
    {
        "dataset": "orders",
        "primary_key": ["order_id"],
        "columns": {
            "order_id": {"type": "int64"},
            "customer_id": {"type": "int64"},
            "amount": {"type": "float64", "min": 0},
            "currency": {"type": "string", "in": ["EUR", "USD", "GBP"]},
            "created_at": {"type": "timestamp[us, UTC]"},
        },
    }
)


def gate_times(main_rows: int, branch_rows: int, repeat: int) -> tuple[float, lake.GateReport]:
    repo = lake.Repository.init(f"{tempdir()}/lake")
    main = repo.branch("main")
    main.set_contract("orders", CONTRACT)
    step = 1_000_000
    for i in range(0, main_rows, step):
        main.write("orders", table(min(step, main_rows - i), seed=i, offset=i))
    repo.protect("main", protected=True)  # builds main's profile
    repo.create_branch("daily").write("orders", table(branch_rows, seed=99, offset=10**9))
    samples = []
    result = repo.gate("daily")
    for _ in range(repeat):
        start = time.perf_counter()
        result = repo.gate("daily")
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=1_000_000)
    parser.add_argument("--large", type=int, default=10_000_000)
    parser.add_argument("--branch", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    t_small, r_small = gate_times(args.small, args.branch, args.repeat)
    t_large, r_large = gate_times(args.large, args.branch, args.repeat)
    print(f"verdicts: {r_small.verdict} / {r_large.verdict}")
    report(
        "Gate cost (profiles, not the target's rows)",
        [(f"gate over a {args.large:,}-row main vs a {args.small:,}-row main", t_large, t_small, 1.3)],
    )


if __name__ == "__main__":
    main()
