"""PySpark and the lake (the ``spark`` extra, ``pip install 'lakegate[spark]'``): any ref of a
dataset as a Spark DataFrame.

:func:`read` builds the DataFrame over the ref's own file list and schema
(:meth:`lake.Repository.files`), as any engine that reads a file list does: Spark reads the
parquet files on its executors, and the partition columns of a partitioned dataset come from each
file's logged partition values, typed as the dataset types them. Spark without the Delta Lake jars
is enough.

On S3, Spark needs Hadoop's S3A connector (``hadoop-aws`` and the AWS SDK jars), which pip cannot
install. When the session has no ``spark.hadoop.fs.s3a.impl`` configured, the ref's files are first
copied to a local staging folder (``staging=``, default a temporary one) with the lake's own object
store, and Spark reads them there; with S3A configured it reads ``s3a://`` URIs directly.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from lake.errors import UsageError
from lake.repository import Repository

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def _pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise UsageError(
            "PySpark is not installed", hint="pip install 'lakegate[spark]' (or pip install pyspark)"
        ) from exc


def read(
    spark: SparkSession,
    repo: Repository,
    dataset: str,
    ref: str | None = None,
    *,
    staging: str | Path | None = None,
) -> DataFrame:
    """``dataset`` at ``ref`` (default: the default branch) as a Spark DataFrame with the
    dataset's schema, over the ref's data files. See the module's notes on S3."""
    _pyspark()
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    listed = repo.files(dataset, ref)
    schema = from_arrow_schema(listed.schema)
    stored = type(schema)([f for f in schema.fields if f.name not in listed.partition_by])
    if not listed.files:
        return spark.createDataFrame([], schema)
    uris = _readable(spark, repo, [f.uri for f in listed.files], staging)
    groups: dict[tuple[tuple[str, str | None], ...], list[str]] = {}
    for f, uri in zip(listed.files, uris, strict=True):
        groups.setdefault(tuple(sorted(f.partition.items())), []).append(uri)
    frames = []
    for partition, paths in groups.items():
        frame = spark.read.schema(stored).parquet(*paths)
        for name, value in partition:
            frame = frame.withColumn(name, F.lit(value).cast(schema[name].dataType))
        frames.append(frame.select(*schema.fieldNames()))
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out


def _readable(
    spark: SparkSession, repo: Repository, uris: list[str], staging: str | Path | None
) -> list[str]:
    """URIs Spark can open: local paths as they are; S3 ones through S3A when the session has
    it, else copies in a local staging folder."""
    if repo.config.scheme != "s3":
        return uris
    if spark.conf.get("spark.hadoop.fs.s3a.impl", None):
        return ["s3a://" + u.removeprefix("s3://") for u in uris]
    folder = Path(staging) if staging is not None else Path(tempfile.mkdtemp(prefix="lake-spark-"))
    folder.mkdir(parents=True, exist_ok=True)
    fs = repo.config.arrow_filesystem()
    out = []
    for i, uri in enumerate(uris):
        local = folder / f"{i:06d}-{os.path.basename(uri)}"
        if not local.exists():
            with fs.open_input_stream(repo.config.arrow_path(uri)) as source, open(local, "wb") as sink:
                shutil.copyfileobj(source, sink)
        out.append(str(local))
    return out
