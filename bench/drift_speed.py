"""Gate drift against Evidently's DataDriftPreset on the same data, side by side in one run:
5,000,000 rows x 4 columns a side (a customer id and an amount, numbers; a currency, a category;
a timestamp). Both sides read the same parquet files; only the drift computation is timed on
each. Evidently runs in its own environment (it needs pandas<3), created on first use in
.venv-evidently. Target: lakegate >= 50x faster, with values equal to scipy's on the same samples."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
from _common import table
from scipy import stats
from scipy.spatial import distance

from lake.validation.drift import column_drift

ROOT = Path(__file__).resolve().parent.parent
EVIDENTLY = ROOT / ".venv-evidently"
EVIDENTLY_RUN = """
import json, sys, time
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset

ref, cur = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
start = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(cur, ref)
seconds = time.perf_counter() - start
values = {}
for metric in snapshot.dict()["metrics"]:
    name = str(metric.get("metric_name", ""))
    if name.startswith("ValueDrift("):
        values[name] = metric.get("value")
print(json.dumps({"seconds": seconds, "values": values}))
"""


def ours(ref: pl.DataFrame, cur: pl.DataFrame) -> dict[str, float]:
    out = {}
    for col in ref.columns:
        r, c = ref[col], cur[col]
        if isinstance(r.dtype, pl.Datetime):
            r, c = r.dt.epoch("s"), c.dt.epoch("s")
        out[col] = float(column_drift(col, r, c, "auto", None).value or 0.0)
    return out


def evidently(ref_path: Path, cur_path: Path) -> dict[str, object] | None:
    python = EVIDENTLY / "bin" / "python"
    if not python.exists():
        print("creating the Evidently environment in .venv-evidently (once) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY)], check=True)
        pip = [str(EVIDENTLY / "bin" / "pip"), "install", "-q", "evidently==0.7.*", "pandas<3", "pyarrow"]
        if subprocess.run(pip, check=False).returncode != 0:
            print("could not install evidently (no network?): the side-by-side comparison is skipped")
            return None
    done = subprocess.run(
        [str(python), "-c", EVIDENTLY_RUN, str(ref_path), str(cur_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        print("Evidently failed:\n" + done.stderr[-2000:])
        return None
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours; the median is compared")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lakegate-drift-") as tmp:
        ref_path, cur_path = Path(tmp) / "reference.parquet", Path(tmp) / "current.parquet"
        for path, seed in ((ref_path, 1), (cur_path, 2)):
            frame = pl.from_arrow(table(args.rows, seed=seed, offset=seed * args.rows))
            assert isinstance(frame, pl.DataFrame)
            frame.drop("order_id").write_parquet(path)  # an identifier: the gate skips it
        ref, cur = pl.read_parquet(ref_path), pl.read_parquet(cur_path)
        times, values = [], {}
        for _ in range(args.repeat):
            start = time.perf_counter()
            values = ours(ref, cur)
            times.append(time.perf_counter() - start)
        t_ours = float(np.median(times))
        r, c = ref["amount"].to_numpy(), cur["amount"].to_numpy()
        assert abs(values["amount"] - stats.wasserstein_distance(r, c) / np.std(r)) < 1e-9
        counts_r, counts_c = (
            ref["currency"].value_counts().sort("currency"),
            cur["currency"].value_counts().sort("currency"),
        )
        js = distance.jensenshannon(
            counts_r["count"].to_numpy() / ref.height, counts_c["count"].to_numpy() / cur.height
        )
        assert abs(values["currency"] - float(js)) < 1e-9
        print(f"\nDrift of {args.rows:,} rows x {ref.width} columns against a {args.rows:,}-row reference")
        shown = ", ".join(f"{k}={v:.4f}" for k, v in values.items())
        runs = ", ".join(f"{t:.2f}" for t in times)
        print(f"lakegate drift: {t_ours:.2f} s (median of {args.repeat}: {runs}); {shown}")
        print("  (values equal scipy's wasserstein_distance / std and jensenshannon on the same samples)")
        theirs = evidently(ref_path, cur_path)
    if theirs is None:
        return
    t_evidently = float(theirs["seconds"])  # type: ignore[arg-type]
    speedup = t_evidently / t_ours
    print(f"Evidently DataDriftPreset: {t_evidently:.2f} s; values {theirs['values']}")
    print(f"-> lakegate is {speedup:.1f}x faster (target >= 50x) {'ok' if speedup >= 50 else 'UNDER'}")


if __name__ == "__main__":
    main()
