"""Writes, deletes, upserts and transactions: each one atomic commit, on both backends."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads
import pytest

import lake


def orders(ids: list[int], amount: float = 1.0) -> pa.Table:
    return pa.table({"order_id": pa.array(ids, pa.int64()), "amount": [amount + i for i in ids]})


def sorted_ids(repo: lake.Repository, dataset: str = "orders", ref: str | None = None) -> list[int]:
    return sorted(repo.read(dataset, ref).column("order_id").to_pylist())


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda t: t, id="pyarrow-table"),
        pytest.param(
            lambda t: pa.RecordBatchReader.from_batches(t.schema, t.to_batches()), id="record-batch-reader"
        ),
        pytest.param(lambda t: t.to_pandas(), id="pandas"),
        pytest.param(lambda t: pl.from_arrow(t), id="polars"),
        pytest.param(lambda t: pl.from_arrow(t).lazy(), id="polars-lazyframe"),  # type: ignore[union-attr]
        pytest.param(lambda t: iter(t.to_batches(max_chunksize=1)), id="iterable-of-batches"),
        pytest.param(lambda t: pads.dataset(t), id="pyarrow-dataset"),
    ],
)
def test_write_accepts_each_input_kind(repo: lake.Repository, make) -> None:  # type: ignore[no-untyped-def]
    result = repo.branch("main").write("orders", make(orders([1, 2, 3])), message="load")
    assert result.changed
    assert result.datasets["orders"].rows_added == 3
    assert repo.read("orders").sort_by("order_id").equals(orders([1, 2, 3]))


def test_append_then_overwrite(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1, 2]))
    main.write("orders", orders([3]))
    assert sorted_ids(repo) == [1, 2, 3]
    result = main.write("orders", orders([9]), mode="overwrite")
    assert result.datasets["orders"].rows_removed == 3
    assert sorted_ids(repo) == [9]


def test_write_records_author_message_and_metadata(repo: lake.Repository) -> None:
    result = repo.branch("main").write(
        "orders", orders([1]), message="daily load", author="etl@corp", metadata={"job": "nightly", "run": 7}
    )
    commit = repo.commit(result.commit).commit
    assert (commit.message, commit.author) == ("daily load", "etl@corp")
    assert commit.metadata["job"] == "nightly" and commit.metadata["run"] == 7
    assert commit.datasets["orders"].rows == 1
    assert commit.timestamp.utcoffset() is not None and commit.timestamp.utcoffset().total_seconds() == 0


def test_delete_removes_matching_rows_only(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1, 2, 3, 4]))
    result = main.delete("orders", "order_id >= 3")
    assert result.datasets["orders"].rows_removed == 2
    assert sorted_ids(repo) == [1, 2]


def test_delete_keeps_rows_where_the_predicate_is_null(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("t", pa.table({"x": [1, None, 3]}))
    main.delete("t", "x > 1")
    assert sorted(repo.read("t").column("x").to_pylist(), key=lambda v: (v is None, v)) == [1, None]


def test_delete_matching_nothing_makes_no_commit(repo: lake.Repository) -> None:
    main = repo.branch("main")
    head = main.write("orders", orders([1])).commit
    result = main.delete("orders", "order_id > 100")
    assert not result.changed and result.commit == head


def test_delete_with_a_bad_predicate_names_it(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1]))
    with pytest.raises(lake.InvalidInputError, match=r"no_such_column|predicate"):
        main.delete("orders", "no_such_column = 1")


def test_upsert_updates_matches_and_inserts_the_rest(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1, 2, 3], amount=0.0))
    result = main.upsert("orders", pa.table({"order_id": [2, 7], "amount": [200.0, 700.0]}), key=["order_id"])
    assert result.datasets["orders"].rows_removed == 1
    rows = dict(zip(*repo.read("orders").sort_by("order_id").to_pydict().values(), strict=True))
    assert rows == {1: 1.0, 2: 200.0, 3: 3.0, 7: 700.0}


def test_upsert_refuses_repeated_keys(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1]))
    with pytest.raises(lake.InvalidInputError, match="repeats"):
        main.upsert("orders", orders([5, 5]), key=["order_id"])


def test_lossless_casts_are_made_and_lossy_ones_refused(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1]))
    main.write("orders", pa.table({"order_id": pa.array([2], pa.int32()), "amount": [1.5]}))
    assert repo.read("orders").schema.field("order_id").type == pa.int64()
    with pytest.raises(lake.SchemaMismatchError, match="amount"):
        main.write("orders", pa.table({"order_id": [3], "amount": ["not a number"]}))
    assert sorted_ids(repo) == [1, 2]


def test_new_columns_need_schema_mode_merge(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1]))
    wider = pa.table({"order_id": [2], "amount": [2.0], "note": ["hi"]})
    with pytest.raises(lake.SchemaMismatchError, match="note"):
        main.write("orders", wider)
    main.write("orders", wider, schema_mode="merge")
    table = repo.read("orders").sort_by("order_id")
    assert table.column("note").to_pylist() == [None, "hi"]


def test_transaction_commits_several_datasets_at_once(repo: lake.Repository) -> None:
    main = repo.branch("main")
    before = main.head
    with main.transaction(message="load both") as tx:
        tx.write("orders", orders([1]))
        tx.write("customers", pa.table({"customer_id": [10]}))
    commit = repo.commit(main.head).commit
    assert commit.parents == (before,)
    assert set(commit.changes) == {"orders", "customers"}


def test_exception_inside_a_transaction_commits_nothing(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1]))
    head = main.head
    with pytest.raises(RuntimeError), main.transaction(message="half") as tx:
        tx.write("orders", orders([2]))
        tx.write("customers", pa.table({"customer_id": [10]}))
        raise RuntimeError("job died")
    assert main.head == head
    assert sorted_ids(repo) == [1]
    assert [d.name for d in repo.datasets()] == ["orders"]


def test_a_failing_second_write_leaves_the_first_uncommitted(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1]))
    head = main.head
    with pytest.raises(lake.SchemaMismatchError), main.transaction(message="bad") as tx:
        tx.write("orders", orders([2]))
        tx.write("orders", pa.table({"order_id": ["x"]}))
    assert main.head == head and sorted_ids(repo) == [1]


def test_writes_with_pandas_timestamps_and_unsigned_ints(repo: lake.Repository) -> None:
    frame = pd.DataFrame({"t": pd.to_datetime(["2026-01-01T00:00:00Z"]), "n": pd.Series([3], dtype="uint32")})
    repo.branch("main").write("events", frame)
    table = repo.read("events")
    assert table.schema.field("n").type == pa.int64()
    assert table.schema.field("t").type == pa.timestamp("us", tz="UTC")


@pytest.mark.parametrize("name", ["", "_lake", ".hidden", "a/b", "x..y"])
def test_bad_dataset_names_are_refused(repo: lake.Repository, name: str) -> None:
    with pytest.raises(lake.UsageError):
        repo.branch("main").write(name, orders([1]))


def test_unknown_dataset_is_named(repo: lake.Repository) -> None:
    with pytest.raises(lake.DatasetNotFoundError, match="nope"):
        repo.read("nope")
    with pytest.raises(lake.DatasetNotFoundError, match="nope"):
        repo.branch("main").delete("nope", "x = 1")


def test_a_column_with_no_type_is_refused_with_a_hint(repo: lake.Repository) -> None:
    with pytest.raises(lake.InvalidInputError, match="have no type"):
        repo.branch("main").write("t", pa.table({"a": [1], "b": [None]}))


def test_upsert_and_transactions_take_streams_and_lazy_frames(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1, 2]))
    main.upsert("orders", pl.from_arrow(orders([2, 3], amount=5.0)).lazy(), key=["order_id"])  # type: ignore[union-attr]
    batches = (b for b in orders([3, 4], amount=9.0).to_batches(max_chunksize=1))
    main.upsert("orders", batches, key=["order_id"])
    with main.transaction(message="two") as tx:
        tx.write("orders", iter(orders([10]).to_batches()))
        tx.write("other", pl.LazyFrame({"id": [1]}))
    assert sorted_ids(repo) == [1, 2, 3, 4, 10]
    assert repo.read("orders", where="order_id = 4").column("amount").to_pylist() == [13.0]
    assert repo.read("other").num_rows == 1
