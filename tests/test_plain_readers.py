"""main's copy of every dataset is a plain Delta table that other engines open without lakegate."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pyarrow as pa
from deltalake import DeltaTable

import lake


def _storage(repo: lake.Repository) -> dict[str, str] | None:
    return repo.config.delta_options()


def test_main_is_a_plain_delta_table_for_polars_pandas_and_deltalake(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", pa.table({"order_id": [1, 2, 3], "amount": [1.0, 2.0, 3.0]}))
    main.delete("orders", "order_id = 2")
    main.upsert("orders", pa.table({"order_id": [3, 4], "amount": [30.0, 4.0]}), key=["order_id"])
    expected = {1: 1.0, 3: 30.0, 4: 4.0}
    uri = repo.table_uri("orders")
    assert uri == f"{repo.uri}/orders"

    frame = pl.read_delta(uri, storage_options=repo.config.polars_options()).sort("order_id")
    assert dict(zip(frame["order_id"], frame["amount"], strict=True)) == expected

    dt = DeltaTable(uri, storage_options=_storage(repo))
    table = dt.to_pyarrow_dataset().to_table(use_threads=False).sort_by("order_id")
    assert dict(zip(*table.to_pydict().values(), strict=True)) == expected

    pdf: pd.DataFrame = table.to_pandas()
    assert list(pdf["order_id"]) == [1, 3, 4]


def test_each_main_commit_is_a_delta_version_with_the_lake_transaction(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", pa.table({"order_id": [1]}), message="first")
    main.write("orders", pa.table({"order_id": [2]}), message="second")
    dt = DeltaTable(repo.table_uri("orders"), storage_options=_storage(repo))
    history = dt.history()
    assert history[0]["lake.message"] == "second"
    assert history[0]["lake.txn"] == repo.commit("main").commit.metadata["lake.txn"]
    assert repo.snapshot("orders").layers[0].version == dt.version()


def test_branch_writes_never_reach_mains_table(repo: lake.Repository) -> None:
    repo.branch("main").write("orders", pa.table({"order_id": [1]}))
    repo.create_branch("b").write("orders", pa.table({"order_id": [2]}))
    frame = pl.read_delta(repo.table_uri("orders"), storage_options=repo.config.polars_options())
    assert frame["order_id"].to_list() == [1]


def test_any_branch_can_be_materialized_as_a_plain_table(repo: lake.Repository) -> None:
    repo.branch("main").write("orders", pa.table({"order_id": [1, 2]}))
    b = repo.create_branch("b")
    b.delete("orders", "order_id = 1")
    b.write("orders", pa.table({"order_id": [5]}))
    target = f"{repo.uri}-exports/orders-b"  # outside the repository: an export inside it is refused
    repo.materialize("orders", "b", target, storage_options=_storage(repo))
    frame = pl.read_delta(target, storage_options=repo.config.polars_options())
    assert sorted(frame["order_id"].to_list()) == [2, 5]
