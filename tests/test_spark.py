"""PySpark reads any ref (issue 14, its first part), on both backends: `lake.spark.read` gives the
rows `repo.read` gives, for a branch that deleted some of main's rows and added its own, plain
and partitioned. On S3 the files are staged locally (pip cannot install Spark's S3A jars)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pyspark.sql import SparkSession

import lake
import lake.spark


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
