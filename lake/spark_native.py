"""Spark's own parquet writer for a write whose every check Spark can make exactly (see
:func:`eligible`): the rows never leave the JVM. The contract's row rules become Spark column
expressions whose failing rows an :class:`~pyspark.sql.Observation` counts while the files are
written, in the same pass; the files' Delta statistics are then computed on the executors from
the files themselves, one row group at a time. Where a rule fails, nothing is committed and the
write is made again through the executors' Python workers (:mod:`lake.write.distributed`), whose
report names the failing rows: the failure path pays twice, a passing write once.

Eligible: ``on_violation='reject'``, a local repository (Spark writes local files without S3A),
an unpartitioned dataset, a DataFrame whose columns are the dataset's with the contract's types
already (no cast can fail), and row rules of the kinds compiled here (not null, min and max of
numbers and dates, in, not in, lengths; no ``where:``, pattern or SQL, whose regular expressions
and SQL Spark would read its own way). Uniqueness, row counts, freshness and metrics are judged
after the write, as for any distributed write."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from lake.spark_jobs import ids, pickled, unpickled
from lake.table.layers import DataFile, column_stats, merge_stats
from lake.validation import slices
from lake.validation.compiled import CompiledCheck
from lake.validation.engine import _compiled, cast_to_contract
from lake.validation.rows import check_rows
from lake.write.distributed import Job, KeyTally, PartResult

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

KINDS = frozenset({"not_null", "min", "max", "in", "not_in", "min_length", "max_length"})
_TIMESTAMPS = "spark.sql.parquet.outputTimestampType"


def eligible(job: Job, df: DataFrame) -> bool:
    """Whether Spark's own writer can make this write, every check exact (see the module)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    if job.task.quarantine or job.key or job.config.scheme != "file" or job.task.partition_by:
        return False
    zone = df.sparkSession.conf.get("spark.sql.session.timeZone") or "UTC"
    given = {f.name: _plain(f.type) for f in to_arrow_schema(df.schema, timezone=zone)}
    wanted = {f.name: _plain(f.type) for f in job.schema}
    if given != wanted or not all(_primitive(t) for t in wanted.values()):
        return False
    contract = job.contract
    if contract is None:
        return True
    if contract.arrow_schema().names != [n for n in job.schema.names if n in contract.columns]:
        return False
    checks = _compiled(contract)
    if any(c.kind == "unique" and c.where is not None for c in checks):
        return False  # the rows it runs on are counted by its where:, which Spark would read its own way
    return all(_compiles(c, job.schema) for c in checks if c.row_level)


def _primitive(t: pa.DataType) -> bool:
    """A type whose Delta statistics the parquet footer Spark writes gives exactly."""
    return bool(
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_string(t)
        or pa.types.is_date(t)
        or pa.types.is_timestamp(t)
    )


def _plain(t: pa.DataType) -> pa.DataType:
    return pa.string() if pa.types.is_large_string(t) else pa.binary() if pa.types.is_large_binary(t) else t


def _compiles(check: CompiledCheck, schema: pa.Schema) -> bool:
    if check.kind not in KINDS or check.where is not None or check.column is None:
        return False
    if check.kind in ("min", "max"):
        t = schema.field(check.column).type
        return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_date(t))
    return True


def _breaks(check: CompiledCheck, spec: Any) -> Column:
    """True where a row breaks ``check`` (a rule of :data:`KINDS`), as the compiled polars rule
    says: a null passes every rule but not null."""
    from pyspark.sql import functions as F

    assert check.column is not None
    col = F.col(check.column)
    if check.kind == "not_null":
        return col.isNull()
    if check.kind == "min":
        return col < F.lit(spec.min)
    if check.kind == "max":
        return col > F.lit(spec.max)
    if check.kind == "in":
        return col.isNotNull() & ~col.isin(list(spec.in_))
    if check.kind == "not_in":
        return col.isin(list(spec.not_in))
    if check.kind == "min_length":
        return F.char_length(col) < F.lit(spec.min_length)
    return F.char_length(col) > F.lit(spec.max_length)


def write(spark: SparkSession, job: Job, df: DataFrame) -> list[PartResult] | None:
    """Write ``df``'s rows with Spark's writer into the branch's layer, counting each rule's
    failing rows as it writes; the written files as parts (None: a rule failed, nothing kept)."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    contract = job.contract
    rules = [c for c in _compiled(contract) if c.row_level] if contract is not None else []
    uniques = job.unique_checks()
    measures = [F.count(F.lit(1)).alias("rows")]
    for i, rule in enumerate(rules):
        assert contract is not None and rule.column is not None
        spec = contract.columns[rule.column]
        measures.append(F.sum(F.when(_breaks(rule, spec), 1).otherwise(0)).alias(f"r{i}"))
    floats = [f.name for f in job.schema if pa.types.is_floating(f.type)]
    measures += [
        F.sum(F.when(F.isnan(F.col(c)), 1).otherwise(0)).alias(f"nan{i}") for i, c in enumerate(floats)
    ]
    folder = f"spark-{uuid.uuid4().hex}"
    out = os.path.join(job.layers.uri(job.dataset, job.draft.own), folder)
    seen = Observation(f"lake-{uuid.uuid4().hex[:8]}")
    chosen = spark.conf.get(_TIMESTAMPS, None)
    spark.conf.set(_TIMESTAMPS, "TIMESTAMP_MICROS")  # as Delta and every reader want them
    try:
        (
            df.select(*job.schema.names)
            .observe(seen, *measures)
            .write.option("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
            .parquet(out)
        )
    finally:
        if chosen is None:
            spark.conf.unset(_TIMESTAMPS)
        else:
            spark.conf.set(_TIMESTAMPS, chosen)
    got = seen.get
    if any(int(got[f"r{i}"] or 0) for i in range(len(rules))):
        return None
    rows = int(got["rows"])
    names = sorted(n for n in os.listdir(out) if n.endswith(".parquet") and not n.startswith("."))
    for n in os.listdir(out):
        if n not in names:
            os.remove(os.path.join(out, n))  # Spark's checksums: nothing reads them
    footers = not any(int(got[f"nan{i}"] or 0) for i in range(len(floats)))  # NaN: no bound holds
    parts = _described(spark, [os.path.join(out, n) for n in names], folder, uniques, footers)
    report = _report(job, rows)
    if not parts:
        return [PartResult(report=report, rows=rows)]
    return [replace(parts[0], report=report), *parts[1:]]


def _report(job: Job, rows: int) -> Any:
    """The row-level report of ``rows`` rows that break no rule: what the local engine reports."""
    contract = job.contract
    if contract is None:
        return None
    empty = job.schema.empty_table()
    typed = cast_to_contract(contract, empty)
    base = check_rows(contract, typed.table, cast=typed.results, rows_only=True).report
    results = tuple(r if r.name.endswith(".present") else replace(r, rows=rows) for r in base.results)
    return replace(base, rows=rows, results=results)


def _described(
    spark: SparkSession, paths: list[str], folder: str, uniques: list[CompiledCheck], footers: bool
) -> list[PartResult]:
    """The files at ``paths`` as parts of the write, one a file: the layer's data file with its
    Delta statistics, and the span of its keys for each uniqueness check, computed on the
    executors. ``footers``: the statistics come from the files' parquet footers (a row group's
    bounds, as :func:`~lake.table.layers.column_stats` writes them), else from their rows."""
    if not paths:
        return []

    def describe(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for b in batches:
            for i in b.column("id").to_pylist():
                yield pickled(_file(paths[i], folder, uniques, footers))

    return unpickled(ids(spark, len(paths)).mapInArrow(describe, "part binary").collect())


def _file(path: str, folder: str, uniques: list[CompiledCheck], footers: bool) -> PartResult:
    source = pq.ParquetFile(path)
    schema = source.schema_arrow
    groups = range(source.num_row_groups)
    found = [_footer_stats(source.metadata.row_group(g), schema) for g in groups] if footers else []
    stats = [f for f in found if f is not None]
    if len(stats) != source.num_row_groups:  # read the rows where the footer cannot tell
        stats = [column_stats(source.read_row_group(g)) for g in groups]
    tally = KeyTally(uniques)  # (an eligible write's uniqueness checks have no where:)
    wanted = slices.compared_by(uniques)
    for g in groups if wanted else ():
        tally.add(source.read_row_group(g, columns=wanted))
    merged = merge_stats(stats) if stats else column_stats(source.schema_arrow.empty_table())
    spans = tally.spans()
    file = DataFile(
        path=f"{folder}/{os.path.basename(path)}",
        size=os.path.getsize(path),
        rows=source.metadata.num_rows,
        modification_time=int(time.time() * 1000),
        stats=json.dumps(merged),
    )
    return PartResult((file,), rows=file.rows, spans=spans)


def _footer_stats(group: pq.RowGroupMetaData, schema: pa.Schema) -> dict[str, Any] | None:
    """A row group's Delta statistics from its footer: each column's bounds made by
    :func:`~lake.table.layers.column_stats` of the two values the footer holds (so they are
    written as the lake writes them), its nulls counted there; None where a column has none."""
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    nulls: dict[str, Any] = {}
    for j in range(group.num_columns):
        chunk = group.column(j)
        stats = chunk.statistics
        name = chunk.path_in_schema
        if stats is None or name not in schema.names or stats.null_count is None:
            return None
        nulls[name] = stats.null_count
        if stats.has_min_max:
            pair = column_stats(pa.table({name: pa.array([stats.min, stats.max], schema.field(name).type)}))
            if name in pair["minValues"] and name in pair["maxValues"]:
                mins[name], maxs[name] = pair["minValues"][name], pair["maxValues"][name]
    return {"numRecords": group.num_rows, "minValues": mins, "maxValues": maxs, "nullCount": nulls}
