"""What a command pays before it does anything: the time to ``import lake`` and the wall time of
``lake --help`` and ``lake --version``, each in a fresh interpreter, median of several runs.
Target: both commands print within 0.5 s on a warm machine (style habit 20: imports cost what a
command uses); a bare interpreter's start is shown for reference."""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_SECONDS = 0.5

_TIMED_IMPORT = (
    "import time; start = time.perf_counter(); import {module}; print(time.perf_counter() - start)"
)


def import_seconds(module: str, runs: int) -> float:
    """The median time ``import module`` takes in a fresh interpreter (its start not counted)."""
    samples = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", _TIMED_IMPORT.format(module=module)],
            check=True,
            capture_output=True,
            text=True,
        )
        samples.append(float(done.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def wall_seconds(argv: list[str], runs: int) -> float:
    """The median wall time of a whole process, interpreter start included."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def lake_command() -> list[str]:
    """The installed ``lake`` script next to this interpreter, else the module it runs."""
    script = Path(sys.executable).parent / "lake"
    if script.exists():
        return [str(script)]
    found = shutil.which("lake")
    return [found] if found else [sys.executable, "-m", "lake.cli.app"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    lake = lake_command()
    wall_seconds([*lake, "--help"], 1)  # warm the file cache and the bytecode
    rows = [
        (
            "python -c pass (interpreter start, reference)",
            wall_seconds([sys.executable, "-c", "pass"], args.runs),
        ),
        ("import lake", import_seconds("lake", args.runs)),
        ("import lake.cli.app", import_seconds("lake.cli.app", args.runs)),
        ("import lake.repository (a command that opens one)", import_seconds("lake.repository", args.runs)),
        ("lake --help (wall)", wall_seconds([*lake, "--help"], args.runs)),
        ("lake --version (wall)", wall_seconds([*lake, "--version"], args.runs)),
    ]
    print(f"\nImport time (median of {args.runs} fresh interpreters)")
    print(f"{'measure':<50} {'median':>10} {'target':>9}")
    for what, seconds in rows:
        wall = what.startswith("lake ")
        target = f"<={TARGET_SECONDS * 1000:.0f}ms" if wall else ""
        verdict = ("ok" if seconds <= TARGET_SECONDS else "OVER") if wall else ""
        print(f"{what:<50} {seconds * 1000:>8.1f}ms {target:>9} {verdict}")


if __name__ == "__main__":
    main()
