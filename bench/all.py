"""Runs every benchmark of the versioned lake, one after the other, and prints their ratios."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
for name in (
    "branch_create",
    "write_overhead",
    "diff_cost",
    "validated_write",
    "validation_memory",
    "uniqueness_scale",
    "merge_cost",
    "gate_scale",
    "drift_speed",
    "drift_gate",
    "references",
    "import_time",
    "optimize",
    "delete_pruning",
    "streaming_memory",
    "spark_write",
    "scale",
):
    subprocess.run([sys.executable, str(HERE / f"{name}.py")], check=True)
