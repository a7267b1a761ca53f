"""The merge gate: checks from the target's contract, on the would-be merged data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats
from scipy.spatial import distance

import lake
from lake.contracts import Contract
from lake.validation.gate_report import GateFailedError

N = 400


def contract(**extra: object) -> Contract:
    raw: dict[str, object] = {
        "dataset": "orders",
        "primary_key": ["id"],
        "columns": {
            "id": {"type": "int64"},
            "amount": {"type": "float64", "min": 0},
            "currency": {"type": "string", "in": ["EUR", "USD", "GBP"]},
        },
    }
    raw.update(extra)
    return Contract.model_validate(raw)


def orders(
    start: int,
    n: int = N,
    *,
    scale: float = 1.0,
    shares: tuple[float, float, float] = (0.2, 0.4, 0.4),
    seed: int = 0,
) -> pa.Table:
    rng = np.random.default_rng(seed)
    cur = rng.choice(np.array(["EUR", "USD", "GBP"]), n, p=list(shares))
    return pa.table(
        {
            "id": pa.array(np.arange(start, start + n, dtype=np.int64)),
            "amount": pa.array(rng.gamma(2.0, 50.0, n) * scale),
            "currency": pa.array(cur).cast(pa.string()),
        }
    )


@pytest.fixture
def lake_with_contract(repo: lake.Repository) -> lake.Repository:
    main = repo.branch("main")
    main.set_contract("orders", contract())
    main.write("orders", orders(0, seed=1))
    return repo


def test_a_good_daily_load_passes_and_the_merge_lands(lake_with_contract: lake.Repository) -> None:
    repo = lake_with_contract
    repo.create_branch("daily").write("orders", orders(N, seed=2))
    report = repo.gate("daily")
    assert report.verdict == "pass", report.to_text()
    assert {c.name for c in report.checks if c.category == "drift" and c.status == "skip"} == {"id"}
    repo.merge("daily")
    assert repo.commit("main").commit.metadata["lake.gate"]["verdict"] == "pass"
    assert repo.read("orders").num_rows == 2 * N


def test_drifted_numbers_block_the_merge_and_force_needs_a_reason(
    lake_with_contract: lake.Repository,
) -> None:
    repo = lake_with_contract
    repo.create_branch("drift").write("orders", orders(N, scale=3.0, seed=2))
    report = repo.gate("drift")
    [amount] = [c for c in report.checks if c.category == "drift" and c.name == "amount"]
    assert amount.status == "fail" and amount.drift["method"] == "wasserstein"
    head = repo.resolve("main")
    with pytest.raises(GateFailedError, match="drift/amount"):
        repo.merge("drift")
    assert repo.resolve("main") == head
    with pytest.raises(lake.InvalidInputError, match="--reason"):
        repo.merge("drift", force=True)
    repo.merge("drift", force=True, reason="Black Friday prices are real", author="ops@corp")
    meta = repo.commit("main").commit.metadata
    assert meta["lake.override"]["reason"] == "Black Friday prices are real"
    assert meta["lake.override"]["by"] == "ops@corp" and meta["lake.override"]["report"]["verdict"] == "fail"


def test_drift_statistics_equal_scipys(lake_with_contract: lake.Repository) -> None:
    repo = lake_with_contract
    new = orders(N, scale=1.3, shares=(0.3, 0.35, 0.35), seed=5)
    repo.create_branch("b").write("orders", new)
    report = repo.gate("b")
    checks = {c.name: c for c in report.checks if c.category == "drift"}
    ref = repo.read("orders")
    r, c = ref.column("amount").to_numpy(), new.column("amount").to_numpy()
    assert checks["amount"].drift["value"] == pytest.approx(
        stats.wasserstein_distance(r, c) / np.std(r), abs=1e-12
    )
    labels = ["EUR", "GBP", "USD"]
    rc = [ref.column("currency").to_pylist().count(x) / ref.num_rows for x in labels]
    cc = [new.column("currency").to_pylist().count(x) / new.num_rows for x in labels]
    assert checks["currency"].drift["value"] == pytest.approx(
        float(distance.jensenshannon(rc, cc)), abs=1e-12
    )


def test_a_category_whose_share_doubles_is_flagged_even_under_the_js_threshold(repo: lake.Repository) -> None:
    def exact(start: int, eur: int, other: int) -> pa.Table:
        t = orders(start, n=eur + 2 * other, seed=start)
        return t.set_column(2, "currency", pa.array(["EUR"] * eur + ["USD"] * other + ["GBP"] * other))

    main = repo.branch("main")
    main.set_contract("orders", contract())
    main.write("orders", exact(0, 100, 950))  # EUR 5%
    repo.create_branch("b").write("orders", exact(5000, 200, 900))  # EUR 10%: doubled
    [cur] = [c for c in repo.gate("b").checks if c.category == "drift" and c.name == "currency"]
    assert float(cur.value) < 0.1
    assert cur.status == "fail" and "EUR" in cur.message


def test_quality_holds_across_both_sides_rows(lake_with_contract: lake.Repository) -> None:
    repo = lake_with_contract
    b = repo.create_branch("b")
    b.write("orders", orders(10_000, n=40, seed=3))
    repo.branch("main").write("orders", orders(10_000, n=40, seed=4))  # main gets the same ids meanwhile
    report = repo.gate("b")
    [pk] = [c for c in report.checks if c.category == "quality" and c.name == "primary_key"]
    assert pk.status == "fail" and "already in the dataset" in pk.message


def test_a_branch_cannot_loosen_its_own_gate(lake_with_contract: lake.Repository) -> None:
    repo = lake_with_contract
    b = repo.create_branch("b")
    loose = contract(
        columns={
            "id": {"type": "int64"},
            "amount": {"type": "float64"},
            "currency": {"type": "string", "in": ["EUR", "USD", "GBP"]},
        }
    )
    b.set_contract("orders", loose)
    bad = orders(N, seed=2).set_column(1, "amount", pa.array(np.full(N, -1.0)))
    b.write("orders", bad)  # the branch's own (loosened) contract admits it
    report = repo.gate("b")
    [minimum] = [c for c in report.checks if c.category == "quality" and c.name == "amount.min"]
    assert minimum.status == "fail"  # the target's contract judges


def test_a_breaking_contract_proposal_blocks(lake_with_contract: lake.Repository) -> None:
    repo = lake_with_contract
    b = repo.create_branch("b")
    b.set_contract(  # the data keeps its other columns, which the contract now leaves undeclared
        "orders",
        contract(
            columns={"id": {"type": "int64"}, "amount": {"type": "float64", "min": 0}},
            extra_columns="allow",
        ),
    )
    report = repo.gate("b")
    assert any(
        c.category == "contract" and c.status == "fail" and "dropped" in c.message for c in report.checks
    )


@pytest.mark.parametrize(("rule", "verdict"), [("strict", "fail"), ("additive", "pass"), ("any", "pass")])
def test_schema_evolution_rules(repo: lake.Repository, rule: str, verdict: str) -> None:
    main = repo.branch("main")
    main.set_contract("orders", contract(schema_evolution=rule, extra_columns="allow"))
    main.write("orders", orders(0, seed=1))
    wider = orders(N, seed=2).append_column("note", pa.array(["x"] * N))
    repo.create_branch("b").write("orders", wider, schema_mode="merge")
    [schema] = [c for c in repo.gate("b").checks if c.category == "schema"]
    assert schema.status == verdict and "+ note" in schema.value


def test_volume_bounds(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.set_contract("orders", contract(volume={"max_rows_added": 100}))
    main.write("orders", orders(0, seed=1))
    repo.create_branch("b").write("orders", orders(N, seed=2))
    [vol] = [c for c in repo.gate("b").checks if c.category == "volume"]
    assert vol.status == "fail" and f"adds {N} rows" in vol.message


def test_reports_for_people_and_ci(lake_with_contract: lake.Repository, tmp_path: Path) -> None:
    repo = lake_with_contract
    repo.create_branch("drift").write("orders", orders(N, scale=3.0, seed=2))
    report = repo.gate("drift")
    md = report.to_markdown()
    assert md.startswith("### ❌ lake gate drift -> main: BLOCKED") and "| ❌ | drift/amount |" in md
    suite = ET.fromstring(report.to_junit().split("?>", 1)[1])
    assert len(suite.findall("testcase")) == len(report.checks)
    assert suite.get("failures") == str(sum(c.status == "fail" for c in report.checks))
    gh = report.to_github().splitlines()
    assert any(line.startswith("::error title=lake gate orders::drift/amount") for line in gh)
    assert json.loads(report.to_json())["verdict"] == "fail"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError("this test needs a headless browser: install Debian's chromium (./dev test does)")


def test_the_html_report_renders_its_charts_in_a_real_browser(
    lake_with_contract: lake.Repository, tmp_path: Path
) -> None:
    repo = lake_with_contract
    repo.create_branch("drift").write("orders", orders(N, scale=3.0, shares=(0.5, 0.25, 0.25), seed=2))
    page = tmp_path / "gate.html"
    page.write_text(repo.gate("drift").to_html())
    browser = _chromium()
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    shot = tmp_path / "gate.png"
    run = subprocess.run(
        [browser, *flags, f"--screenshot={shot}", "--window-size=1280,1600", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0 and shot.stat().st_size > 10_000, run.stderr[-2000:]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert 'data-verdict="fail"' in dom.stdout
    assert dom.stdout.count('class="histogram"') >= 4  # amount and currency, reference and branch
    assert dom.stdout.count('class="bar"') > 20
    assert os.path.getsize(shot) > 10_000


def test_a_protected_target_is_judged_from_its_profile(lake_with_contract: lake.Repository) -> None:
    repo = lake_with_contract
    repo.protect("main", protected=True)
    repo.create_branch("daily").write("orders", orders(N, seed=2))
    report = repo.gate("daily")
    [amount] = [c for c in report.checks if c.category == "drift" and c.name == "amount"]
    assert amount.drift["reference"]["from"] == "profile" and amount.status == "pass"
    repo.merge("daily")  # the profile of main's new head is extended with the merged rows
    repo.create_branch("drift").write("orders", orders(2 * N, scale=3.0, seed=3))
    report = repo.gate("drift")
    [amount] = [c for c in report.checks if c.category == "drift" and c.name == "amount"]
    assert amount.drift["reference"]["from"] == "profile"
    assert amount.drift["reference"]["rows"] == 2 * N and amount.status == "fail"
    rules = repo.log(limit=3)
    assert any(c.commit.metadata.get("lake.protection") == {"protected": True} for c in rules)
