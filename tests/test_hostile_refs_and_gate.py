"""Regressions from issue 7, each reproduced as the report wrote it: dataset names every engine
can read, refs that mean what they say, a gate the judged branch cannot loosen, and inputs the
lake's own bookkeeping owns. Both backends wherever storage is involved."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import Lake

import lake
from lake.cli import output
from lake.contracts import Contract

PROTECTED_CONTRACT = {
    "dataset": "orders",
    "primary_key": ["id"],
    "columns": {
        "id": {"type": "int64", "nullable": False},
        "amount": {"type": "float64", "min": 0, "max": 1000},
        "currency": {"type": "string", "in": ["EUR", "USD", "GBP"]},
    },
    "checks": [{"name": "some_rows", "row_count": {"min": 1}}],
}


def orders(ids: list[int], amount: float = 10.0, currency: str = "EUR") -> pa.Table:
    n = len(ids)
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "amount": pa.array([amount] * n, pa.float64()),
            "currency": pa.array([currency] * n, pa.string()),
        }
    )


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables as a wide terminal prints them, so that a cell's words stay on one line."""
    monkeypatch.setattr(output.out, "width", 400)
    monkeypatch.setattr(output.err, "width", 400)


@pytest.fixture
def x_parquet(tmp_path: Path) -> Path:
    path = tmp_path / "x.parquet"
    pq.write_table(orders([1, 2]), path)
    return path


# -- 3. dataset names ----------------------------------------------------------------------------
def test_a_percent_sign_in_a_dataset_name_is_refused_before_anything_is_written(
    cli: Lake, x_parquet: Path
) -> None:
    out = cli("write", "%6Frders", str(x_parquet), code=2)
    assert "invalid dataset name '%6Frders'" in out and "letters, digits and '_'" in out
    assert "committed" not in out
    cli("write", "orders", str(x_parquet))
    assert '"id":2' in cli("read", "orders", "--format", "json")  # the real dataset reads fine


@pytest.mark.parametrize(
    "name",
    ["%6Frders", "orders-2026", "1orders", "_orders", "ordérs", "zahlungen_ü", "a b", "a" * 129, "x/y"],
)
def test_dataset_names_follow_one_portable_rule(repo: lake.Repository, name: str) -> None:
    with pytest.raises(lake.InvalidInputError, match="invalid dataset name") as refused:
        repo.branch("main").write(name, orders([1]))
    assert refused.value.hint is not None and "[A-Za-z][A-Za-z0-9_]*" in refused.value.hint
    assert repo.datasets() == []


def test_the_longest_portable_name_is_fine(repo: lake.Repository) -> None:
    name = "o" + "_x" * 63 + "z"
    assert len(name) == 128
    repo.branch("main").write(name, orders([1]))
    assert repo.read(name).num_rows == 1


def test_names_that_differ_only_in_case_are_refused(repo: lake.Repository) -> None:
    repo.branch("main").write("orders", orders([1]))
    with pytest.raises(
        lake.InvalidInputError, match="differs from the existing dataset 'orders' only in case"
    ):
        repo.branch("main").write("Orders", orders([2]))
    with pytest.raises(lake.InvalidInputError, match="only in case"):  # a branch meets main's names too
        repo.create_branch("b").write("ORDERS", orders([2]))
    assert [d.name for d in repo.datasets()] == ["orders"]


# -- 6. the quarantine suffix is the lake's own ----------------------------------------------------
def test_users_cannot_write_the_lakes_quarantine_datasets(cli: Lake, x_parquet: Path) -> None:
    out = cli("write", "anything__quarantine", str(x_parquet), code=2)
    assert "'__quarantine' are the lake's own" in out


def test_a_branch_requiring_contracts_cannot_be_bypassed_through_a_quarantine_name(
    repo: lake.Repository,
) -> None:
    repo.protect("main", require_contracts=True)
    with pytest.raises(lake.InvalidInputError, match="lake's own"):
        repo.branch("main").write("anything__quarantine", orders([1]))
    assert repo.datasets() == []


# -- 12. columns a quarantine write adds itself ------------------------------------------------------
@pytest.mark.parametrize("column", ["_lake_violations", "_lake_txn"])
def test_quarantine_refuses_data_with_its_own_column_names(repo: lake.Repository, column: str) -> None:
    main = repo.branch("main")
    main.set_contract("orders", Contract.model_validate(PROTECTED_CONTRACT))
    data = orders([1, 2], amount=-1.0).append_column(column, pa.array(["mine", "mine"]))
    with pytest.raises(lake.InvalidInputError, match=f"{column}, which a quarantine write adds itself"):
        main.write("orders", data, on_violation="quarantine", schema_mode="merge")
    assert repo.datasets() == []


# -- 8. a name that is both a ref and a commit prefix -------------------------------------------------
def test_a_branch_named_like_a_commit_prefix_is_ambiguous_everywhere(cli: Lake, x_parquet: Path) -> None:
    cli("write", "orders", str(x_parquet), "-m", "first")
    first = cli.json("log")[0]["id"]  # type: ignore[index]
    cli("write", "orders", str(x_parquet), "-m", "second")
    prefix = first[:12]
    cli("branch", "create", prefix)  # made from main's head: a different commit than `first`
    cli("write", "orders", str(x_parquet), "--branch", prefix, "-m", "on the branch")
    for command in (
        ["revert", prefix],
        ["show", prefix],
        ["merge", prefix],
        ["diff", "main", prefix],
        ["read", "orders", "--ref", prefix],
    ):
        out = cli(*command, code=2)
        assert f"'{prefix}' is ambiguous" in out, command
        assert f"branch {prefix}" in out and f"commit {first}" in out, command
        assert f"refs/heads/{prefix}" in out  # the hint says how to choose
    assert len(cli.json("log")) == 3  # nothing was reverted or merged  # type: ignore[arg-type]
    shown = cli.json("show", f"refs/heads/{prefix}")
    assert shown["message"] == "on the branch"  # type: ignore[index]
    assert cli.json("show", first[:16])["message"] == "first"  # type: ignore[index]


def test_a_branch_and_a_tag_of_one_name_on_different_commits_are_ambiguous(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1]))
    repo.create_tag("release")
    repo.create_branch("release").write("orders", orders([2]))
    with pytest.raises(lake.AmbiguousRefError, match=r"branch release .* tag release"):
        repo.read("orders", "release")
    assert repo.read("orders", "refs/tags/release").num_rows == 1
    assert repo.read("orders", "refs/heads/release").num_rows == 2


# -- 9. names that collide as paths, or are too long ------------------------------------------------
@pytest.mark.parametrize(("first", "second"), [("v1", "v1/x"), ("v1/x", "v1")])
def test_nested_tag_names_are_refused_with_the_rule(
    cli: Lake, x_parquet: Path, first: str, second: str
) -> None:
    cli("write", "orders", str(x_parquet))
    cli("tag", "create", first)
    out = cli("tag", "create", second, code=2)
    assert "cannot live beside tag" in out and "internal error" not in out
    assert [t["name"] for t in cli.json("tag", "list")] == [first]  # type: ignore[union-attr,index]


def test_overlong_names_are_refused_with_the_rule(cli: Lake, x_parquet: Path) -> None:
    out = cli("write", "d" * 300, str(x_parquet), code=2)
    assert "the most is 128" in out and "File name too long" not in out
    out = cli("branch", "create", "b" * 250, code=2)
    assert "at most 200 bytes" in out and "internal error" not in out
    out = cli("tag", "create", "t" * 250, code=2)
    assert "at most 200 bytes" in out


# -- 4. the gate must not be loosened by the branch it judges -----------------------------------------
def protect_orders(repo: lake.Repository) -> lake.Repository:
    """main holds 400 good orders under PROTECTED_CONTRACT, and is protected."""
    main = repo.branch("main")
    main.set_contract("orders", Contract.model_validate(PROTECTED_CONTRACT))
    main.write("orders", orders(list(range(1, 401))))
    repo.protect("main", protected=True)
    return repo


@pytest.fixture
def protected(repo: lake.Repository) -> lake.Repository:
    return protect_orders(repo)


LOOSE = {
    "dataset": "orders",
    "primary_key": ["id"],
    "columns": {
        "id": {"type": "int64", "nullable": False},
        "amount": {"type": "float64"},
        "currency": {"type": "string"},
    },
}


def test_the_two_step_attack_on_a_protected_contract_is_blocked(protected: lake.Repository) -> None:
    repo = protected
    # step 1: a branch that only loosens the contract (min/max, `in` and row_count dropped)
    repo.create_branch("loosen").set_contract("orders", Contract.model_validate(LOOSE))
    report = repo.gate("loosen")
    assert report.verdict == "fail", report.to_text()
    [approval] = [c for c in report.checks if c.name == "approval"]
    assert approval.status == "fail" and "--approve-contract-change" in approval.message
    shown = {c.name for c in report.checks if c.category == "contract"}
    assert {"columns.amount.min", "columns.currency.in"} <= shown  # the report shows the diff
    with pytest.raises(lake.GateFailedError):
        repo.merge("loosen")
    assert repo.contract("orders") == Contract.model_validate(PROTECTED_CONTRACT)
    # step 2 would have merged bad rows under the loosened contract; the trusted one refuses them
    bad = repo.create_branch("bad")
    with pytest.raises(lake.ContractViolationError):  # the branch's own writes are checked too
        bad.write("orders", orders([1000], amount=-1.0, currency="XXX"))
    assert sorted(set(repo.read("orders").column("currency").to_pylist())) == ["EUR"]


def test_an_approved_contract_change_merges_and_is_recorded(cli: Lake, wide: None) -> None:
    repo = protect_orders(lake.Repository.open(cli.uri))
    tighter = {**PROTECTED_CONTRACT, "checks": [{"name": "some_rows", "row_count": {"min": 2}}]}
    repo.create_branch("tighten").set_contract("orders", Contract.model_validate(tighter))
    out = cli("merge", "tighten", code=1)  # even a tighter contract needs an approval
    assert "approval" in out and "--approve-contract-change" in out
    blank = cli("merge", "tighten", "--approve-contract-change", "  ", code=2)
    assert "needs a reason" in blank
    cli("merge", "tighten", "--approve-contract-change", "finance asked for two rows at least")
    assert repo.contract("orders") == Contract.model_validate(tighter)
    meta = repo.commit("main").commit.metadata
    approval = meta["lake.contract_approval"]
    assert approval["reason"] == "finance asked for two rows at least"
    assert approval["datasets"] == ["orders"] and approval["changes"]
    assert "contract change of orders approved by" in cli("log")


# -- 5. require_contracts on merges --------------------------------------------------------------
def test_require_contracts_is_enforced_on_merges(cli: Lake, x_parquet: Path) -> None:
    repo = lake.Repository.open(cli.uri)
    cli("branch", "protect", "main", "--require-contracts")
    repo.create_branch("b").write("free", orders([1]))
    report = repo.gate("b")
    [required] = [c for c in report.checks if c.name == "required"]
    assert required.status == "fail" and "'free' has none" in required.message
    cli("merge", "b", code=1)
    assert [d.name for d in repo.datasets()] == []


# -- 7. changes of the target's protection rules are shown plainly -----------------------------------
def test_unprotecting_is_possible_but_plain_in_the_gate_and_the_log(cli: Lake, wide: None) -> None:
    repo = protect_orders(lake.Repository.open(cli.uri))
    repo.create_branch("b").write("orders", orders(list(range(401, 801))))
    repo.protect("main", protected=False)  # still possible...
    report = repo.gate("b")
    [changed] = [c for c in report.checks if c.name == "rules-changed"]  # ...but the gate warns
    assert changed.status == "warn" and "protected=off" in changed.message
    assert "the rules of main changed since b forked" in changed.message
    for fmt in ("text", "markdown", "json", "html"):
        assert "rules-changed" in cli("gate", "b", "--format", fmt)
    assert "[RULES CHANGED: protected=off]" in cli("log")


# -- 14. a contract is checked against the dataset when it is set -----------------------------------
def test_a_contract_naming_columns_the_dataset_lacks_is_refused_when_set(
    cli: Lake, x_parquet: Path, tmp_path: Path
) -> None:
    cli("write", "orders", str(x_parquet))
    ghost = tmp_path / "ghost.yaml"
    ghost.write_text(
        "dataset: orders\ncolumns:\n  id: {type: int64}\n  amount: {type: float64}\n"
        "  currency: {type: string}\n  ghost: {type: string, nullable: false}\n"
    )
    out = cli("contract", "set", "orders", str(ghost), code=1)
    assert "ghost" in out and "nothing was committed" in out
    assert lake.Repository.open(cli.uri).contract("orders") is None
    cli("write", "orders", str(x_parquet))  # later writes are not blocked by a contract never set
