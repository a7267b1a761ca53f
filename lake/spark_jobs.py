"""Running lakegate's work on Spark's executors: a share of indices per task (each task's work
returns :class:`~lake.write.distributed.PartResult` objects, pickled into one binary column and
collected), and the size of the Arrow batches the executors' Python workers are handed."""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lake.write.distributed import PartResult

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


# Rows per Arrow batch Spark hands the executors' Python workers during a write, where the session
# keeps Spark's default (10,000): at 20M rows, 100,000 cut the write's time by 10-40% (bench/spark_write.py).
ARROW_BATCH_ROWS = 100_000
BATCH_CONF = "spark.sql.execution.arrow.maxRecordsPerBatch"


@contextlib.contextmanager
def arrow_batches(spark: SparkSession, rows: int) -> Iterator[None]:
    """Larger Arrow batches for the jobs inside, unless the session chose a size itself."""
    chosen = spark.conf.get(BATCH_CONF, None)
    if chosen not in (None, "10000"):
        yield
        return
    spark.conf.set(BATCH_CONF, str(rows))
    try:
        yield
    finally:
        if chosen is None:
            spark.conf.unset(BATCH_CONF)
        else:
            spark.conf.set(BATCH_CONF, chosen)


def pickled(part: PartResult) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({"part": [pickle.dumps(part)]})


def unpickled(rows: Sequence[Any]) -> list[PartResult]:
    return [pickle.loads(r["part"]) for r in rows]


def on_executors(
    spark: SparkSession, count: int, work: Callable[[list[int]], list[PartResult]]
) -> list[PartResult]:
    """``work`` done by Spark's executors over the indices ``0..count-1``, in shares."""
    if not count:
        return []

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        ids = [i for b in batches for i in b.column("id").to_pylist()]
        for part in work(ids) if ids else []:
            yield pickled(part)

    return unpickled(ids(spark, count).mapInArrow(run, "part binary").collect())


def ids(spark: SparkSession, count: int) -> DataFrame:
    """The indices ``0..count-1`` spread over the executors' cores."""
    shares = max(1, min(count, spark.sparkContext.defaultParallelism * 2))
    return spark.range(0, count, numPartitions=shares)
