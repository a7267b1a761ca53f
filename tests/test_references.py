"""References across datasets (issue 10, point 3): every non-null value of a column exists in
another dataset's column at the same commit, through writes, transactions, deletes, merges and
contract changes, on both backends."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lake
from lake.contracts import Contract

ORDERS = Contract.model_validate(
    {
        "dataset": "orders",
        "primary_key": ["order_id"],
        "columns": {
            "order_id": {"type": "int64", "nullable": False},
            "customer_id": {"type": "int64", "references": {"dataset": "customers", "column": "customer_id"}},
        },
    }
)


def orders(*pairs: tuple[int, int | None]) -> pa.Table:
    return pa.table(
        {
            "order_id": pa.array([p[0] for p in pairs], pa.int64()),
            "customer_id": pa.array([p[1] for p in pairs], pa.int64()),
        }
    )


def customers(*ids: int) -> pa.Table:
    return pa.table({"customer_id": pa.array(list(ids), pa.int64())})


def _lake(repo: lake.Repository) -> lake.Branch:
    main = repo.branch("main")
    main.write("customers", customers(1, 2, 3))
    main.set_contract("orders", ORDERS)
    return main


def _delta_version(repo: lake.Repository, dataset: str) -> int:
    from deltalake import DeltaTable

    return DeltaTable(repo.table_uri(dataset), storage_options=repo.config.delta_options()).version()


def test_a_write_naming_an_unknown_customer_is_refused_before_anything_is_committed(
    repo: lake.Repository,
) -> None:
    main = _lake(repo)
    main.write("orders", orders((1, 1), (2, None)))  # a null names no one: allowed
    head, version = main.head, _delta_version(repo, "orders")
    with pytest.raises(lake.ContractViolationError) as info:
        main.write("orders", orders((3, 2), (4, 7), (5, 8), (6, 7)))
    assert main.head == head and _delta_version(repo, "orders") == version  # main's Delta table too
    [report] = info.value.reports
    [failed] = report.failures
    assert failed.name == "customer_id.references" and failed.kind == "references"
    assert failed.failed_rows == 3 and failed.threshold == "in customers.customer_id"
    assert "2 value(s) not in customers.customer_id: 7, 8" in failed.message
    assert {s["order_id"] for s in failed.samples} == {4, 5, 6}
    assert "customer_id.references" in info.value.message


@pytest.mark.parametrize("order", ["orders-first", "customers-first"])
def test_a_transaction_is_checked_against_its_own_result(repo: lake.Repository, order: str) -> None:
    main = _lake(repo)
    with main.transaction(message="a new customer and their order") as tx:
        if order == "orders-first":
            tx.write("orders", orders((1, 9)))
            tx.write("customers", customers(9))
        else:
            tx.write("customers", customers(9))
            tx.write("orders", orders((1, 9)))
    result = tx.result
    assert result.validation["orders"].ok
    assert [r.status for r in result.validation["orders"].results if r.kind == "references"] == ["pass"]
    head, version = main.head, _delta_version(repo, "customers")
    with pytest.raises(lake.ContractViolationError, match="10"), main.transaction(message="not enough") as tx:
        if order == "orders-first":
            tx.write("orders", orders((2, 10), (3, 11)))
            tx.write("customers", customers(11))
        else:
            tx.write("customers", customers(11))
            tx.write("orders", orders((2, 10), (3, 11)))
    assert main.head == head
    if order == "orders-first":  # checked before the last operation's Delta commit
        assert _delta_version(repo, "customers") == version


def test_a_delete_that_orphans_rows_of_another_dataset_fails(repo: lake.Repository) -> None:
    main = _lake(repo)
    main.write("orders", orders((1, 1), (2, 2), (3, 2)))
    head = main.head
    with pytest.raises(lake.ContractViolationError) as info:
        main.delete("customers", where="customer_id = 2")
    assert main.head == head
    [report] = info.value.reports
    assert report.dataset == "orders"
    [failed] = report.failures
    assert failed.failed_rows == 2 and "1 value(s) not in customers.customer_id: 2" in failed.message
    assert "row(s) of orders lost their customers row" in failed.message
    assert sorted(s["order_id"] for s in failed.samples) == [2, 3]
    main.delete("customers", where="customer_id = 3")  # no order names 3


def test_an_overwrite_that_keeps_the_named_values_passes(repo: lake.Repository) -> None:
    main = _lake(repo)
    main.write("orders", orders((1, 1), (2, 2)))
    main.write("customers", customers(1, 2, 5), mode="overwrite")  # 3 goes; no order named it
    with pytest.raises(lake.ContractViolationError, match="lost their customers row"):
        main.write("customers", customers(2, 5), mode="overwrite")


def test_the_gate_and_the_merge_judge_the_merged_state_of_both_datasets(repo: lake.Repository) -> None:
    main = _lake(repo)
    main.write("orders", orders((1, 1)))
    feature = repo.create_branch("feature", "main")
    with feature.transaction(message="customer 4 and an order") as tx:
        tx.write("customers", customers(4))
        tx.write("orders", orders((2, 4), (3, 3)))
    report = repo.gate("feature", into="main")
    [check] = [c for c in report.checks if c.name == "customer_id.references"]
    assert check.status == "pass" and report.passed
    main.delete("customers", where="customer_id = 3")  # main drops customer 3 meanwhile
    report = repo.gate("feature", into="main")
    [check] = [c for c in report.checks if c.name == "customer_id.references"]
    assert check.status == "fail" and "not in customers.customer_id: 3" in check.message
    assert [s["order_id"] for s in check.samples] == [3]
    head = main.head
    with pytest.raises(lake.GateFailedError):
        repo.merge("feature", into="main")
    assert main.head == head


def test_a_merge_of_a_referenced_delete_is_refused_when_it_orphans_the_targets_rows(
    repo: lake.Repository,
) -> None:
    main = _lake(repo)
    cleanup = repo.create_branch("cleanup", "main")
    cleanup.delete("customers", where="customer_id = 2")  # no order names 2 on the branch
    main.write("orders", orders((1, 2)))  # main's new order names 2
    report = repo.gate("cleanup", into="main")
    [check] = [c for c in report.checks if c.name == "customer_id.references"]
    assert (
        check.dataset == "orders" and check.status == "fail" and "lost their customers row" in check.message
    )
    with pytest.raises(lake.GateFailedError):
        repo.merge("cleanup", into="main")


def test_a_forced_merge_is_still_refused_by_the_merge_commit(repo: lake.Repository) -> None:
    main = _lake(repo)
    feature = repo.create_branch("feature", "main")
    feature.write("orders", orders((1, 3)))
    main.delete("customers", where="customer_id = 3")
    head = main.head
    with pytest.raises(lake.ContractViolationError, match=re.escape("not in customers.customer_id: 3")):
        repo.merge("feature", into="main", force=True, reason="the gate is wrong")
    assert main.head == head


def test_an_upsert_and_an_append_that_remove_nothing_pass_and_read_nothing_they_need_not(
    repo: lake.Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lake.table.wouldbe as wouldbe

    main = _lake(repo)
    for first in (10, 20, 30):  # customers 1-3 in one file, then three files of 10 ids each
        main.write("customers", customers(*range(first, first + 10)))
    main.write("orders", orders((1, 1), (2, 25)))
    reads: list[int] = []
    real = wouldbe.read_files

    def counting(layers: Any, dataset: str, refs: Any, schema: Any) -> Any:
        reads.append(len(refs))
        return real(layers, dataset, refs, schema)

    monkeypatch.setattr(wouldbe, "read_files", counting)
    main.write("unrelated", pa.table({"x": [1]}))
    main.write("customers", customers(40, 41))  # adds ids: no referencing row can lose one
    assert reads == []
    main.write("orders", orders((3, 33), (4, 35)))  # only the file of customers 30-39 may hold them
    assert reads == [1]
    main.upsert("orders", orders((3, 2)), key=["order_id"])
    assert repo.read("orders").sort_by("order_id").column("customer_id").to_pylist() == [1, 25, 2, 35]


def test_a_reference_to_a_missing_dataset_or_column_says_so(repo: lake.Repository) -> None:
    main = repo.branch("main")
    spec = ORDERS.model_copy(deep=True)
    main.set_contract("orders", spec)  # no customers yet, no orders yet: nothing to check
    with pytest.raises(lake.ContractViolationError, match="the branch has no dataset 'customers'"):
        main.write("orders", orders((1, 1)))
    main.write("customers", pa.table({"id": [1]}))
    with pytest.raises(lake.ContractViolationError, match="no column 'customer_id' in 'customers'"):
        main.write("orders", orders((1, 1)))


def test_a_self_reference_and_a_where_restriction(repo: lake.Repository) -> None:
    spec = Contract.model_validate(
        {
            "dataset": "people",
            "columns": {
                "id": {"type": "int64"},
                "kind": {"type": "string"},
                "parent": {
                    "type": "int64",
                    "references": {"dataset": "people", "column": "id"},
                    "where": "kind <> 'imported'",
                },
            },
        }
    )
    main = repo.branch("main")
    main.set_contract("people", spec)
    main.write("people", pa.table({"id": [1, 2], "kind": ["x", "x"], "parent": [None, 1]}))
    main.write("people", pa.table({"id": [3], "kind": ["imported"], "parent": [99]}))  # not selected
    main.write("people", pa.table({"id": [4, 5], "kind": ["x", "x"], "parent": [5, 4]}))  # each other
    with pytest.raises(lake.ContractViolationError, match=re.escape("not in people.id: 42")):
        main.write("people", pa.table({"id": [6], "kind": ["x"], "parent": [42]}))
    with pytest.raises(lake.ContractViolationError, match=re.escape("not in people.id: 1")):
        main.delete("people", where="id = 1")  # person 2 names 1 as parent


def test_setting_a_contract_with_a_reference_checks_the_rows_already_there(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("customers", customers(1))
    main.write("orders", orders((1, 1), (2, 5)))
    with pytest.raises(lake.ContractViolationError, match=re.escape("not in customers.customer_id: 5")):
        main.set_contract("orders", ORDERS)


def test_the_cli_reports_orphans_and_exits_1(cli: Any, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    spec = tmp_path / "orders.yaml"
    spec.write_text(ORDERS.to_yaml())
    pq.write_table(customers(1, 2), tmp_path / "c.parquet")
    pq.write_table(orders((1, 1), (2, 3)), tmp_path / "o.parquet")
    cli("write", "customers", str(tmp_path / "c.parquet"))
    cli("contract", "set", "orders", str(spec))
    out = cli("write", "orders", str(tmp_path / "o.parquet"), code=1)
    assert "customer_id.references" in out and "not in customers.customer_id: 3" in out


def test_the_cli_refuses_a_delete_that_orphans_orders(cli: Any, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    spec = tmp_path / "orders.yaml"
    spec.write_text(ORDERS.to_yaml())
    pq.write_table(customers(1, 2), tmp_path / "c.parquet")
    pq.write_table(orders((1, 1), (2, 2)), tmp_path / "o.parquet")
    cli("write", "customers", str(tmp_path / "c.parquet"))
    cli("contract", "set", "orders", str(spec))
    cli("write", "orders", str(tmp_path / "o.parquet"))
    out = cli("delete", "customers", "--where", "customer_id = 2", code=1)
    assert "orders" in out and "not in customers.customer_id: 2" in out and "lost their customers row" in out


ids = st.sets(st.integers(0, 30), max_size=12)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(known=ids, named=ids, extra=ids)
def test_a_write_passes_iff_its_ids_are_a_subset(
    tmp_path_factory: pytest.TempPathFactory, known: set[int], named: set[int], extra: set[int]
) -> None:
    repo = lake.Repository.init(str(tmp_path_factory.mktemp("refs")))
    main = repo.branch("main")
    main.write("customers", customers(*sorted(known)) if known else customers(-1))
    main.write("customers", customers(*sorted(extra)) if extra else customers(-1))
    main.set_contract("orders", ORDERS)
    table = orders(*((i, c) for i, c in enumerate(sorted(named))))
    have = known | extra | {-1}
    if named <= have:
        main.write("orders", table)
    else:
        with pytest.raises(lake.ContractViolationError) as info:
            main.write("orders", table)
        [failed] = info.value.reports[0].failures
        assert failed.failed_rows == len(named - have)
