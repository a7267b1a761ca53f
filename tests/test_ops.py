"""A transaction's operations are data: they print, compare, and plan through one dispatch."""

from __future__ import annotations

import pyarrow as pa
import pytest

import lake
from lake.write.ops import Append, Delete, SetRules, Upsert, plan


def test_a_transactions_operations_print_and_compare(local_repo: lake.Repository) -> None:
    rows = pa.table({"id": [1, 2, 3]})
    tx = local_repo.branch("main").transaction(message="load")
    tx.write("orders", rows)
    tx.upsert("orders", pa.table({"id": [3]}), key=["id"])
    tx.delete("orders", "id = 1")
    assert tx.ops == (
        Append("orders", rows),
        Upsert("orders", pa.table({"id": [3]}), ("id",)),
        Delete("orders", "id = 1"),
    )
    assert tx.ops[0] != Append("orders", pa.table({"id": [1]}))
    assert repr(tx.ops[0]) == (
        "Append(dataset='orders', data=<3 rows>, schema_mode='strict', on_violation='reject')"
    )
    assert repr(tx.ops[2]) == "Delete(dataset='orders', where='id = 1')"
    assert SetRules(protected=True).settings == {"protected": True}


def test_the_dispatch_refuses_what_is_not_an_operation() -> None:
    with pytest.raises(TypeError, match="no planner for str"):
        plan("orders", None)  # type: ignore[arg-type]
