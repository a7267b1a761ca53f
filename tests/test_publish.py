"""Write-audit-publish in one block (issue 13, part 2), on both backends: `repo.publish` writes to
a branch of its own, gates it on leaving, merges and deletes it on a pass, keeps it on a block
(GateFailedError carrying the report and its path) or on an exception (nothing reaches main)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from test_gate import N, contract, orders

import lake


@pytest.fixture
def repo_with_contract(repo: lake.Repository) -> lake.Repository:
    main = repo.branch("main")
    main.set_contract("orders", contract())
    main.write("orders", orders(0, seed=1))
    return repo


def _branches(repo: lake.Repository) -> set[str]:
    return {b.name for b in repo.branches()}


def test_a_good_load_is_gated_merged_and_its_branch_deleted(
    repo_with_contract: lake.Repository, tmp_path: Path
) -> None:
    repo = repo_with_contract
    with repo.publish(into="main", branch="etl-2026-11-23", report=tmp_path / "gate.md") as b:
        b.write("orders", orders(N, seed=2))
        assert repo.read("orders").num_rows == N  # main untouched while the block runs
    assert b.result is not None and b.result.commit == repo.resolve("main")
    assert b.report is not None and b.report.passed
    assert repo.read("orders").num_rows == 2 * N
    assert "etl-2026-11-23" not in _branches(repo)
    assert repo.commit("main").commit.metadata["lake.gate"]["verdict"] == "pass"
    assert "pass" in (tmp_path / "gate.md").read_text().lower()


def test_a_blocked_load_keeps_its_branch_and_the_error_carries_the_report(
    repo_with_contract: lake.Repository, tmp_path: Path
) -> None:
    repo = repo_with_contract
    head = repo.resolve("main")
    path = tmp_path / "reports" / "gate.json"
    with pytest.raises(lake.GateFailedError, match="drift/amount") as err:
        with repo.publish(branch="drifted", report=path) as b:
            b.write("orders", orders(N, scale=3.0, seed=2))
    assert repo.resolve("main") == head
    assert "drifted" in _branches(repo)
    assert err.value.report.verdict == "fail" and err.value.path == str(path)
    assert json.loads(path.read_text())["verdict"] == "fail"
    assert repo.read("orders", "drifted").num_rows == 2 * N  # there to inspect


def test_an_exception_in_the_block_touches_nothing_and_keeps_the_branch(
    repo_with_contract: lake.Repository,
) -> None:
    repo = repo_with_contract
    head = repo.resolve("main")
    with pytest.raises(RuntimeError, match="the job failed"):
        with repo.publish(branch="broken") as b:
            b.write("orders", orders(N, seed=2))
            raise RuntimeError("the job failed")
    assert repo.resolve("main") == head and "broken" in _branches(repo)
    with pytest.raises(RuntimeError):
        with repo.publish(branch="dropped", keep_on_error=False) as b:
            b.write("orders", orders(N, seed=3))
            raise RuntimeError("again")
    assert "dropped" not in _branches(repo) and repo.resolve("main") == head


def test_a_contract_violation_inside_the_block_commits_nothing(repo_with_contract: lake.Repository) -> None:
    repo = repo_with_contract
    head = repo.resolve("main")
    bad = pa.table({"id": [10_000], "amount": [-1.0], "currency": ["EUR"]})
    with pytest.raises(lake.ContractViolationError):
        with repo.publish(branch="bad") as b:
            b.write("orders", bad)
    assert repo.resolve("main") == head and repo.read("orders", "bad").num_rows == N


def test_a_block_that_writes_nothing_publishes_nothing(repo_with_contract: lake.Repository) -> None:
    repo = repo_with_contract
    before = _branches(repo)
    head = repo.resolve("main")
    with repo.publish() as b:
        assert b.name.startswith("publish-main-") and b.name in _branches(repo)
    assert b.result is None and _branches(repo) == before and repo.resolve("main") == head


def test_publishing_into_a_branch_that_is_not_there_is_refused_before_anything(
    repo_with_contract: lake.Repository,
) -> None:
    with pytest.raises(lake.RefNotFoundError):
        with repo_with_contract.publish(into="nowhere"):
            pytest.fail("the block must not run")
