"""Peak memory of a streamed write: ``write_deltalake`` against ``branch.write`` (without and with a
contract) on the same generator-backed RecordBatchReader (int64 id, float64, string; 250k-row
batches), for two stream lengths, side by side in one run. Each write runs in a fresh process, whose
peak RSS (Linux's VmHWM) is what is compared. Targets (issue 12): the validated write's peak is
at most 1.3x write_deltalake's, and the same within 10% for both lengths."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import sys, time
from pathlib import Path
import numpy as np, pyarrow as pa

kind, rows, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
BATCH = 250_000
schema = pa.schema([("id", pa.int64()), ("amount", pa.float64()), ("label", pa.string())])

def batches():
    rng = np.random.default_rng(0)
    words = np.array([f"label-{i:05d}" for i in range(10_000)])
    for start in range(0, rows, BATCH):
        n = min(BATCH, rows - start)
        yield pa.record_batch(
            [
                pa.array(np.arange(start, start + n, dtype=np.int64)),
                pa.array(rng.gamma(2.0, 50.0, n)),
                pa.array(words[rng.integers(0, len(words), n)]).cast(pa.string()),
            ],
            schema=schema,
        )

reader = pa.RecordBatchReader.from_batches(schema, batches())
start = time.perf_counter()
if kind == "write_deltalake":
    from deltalake import write_deltalake
    write_deltalake(root + "/plain", reader)
else:
    import lake
    repo = lake.Repository.init(root + "/lake")
    main = repo.branch("main")
    if kind == "lake+contract":
        main.set_contract("t", lake.Contract.from_text(
            "dataset: t\nprimary_key: [id]\ncolumns:\n"
            "  id: {type: int64, nullable: false}\n"
            "  amount: {type: float64, min: 0}\n"
            "  label: {type: string, pattern: '^label-'}\n"
            "checks:\n  - {name: enough_rows, row_count: {min: 1}}\n"
        ))
    result = main.write("t", reader)
    assert result.datasets["t"].rows_added == rows, result
took = time.perf_counter() - start
status = Path("/proc/self/status").read_text().splitlines()
peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(peak * 1024, took)
"""


def run(kind: str, rows: int) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as root:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, kind, str(rows), root], check=True, capture_output=True, text=True
        ).stdout.split()
    return int(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[20_000_000, 40_000_000])
    args = parser.parse_args()
    kinds = ["write_deltalake", "lake", "lake+contract"]
    peaks: dict[tuple[str, int], int] = {}
    print(f"\nStreamed write, peak RSS ({', '.join(f'{r:,}' for r in args.rows)} rows)")
    print(f"{'rows':>12} {'writer':<16} {'peak MB':>8} {'seconds':>8} {'vs write_deltalake':>19}")
    for rows in args.rows:
        for kind in kinds:
            peak, took = run(kind, rows)
            peaks[kind, rows] = peak
            ratio = peak / peaks["write_deltalake", rows]
            print(f"{rows:>12,} {kind:<16} {peak / 1e6:>8.0f} {took:>8.1f} {ratio:>18.2f}x")
    worst = max(peaks["lake+contract", r] / peaks["write_deltalake", r] for r in args.rows)
    verdict = "ok" if worst <= 1.3 else "OVER"
    print(f"validated write / write_deltalake, worst: {worst:.2f}x (target <= 1.3) {verdict}")
    if len(args.rows) > 1:
        lo, hi = (peaks["lake+contract", r] for r in (args.rows[0], args.rows[-1]))
        growth = hi / lo
        verdict = "ok" if growth <= 1.1 else "OVER"
        print(
            f"validated write, {args.rows[-1]:,} vs {args.rows[0]:,} rows: {growth:.2f}x "
            f"(target <= 1.10) {verdict}"
        )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
