"""Peak memory of validating a 5M-row batch against the orders contract, as a multiple of the
batch's Arrow size. Measured in this process from Linux's peak-RSS counter, reset just before.
Target: batch + validation's extra memory <= 2x the batch."""

from __future__ import annotations

import argparse
import gc
from pathlib import Path

from validated_write import CONTRACT, orders

from lake.contracts import Contract
from lake.validation.engine import cast_to_contract, validate


def _kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    args = parser.parse_args()
    contract = Contract.from_yaml(CONTRACT)
    data = orders(args.rows)
    small = cast_to_contract(contract, data.slice(0, 1000))
    validate(contract, small.table, pre=small.results)  # warm up imports and thread pools, on a tiny batch
    gc.collect()
    before = _kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    typed = cast_to_contract(contract, data)
    report, _ = validate(contract, typed.table, pre=typed.results)
    peak = _kib("VmHWM")
    extra = (peak - before) * 1024
    size = data.nbytes
    print(f"\nValidation memory ({args.rows:,} rows, {size / 1e6:.0f} MB in Arrow, report ok={report.ok})")
    print(f"extra memory at the peak of validation: {extra / 1e6:.0f} MB = {extra / size:.2f}x the batch")
    total = (size + extra) / size
    print(f"batch + validation: {total:.2f}x the batch (target <= 2.0) {'ok' if total <= 2.0 else 'OVER'}")


if __name__ == "__main__":
    main()
