"""PySpark reads any ref (issue 14, its first part), on both backends: `lake.spark.read` gives the
rows `repo.read` gives, for a branch that deleted some of main's rows and added its own, plain
and partitioned. On S3 the files are staged locally (pip cannot install Spark's S3A jars)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pyspark.sql import SparkSession

import lake
import lake.spark

pytestmark = pytest.mark.spark


def _rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: r["id"])


@pytest.fixture
def branch(repo: lake.Repository) -> lake.Repository:
    main = repo.branch("main")
    main.write("orders", pa.table({"id": list(range(300)), "amount": [i / 4 for i in range(300)]}))
    days = pa.array([f"2026-11-0{1 + i % 3}" for i in range(300)]).cast(pa.date32())
    main.write("events", pa.table({"id": list(range(300)), "day": days}), partition_by=["day"])
    b = repo.create_branch("feature")
    b.delete("orders", "id < 50")
    b.write("orders", pa.table({"id": [5000], "amount": [1.0]}))
    b.delete("events", "day = '2026-11-02'")
    b.write("events", pa.table({"id": [7000], "day": pa.array(["2026-11-09"]).cast(pa.date32())}))
    return repo


@pytest.mark.parametrize("dataset", ["orders", "events"])
def test_spark_reads_a_branch_as_lake_reads_it(
    spark: SparkSession, branch: lake.Repository, dataset: str, tmp_path: Path
) -> None:
    frame = lake.spark.read(spark, branch, dataset, "feature", staging=tmp_path / "staging")
    want = branch.read(dataset, "feature")
    assert [f.name for f in frame.schema.fields] == want.column_names
    got = _rows([r.asDict() for r in frame.collect()])
    assert got == _rows(want.to_pylist())
    if dataset == "events":
        assert frame.filter("day = DATE '2026-11-09'").count() == 1


def test_spark_reads_an_empty_ref_with_its_schema(spark: SparkSession, repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("t", pa.table({"id": [1], "name": ["a"]}))
    main.delete("t", "id = 1")
    frame = lake.spark.read(spark, repo, "t")
    assert frame.count() == 0 and frame.schema.fieldNames() == ["id", "name"]


KEYED = """
dataset: orders
primary_key: [id]
partition_by: [day]
columns:
  id: {type: int64}
  day: {type: date32}
  amount: {type: float64, min: 0}
"""


def _orders(spark: SparkSession, ids: range, amount: float = 1.0) -> Any:
    rows = [(i, f"2026-11-0{1 + i % 3}", amount) for i in ids]
    return spark.createDataFrame(rows, "id long, day string, amount double").selectExpr(
        "id", "CAST(day AS DATE) AS day", "amount"
    )


def test_spark_writes_a_partitioned_dataset_appends_and_overwrites(
    spark: SparkSession, repo: lake.Repository
) -> None:
    main = repo.branch("main")
    main.set_contract("orders", KEYED)
    first = lake.spark.write(_orders(spark, range(100)).repartition(3), repo, "orders")
    assert first.datasets["orders"].rows_added == 100
    lake.spark.write(_orders(spark, range(100, 130)), repo, "orders")
    got = repo.read("orders")
    assert sorted(got.column("id").to_pylist()) == list(range(130))
    assert {f.partition["day"] for f in repo.files("orders").files} == {
        "2026-11-01",
        "2026-11-02",
        "2026-11-03",
    }
    lake.spark.write(_orders(spark, range(5), amount=2.0), repo, "orders", mode="overwrite")
    assert _rows(repo.read("orders").to_pylist()) == _rows(
        [{"id": i, "day": dt.date(2026, 11, 1 + i % 3), "amount": 2.0} for i in range(5)]
    )
    assert repo.fsck().clean


def test_a_refused_spark_write_commits_nothing_and_its_files_are_garbage(
    spark: SparkSession, repo: lake.Repository
) -> None:
    main = repo.branch("main")
    main.set_contract("orders", KEYED)
    lake.spark.write(_orders(spark, range(10)), repo, "orders")
    head = main.head
    with pytest.raises(lake.ContractViolationError) as info:
        lake.spark.write(_orders(spark, range(5, 50), amount=-1.0).repartition(2), repo, "orders")
    failed = {r.name: r.failed_rows for r in info.value.reports[0].failures}
    assert failed == {"amount.min": 45, "primary_key": 5}
    assert main.head == head and repo.read("orders").num_rows == 10
    found = repo.fsck(grace="0s")
    assert not found.problems and found.orphans  # the refused write's files, and nothing worse
    freed = repo.gc(older_than="0s", grace="0s")
    assert freed.data.files >= 1 and not repo.fsck(grace="0s").orphans
    assert repo.read("orders").num_rows == 10


def test_a_protected_branch_refuses_a_spark_write_before_any_job(
    spark: SparkSession, repo: lake.Repository
) -> None:
    repo.branch("main").write("orders", pa.table({"id": [1]}))
    repo.protect("main", protected=True)
    with pytest.raises(lake.RefusedError, match="protected"):
        lake.spark.write(spark.createDataFrame([(2,)], "id long"), repo, "orders")
    assert not repo.fsck(grace="0s").orphans  # refused before any file was written


def test_a_failing_spark_job_is_an_engine_error_and_commits_nothing(
    spark: SparkSession, repo: lake.Repository
) -> None:
    repo.branch("main").write("t", pa.table({"id": [1]}))
    head = repo.branch("main").head
    boom = spark.range(10).selectExpr("IF(id = 7, raise_error('row 7 is cursed'), id) AS id")
    with pytest.raises(lake.EngineError) as info:
        lake.spark.write(boom, repo, "t")
    assert info.value.exit_code == 3 and "row 7 is cursed" in (info.value.cause or "")
    assert repo.branch("main").head == head


ORDERS = """
dataset: orders
primary_key: [id]
columns:
  id: {type: int64}
  amount: {type: float64, min: 0}
"""


def _three_files(repo: lake.Repository, contracted: bool) -> None:
    """Main's orders 0-299 in three files, one per hundred ids (with ORDERS, if ``contracted``)."""
    main = repo.branch("main")
    if contracted:
        main.set_contract("orders", ORDERS)
    for start in (0, 100, 200):
        main.write("orders", pa.table({"id": list(range(start, start + 100)), "amount": [1.0] * 100}))


@pytest.mark.parametrize("contracted", [True, False], ids=["contract", "no-contract"])
def test_spark_upserts_as_the_local_engine_rewriting_only_the_files_that_hold_the_keys(
    spark: SparkSession, repo: lake.Repository, contracted: bool
) -> None:
    _three_files(repo, contracted)
    before = {f.uri for f in repo.files("orders").files}
    repo.create_branch("local")
    repo.create_branch("spark")
    ids = [*range(150, 160), *range(1000, 1005)]
    changes = pa.table({"id": ids, "amount": [9.0] * len(ids)})
    local = repo.branch("local").upsert("orders", changes, key=["id"])
    frame = spark.createDataFrame(changes).repartition(2)
    distributed = lake.spark.upsert(frame, repo, "orders", key=["id"], branch="spark")
    assert _rows(repo.read("orders", "spark").to_pylist()) == _rows(repo.read("orders", "local").to_pylist())
    ours, theirs = distributed.datasets["orders"], local.datasets["orders"]
    assert (ours.operation, ours.rows_added, ours.rows_removed) == ("upsert", 15, 10)
    assert (theirs.rows_added, theirs.rows_removed, theirs.files_removed) == (15, 10, ours.files_removed)
    assert ours.files_removed == 1  # only the file of ids 100-199
    after = {f.uri for f in repo.files("orders", "spark").files}
    assert len(before - after) == 1 and len(before & after) == 2
    if contracted:
        assert distributed.validation["orders"].ok


def test_a_spark_upsert_refuses_a_repeated_key_as_the_local_engine(
    spark: SparkSession, repo: lake.Repository
) -> None:
    main = repo.branch("main")
    main.write("orders", pa.table({"id": [1, 2], "amount": [1.0, 1.0]}))
    twice = pa.table({"id": [5, 5], "amount": [1.0, 2.0]})
    with pytest.raises(lake.InvalidInputError, match="repeats 1 key"):
        main.upsert("orders", twice, key=["id"])
    with pytest.raises(lake.InvalidInputError, match="repeats 1 key"):
        lake.spark.upsert(spark.createDataFrame(twice).repartition(2), repo, "orders", key=["id"])
    assert repo.read("orders").num_rows == 2


def _meddled(spark: SparkSession, repo: lake.Repository, marker: Path, meanwhile: int) -> Any:
    """Rows 3 and 4, as a DataFrame that (the first time it is computed, from inside the job)
    has another writer append ``meanwhile`` to main's orders, which hold 1."""
    repo.branch("main").set_contract("orders", ORDERS)
    repo.branch("main").write("orders", pa.table({"id": [1], "amount": [1.0]}))
    uri = repo.uri

    def meddle(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import lake as lk

        if not marker.exists():
            marker.write_text("x")
            other = pa.table({"id": [meanwhile], "amount": [2.0]})
            lk.Repository.open(uri).branch("main").write("orders", other)
        yield from batches

    frame = spark.createDataFrame([(3, 3.0), (4, 4.0)], "id long, amount double").coalesce(1)
    return frame.mapInArrow(meddle, frame.schema)


def test_a_spark_write_that_meets_another_writer_runs_again_and_loses_no_update(
    spark: SparkSession, local_repo: lake.Repository, tmp_path: Path
) -> None:
    """Another writer appends to the dataset while the Spark job runs (from inside the job, the
    first time it runs): the commit finds the dataset moved, the job runs again against what it
    holds now, and both writes are in the dataset; the first attempt's files are garbage."""
    repo = local_repo
    result = lake.spark.write(_meddled(spark, repo, tmp_path / "wrote-once", 2), repo, "orders")
    assert result.attempts == 2
    assert sorted(repo.read("orders").column("id").to_pylist()) == [1, 2, 3, 4]
    assert not repo.fsck(grace="0s").problems


def test_a_key_another_writer_added_meanwhile_is_caught_on_the_second_run(
    spark: SparkSession, local_repo: lake.Repository, tmp_path: Path
) -> None:
    repo = local_repo
    with pytest.raises(lake.ContractViolationError, match="primary_key"):
        lake.spark.write(_meddled(spark, repo, tmp_path / "wrote-once", 3), repo, "orders")
    assert sorted(repo.read("orders").column("id").to_pylist()) == [1, 3]


def test_an_eligible_write_uses_sparks_own_writer_and_any_delta_reader_reads_it(
    spark: SparkSession, local_repo: lake.Repository
) -> None:
    """Types already the contract's, rules Spark compiles exactly, reject, local, unpartitioned:
    Spark's own parquet writer writes the files (into a folder of the layer), its observed counts
    check the rules, and main's Delta table stays valid for a plain Delta reader."""
    from deltalake import DeltaTable

    repo = local_repo
    repo.branch("main").set_contract("orders", ORDERS)
    frame = spark.range(0, 1000).selectExpr("id", "CAST(id % 7 AS DOUBLE) AS amount").repartition(3)
    lake.spark.write(frame, repo, "orders")
    listed = repo.files("orders")
    assert listed.files and all("/spark-" in f.uri for f in listed.files)
    plain = DeltaTable(repo.table_uri("orders")).to_pyarrow_dataset().to_table(use_threads=False)
    assert sorted(plain.column("id").to_pylist()) == list(range(1000))
    assert not [n for n in os.listdir(os.path.dirname(listed.files[0].uri)) if not n.endswith(".parquet")]
    bad = spark.range(1000, 1010).selectExpr("id", "CAST(-1 AS DOUBLE) AS amount")
    with pytest.raises(lake.ContractViolationError) as info:  # the Python path names the rows
        lake.spark.write(bad, repo, "orders")
    [failed] = info.value.reports[0].failures
    assert (failed.name, failed.failed_rows, len(failed.samples)) == ("amount.min", 10, 10)
    aside = lake.spark.write(bad, repo, "orders", on_violation="quarantine")  # not eligible
    assert aside.validation["orders"].quarantined == 10


@pytest.mark.parametrize("nan", [False, True], ids=["numbers", "with-nan"])
def test_sparks_own_files_log_the_stats_the_lake_computes_from_their_rows(
    spark: SparkSession, local_repo: lake.Repository, nan: bool
) -> None:
    """The footers give each row group's bounds, written as column_stats writes them: the logged
    stats equal column_stats of the file's rows, for ints, floats, strings, dates, timestamps
    (rounded to milliseconds outward), booleans and nulls; a NaN anywhere reads the rows."""
    import json as jsonlib

    import pyarrow.parquet as pq
    from test_delta_stats import check_add_actions, main_table

    from lake.table.layers import column_stats

    repo = local_repo
    third = "CAST(id AS DOUBLE) / 3"
    x = f"IF(id = 11, CAST('NaN' AS DOUBLE), {third})" if nan else third
    frame = (
        spark.range(0, 5000)
        .selectExpr(
            "id",
            f"IF(id % 7 = 0, NULL, {x}) AS x",
            "IF(id % 5 = 0, NULL, concat('k-', CAST(id % 97 AS STRING))) AS s",
            "date_add(DATE '2026-01-01', CAST(id % 300 AS INT)) AS d",
            "timestamp_micros(1790000000000000 + id * 1234567) AS t",
            "id % 2 = 0 AS b",
            "CAST(NULL AS BIGINT) AS nothing",
        )
        .repartition(2)
    )
    lake.spark.write(frame, repo, "t")
    assert all("/spark-" in f.uri for f in repo.files("t").files)
    actions = pa.table(main_table(repo, "t").get_add_actions(flatten=False)).to_pylist()
    for action in actions:
        logged = jsonlib.loads(action["stats"]) if isinstance(action.get("stats"), str) else None
        if logged is None:
            continue
        path = os.path.join(repo.table_uri("t"), action["path"])
        assert logged == column_stats(pq.read_table(path))
    assert check_add_actions(repo, "t") == 5000


def test_spark_deletes_keys_as_the_local_engine_rewriting_only_the_files_that_hold_them(
    spark: SparkSession, repo: lake.Repository
) -> None:
    _three_files(repo, True)
    repo.create_branch("local")
    repo.create_branch("spark")
    local = repo.branch("local").delete("orders", "id >= 150 AND id < 160")
    keys = spark.createDataFrame([(i,) for i in [*range(150, 160), 5000]], "id long").repartition(2)
    distributed = lake.spark.delete(keys, repo, "orders", key=["id"], branch="spark")
    assert _rows(repo.read("orders", "spark").to_pylist()) == _rows(repo.read("orders", "local").to_pylist())
    ours, theirs = distributed.datasets["orders"], local.datasets["orders"]
    assert (ours.operation, ours.rows_added, ours.rows_removed, ours.files_removed) == ("delete", 0, 10, 1)
    assert (theirs.rows_removed, theirs.files_removed) == (10, 1)
    assert distributed.validation["orders"].ok
    nothing = lake.spark.delete(spark.createDataFrame([(9999,)], "id long"), repo, "orders", key=["id"])
    assert not nothing.changed and repo.read("orders").num_rows == 300


def test_a_spark_upsert_counts_the_rows_it_replaces_once(spark: SparkSession, repo: lake.Repository) -> None:
    """The dataset-wide checks judge the dataset as the upsert leaves it: the rows it replaces
    are not counted beside their new versions (a row count bound holds as the local engine says)."""
    main = repo.branch("main")
    bounded = ORDERS + "checks:\n  - name: at_most_305\n    row_count: {max: 305}\n"
    main.set_contract("orders", bounded)
    main.write("orders", pa.table({"id": list(range(300)), "amount": [1.0] * 300}))
    changes = pa.table({"id": [*range(10), *range(1000, 1005)], "amount": [2.0] * 15})
    done = lake.spark.upsert(spark.createDataFrame(changes), repo, "orders", key=["id"])
    assert done.validation["orders"].ok and repo.read("orders").num_rows == 305
    more = pa.table({"id": [2000], "amount": [1.0]})
    with pytest.raises(lake.ContractViolationError, match="at_most_305"):
        lake.spark.upsert(spark.createDataFrame(more), repo, "orders", key=["id"])
