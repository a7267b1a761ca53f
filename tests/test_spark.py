"""PySpark reads any ref (issue 14, its first part), on both backends: `lake.spark.read` gives the
rows `repo.read` gives, for a branch that deleted some of main's rows and added its own, plain
and partitioned. On S3 the files are staged locally (pip cannot install Spark's S3A jars)."""

from __future__ import annotations

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
