"""docs/reliability.md is what tests/reliability.py renders from the suite's tables and the
figures its last full run recorded; the figures cover every case the tables hold (issue 15)."""

from __future__ import annotations

import json

from killing import SCENARIOS, SPARK_SCENARIOS
from reliability import DOC, FIGURES, render
from test_hostile_table import HOSTILE_CASES
from test_s3_fault_injection import FAULT_CASES
from test_soak import RUNS

AGAIN = "run ./dev reliability (every case, the soak ones too) to record the figures and render it again"


def test_the_page_is_rendered_from_the_suite() -> None:
    figures = json.loads(FIGURES.read_text())
    assert DOC.read_text() == render(figures), f"docs/reliability.md is not what the suite renders: {AGAIN}"


def test_the_figures_cover_every_case_of_the_tables() -> None:
    figures = json.loads(FIGURES.read_text())
    kinds = set(SCENARIOS) | set(SPARK_SCENARIOS)
    for backend in ("local", "s3"):
        killed = figures["kills"][backend]
        assert set(killed) == kinds, f"{backend}: {sorted(kinds ^ set(killed))}: {AGAIN}"
        assert all(killed.values()), f"{backend}: a change was killed nowhere: {AGAIN}"
    assert sum(figures["soak"].values()) == 2 * RUNS, AGAIN
    assert set(figures["faults"]["cases"]) == {c.id for c in FAULT_CASES}, AGAIN
    runs = {f"{c.area}: {c.input}/{b}" for c in HOSTILE_CASES for b in c.backends}
    assert set(figures["hostile"]) == runs, AGAIN
    full = {(c["test"], c["backend"]) for c in figures["concurrency"] if c.get("commits", 50) == 50}
    assert full == {("commits", "local"), ("commits", "s3"), ("merges", "local"), ("merges", "s3")}, AGAIN
