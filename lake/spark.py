"""PySpark and the lake (the ``spark`` extra, ``pip install 'lakegate[spark]'``): a Spark job
writes to a branch with every promise of the lake kept, and reads any ref.

:func:`write` checks and writes on Spark's executors and commits on the driver
(:mod:`lake.write.distributed`): each partition of the DataFrame is cast to the dataset's contract
and checked with the contract's row rules, as the local engine checks them, and written as parquet
files into the branch's layer through the lake's object store (S3 included: executors need no S3A
jars), with their Delta statistics; uniqueness across the whole load, and against the rows the
dataset keeps (in files whose statistics overlap the load's keys), is a Spark group-by and join
of the keys read back from those files; then the driver commits the files through the same commit
loop as every other write. A failure commits nothing; with ``on_violation='quarantine'`` the
failing rows are written aside by the executors too. Executors need ``lakegate`` installed (the
same version as the driver) and, for S3, network access to the bucket: they use the credentials
the driver's repository resolved.

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

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl
import pyarrow as pa

from lake import kill
from lake import spark_native as native
from lake.errors import EngineError, InvalidInputError, StorageError, UsageError
from lake.merge.gate import DatasetUnderReview, Judged
from lake.repository import Repository
from lake.spark_jobs import ARROW_BATCH_ROWS, arrow_batches, ids, on_executors, pickled, unpickled
from lake.storage import StorageConfig, open_store
from lake.storage.faults import describe, env_secrets, mask
from lake.table.frames import arrow_schema, conform
from lake.table.layers import Layers
from lake.table.streams import Distributed
from lake.table.views import FileRef
from lake.validation.compiled import CompiledCheck
from lake.validation.engine import _compiled, _samples
from lake.validation.gate_report import GateReport
from lake.validation.report import MAX_SAMPLES
from lake.write.distributed import (
    FILE,
    Found,
    Job,
    PartResult,
    Parts,
    Review,
    judge_part,
    judge_rows,
    key_check,
    read_keys,
    rewrite_part,
    write_part,
)
from lake.write.ops import OnViolation
from lake.write.plan import SchemaMode
from lake.write.results import WriteResult

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


def write(
    df: DataFrame,
    repo: Repository,
    dataset: str,
    *,
    branch: str | None = None,
    mode: Literal["append", "overwrite"] = "append",
    on_violation: OnViolation = "reject",
    schema_mode: SchemaMode = "strict",
    partition_by: Sequence[str] | None = None,
    message: str | None = None,
    author: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> WriteResult:
    """Append the rows of ``df`` to ``dataset`` on ``branch`` (default: the default branch), or
    overwrite it: one commit, with the options of :meth:`lake.Branch.write`. The rows are checked
    against the branch's contract for the dataset and written by Spark's executors (see the
    module's notes); ``on_violation='reject'`` commits nothing and raises
    :class:`~lake.ContractViolationError` when they break it, ``'quarantine'`` commits the valid
    rows and the others to ``<dataset>__quarantine``."""
    _pyspark()
    target = repo.branch(branch or repo.default_branch)
    return target.write(
        dataset,
        SparkRows(df),
        mode=mode,
        on_violation=on_violation,
        schema_mode=schema_mode,
        partition_by=partition_by,
        message=message,
        author=author,
        metadata=metadata,
    )


def delete(
    df: DataFrame,
    repo: Repository,
    dataset: str,
    *,
    key: Sequence[str],
    branch: str | None = None,
    message: str | None = None,
    author: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> WriteResult:
    """Delete the rows of ``dataset`` whose ``key`` is one of ``df``'s: one commit. The kept files
    whose statistics overlap ``df``'s keys are joined with them by Spark, and only the files that
    hold one are rewritten, by the executors, without those rows; the contract judges what the
    dataset keeps (its row counts, say)."""
    _pyspark()
    from pyspark.sql.pandas.types import from_arrow_schema

    keys = (key,) if isinstance(key, str) else tuple(key)
    if not keys:
        raise UsageError("delete by keys needs at least one key column")
    missing = [k for k in keys if k not in df.columns]
    if missing:
        raise InvalidInputError(f"the DataFrame lacks the key column(s) {', '.join(missing)}")
    target = repo.branch(branch or repo.default_branch)
    schema = arrow_schema(repo.snapshot(dataset, target.name).schema)
    nothing = df.sparkSession.createDataFrame([], from_arrow_schema(schema))
    return target.write(
        dataset,
        SparkRows(nothing, keys, deleted=df),
        message=message or f"delete from {dataset} the rows of {len(keys)} key column(s) a DataFrame holds",
        author=author,
        metadata=metadata,
    )


def upsert(
    df: DataFrame,
    repo: Repository,
    dataset: str,
    *,
    key: Sequence[str],
    branch: str | None = None,
    on_violation: OnViolation = "reject",
    schema_mode: SchemaMode = "strict",
    message: str | None = None,
    author: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> WriteResult:
    """Update the rows of ``dataset`` whose ``key`` matches a row of ``df`` and insert the rest:
    one commit, as :meth:`lake.Branch.upsert`. The executors check and write ``df``'s rows as
    :func:`write` does, find the kept files that hold its keys (those whose statistics overlap
    them, then by a join of the keys), and rewrite only those files, without the matched rows."""
    _pyspark()
    keys = (key,) if isinstance(key, str) else tuple(key)
    if not keys:
        raise UsageError("upsert needs at least one key column")
    target = repo.branch(branch or repo.default_branch)
    return target.write(
        dataset,
        SparkRows(df, keys),
        on_violation=on_violation,
        schema_mode=schema_mode,
        message=message or f"upsert {dataset}",
        author=author,
        metadata=metadata,
    )


def gate(
    spark: SparkSession,
    repo: Repository,
    source: str,
    *,
    into: str | None = None,
    approve_contract_change: str | None = None,
) -> GateReport:
    """:meth:`lake.Repository.gate` with the rows the merge brings judged by Spark's executors:
    each reads some of the merge's files, checks their rows with the target's contract's row
    rules and profiles them (quantile sketches, category counts); the driver merges the parts'
    reports and profiles, finds repeated keys as a write does, and judges drift from the merged
    profile, so a large branch is judged without collecting its rows. The verdict's checks are
    the local gate's; drift compares sketches on both sides (the target's profile, or a scan of
    the target where it keeps none)."""
    _pyspark()
    return repo.gate(
        source, into=into, approve_contract_change=approve_contract_change, judge=SparkJudge(spark, repo)
    )


class SparkJudge:
    """Judges the rows a merge brings on Spark's executors (a :class:`lake.merge.gate.RowsJudge`)."""

    def __init__(self, spark: SparkSession, repo: Repository) -> None:
        self.spark = spark
        self.layers = Layers(repo.config, open_store(repo.config))

    def judge(self, ds: DatasetUnderReview) -> Judged:
        assert ds.change is not None and ds.contract is not None
        review = Review(self.layers, ds.name, ds.contract, ds.change, ds.view)
        with spark_errors(self.layers.config):
            return self._judge(review)

    def _judge(self, review: Review) -> Judged:
        task, refs = review.task, review.loaded([])
        assert review.contract is not None
        summaries = any(c.kind == "metric" for c in _compiled(review.contract))

        def judge(ids: list[int]) -> list[PartResult]:
            return [judge_part(task, [refs[i] for i in ids], summaries=summaries)]

        with arrow_batches(self.spark, ARROW_BATCH_ROWS):
            parts = on_executors(self.spark, len(refs), judge)
        written = review.change.data
        if written is not None and written.num_rows:  # rows the merge writes itself (few): here
            parts.append(judge_rows(task, [conform(written, review.schema, allow_new_columns=False)[0]]))
        found = [_unique(self.spark, review, parts, check) for check in review.unique_checks()]
        return Judged(review.report(parts, found), review.profile(parts))


class SparkRows(Distributed):
    """A Spark DataFrame as the rows of a write (or, with ``key``, an upsert), checked and
    written by Spark's executors."""

    def __init__(self, df: DataFrame, key: tuple[str, ...] = (), deleted: DataFrame | None = None) -> None:
        from pyspark.sql.pandas.types import to_arrow_schema

        zone = df.sparkSession.conf.get("spark.sql.session.timeZone") or "UTC"
        super().__init__(to_arrow_schema(df.schema, timezone=zone), "Spark DataFrame", key)
        self.df = df
        self.deleted = deleted  # a delete's keys (``df`` then brings no row)

    def run(self, layers: Any, op: Any, draft: Any, contract: Any, txn: str, slice_bytes: int) -> Any:
        made = Job(layers, op, draft, contract, txn, slice_bytes, self.key)
        if self.deleted is not None:
            made.operation = "delete"
            made.parameters = {
                "predicate": json.dumps([f"({', '.join(self.key)}) IN (the keys of a DataFrame)"])
            }
        with spark_errors(made.layers.config):
            return self._run(made)

    def _run(self, job: Job) -> Any:
        spark = self.df.sparkSession
        parts = native.write(spark, job, self.df) if native.eligible(job, self.df) else None
        if parts is None:  # not eligible, or a rule failed: the Python path names the rows
            parts = self._checked_where_they_are(job)
            if any(p.refused for p in parts):
                return job.finish(parts)
        kill.point("spark.files")
        if job.key:
            _match(spark, job, parts, self.deleted)
        found = [_unique(spark, job, parts, check) for check in job.unique_checks()]
        rewritten: list[PartResult] = []
        replaced: frozenset[int] = frozenset()
        shares = job.failing_shares(parts)
        task = job.task
        if task.quarantine and (shares or any(f.failed for f in found)):
            written = job.written(parts)
            # a failing share's rows may be in any file; failing keys are where the keys said
            everywhere = frozenset(range(len(written)))
            replaced = everywhere if shares else frozenset().union(*(f.files for f in found))
            refs = [written[i] for i in sorted(replaced)]

            def rewrite(ids: list[int]) -> list[PartResult]:
                return [rewrite_part(task, [refs[i] for i in ids], found, shares)]

            rewritten = on_executors(spark, len(refs), rewrite)
            kill.point("spark.rewritten")
        return job.finish(parts, found, rewritten, replaced)

    def _checked_where_they_are(self, job: Job) -> list[PartResult]:
        """The parts the executors' Python workers checked and wrote (:func:`write_part`)."""
        task = job.task

        def check_and_write(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            yield pickled(write_part(task, batches))

        with arrow_batches(self.df.sparkSession, ARROW_BATCH_ROWS):
            return unpickled(self.df.mapInArrow(check_and_write, "part binary").collect())


@contextlib.contextmanager
def spark_errors(config: StorageConfig) -> Iterator[None]:
    """A Spark job's failure as a lakegate error: the lake's own error an executor raised (a
    storage fault, say) as itself; executors that cannot import lakegate as bad usage (2); any
    other failure as :class:`~lake.errors.EngineError` (3). The engine's words are masked."""
    from pyspark.errors import PySparkException

    try:
        yield
    except PySparkException as exc:
        secrets = [*env_secrets(), *(config.aws.secrets() if config.aws is not None else [])]
        text = mask(str(exc), secrets)
        last = _last_error(text)
        if "No module named 'lake" in text:
            raise UsageError(
                "Spark's executors cannot import lakegate",
                hint="install lakegate (the same version) where the executors run, and point "
                "PYSPARK_PYTHON at that Python",
            ) from None
        kind, _, message = last.partition(": ")
        if kind == "lake.errors.StorageError":
            raise StorageError(
                f"an executor: {message}", hint="nothing was committed; run the write again"
            ) from None
        raise EngineError(
            "the Spark job of the write failed; nothing was committed",
            hint="see the Spark driver's log for the executors' errors",
            cause=describe(RuntimeError(last), secrets),
        ) from None


def _last_error(text: str) -> str:
    """The last ``Kind: message`` line of a Python traceback in an engine's error text."""
    lines = [line.strip() for line in text.splitlines()]
    found = [line for line in lines if re.match(r"^[A-Za-z_][\w.]*(Error|Exception): ", line)]
    return found[-1] if found else (lines[0] if lines else "")


def _keys(
    spark: SparkSession, job: Parts, refs: list[FileRef], check: CompiledCheck, columns: list[str]
) -> DataFrame:
    """The ``columns`` of the rows of ``refs`` that ``check`` compares, read by the executors,
    with their file's index (:data:`~lake.write.distributed.FILE`)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    schema = job.schema
    fields = [schema.field(c) for c in columns] + [pa.field(FILE, pa.int64())]
    spark_schema = from_arrow_schema(pa.schema(fields))
    if not refs:
        return spark.createDataFrame([], spark_schema)
    config, dataset = job.config, job.dataset
    if config.scheme == "file" and check.where is None and not any(r.file.partition for r in refs):
        return _keys_natively(spark, [config.join(dataset, r.path) for r in refs], check, columns)

    def read(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        ids = [i for b in batches for i in b.column("id").to_pylist()]
        yield from read_keys(config, dataset, schema, refs, ids, check, columns)

    return ids(spark, len(refs)).mapInArrow(read, spark_schema)


def _keys_natively(
    spark: SparkSession, paths: list[str], check: CompiledCheck, columns: list[str]
) -> DataFrame:
    """:func:`_keys` of local files with no partition values, read by Spark's own parquet reader
    (the rows stay in the JVM); a file's index comes from its name, unique in a layer."""
    from functools import reduce

    from pyspark.sql import functions as F

    index = spark.createDataFrame(
        [(os.path.basename(p), i) for i, p in enumerate(paths)], f"name string, {FILE} long"
    )
    frame = spark.read.parquet(*paths).select(
        *columns, F.element_at(F.split(F.input_file_name(), "/"), -1).alias("name")
    )
    present = reduce(lambda a, b: a & b, [F.col(c).isNotNull() for c in check.unique_on])
    return frame.where(present).join(F.broadcast(index), "name").drop("name")


def _match(spark: SparkSession, job: Job, parts: list[PartResult], deleted: DataFrame | None) -> None:
    """An upsert's matches: refuse a key its rows repeat; rewrite, on the executors, the kept
    files that hold a key they bring, without those rows (which the upsert's replace). A delete's
    (``deleted``: its keys): the kept files that hold one of them, rewritten without those rows."""
    from functools import reduce

    from pyspark.sql import functions as F

    check = key_check(job.key)
    cols = list(job.key)
    if deleted is not None:
        present = reduce(lambda a, b: a & b, [F.col(c).isNotNull() for c in cols])
        load = deleted.select(*cols).where(present).distinct()
        bounds = load.agg(F.min(cols[0]), F.max(cols[0])).first()
        span = (bounds[0], bounds[1]) if bounds is not None and bounds[0] is not None else None
    else:
        span = job.key_range(parts, check)
    if span is None:
        return
    if deleted is None and job.may_repeat(parts, check):
        load = _keys(spark, job, job.written(parts), check, cols)
        repeats = load.groupBy(*cols).count().filter("count > 1")
        repeated = repeats.count()
        if repeated:
            sample = repeats.drop("count").limit(5).toArrow().to_pylist()
            raise InvalidInputError(
                f"the upsert data repeats {repeated} key(s), for example {sample}",
                hint="each key may appear once in an upsert",
            )
    low, high = span
    candidates = [r for r in job.kept() if r.may_hold(cols[0], low, high)]
    if not candidates:
        return
    if deleted is None:
        load = _keys(spark, job, job.written(parts), check, cols).select(*cols)
    hit = _keys(spark, job, candidates, check, cols).join(load, cols, "left_semi")
    held = sorted({int(r[FILE]) for r in hit.select(FILE).distinct().collect()})
    if not held:
        return
    found = [Found(check, 0, 0, 0, 0, bad=hit.select(*cols).distinct().toArrow())]
    refs = [candidates[i] for i in held]
    task = job.task

    def rewrite(ids: list[int]) -> list[PartResult]:
        return [rewrite_part(task, [refs[i] for i in ids], found, (), drop=True)]

    job.upserted(refs, on_executors(spark, len(refs), rewrite))
    kill.point("spark.rewritten")


def _unique(spark: SparkSession, job: Parts, parts: list[PartResult], check: CompiledCheck) -> Found:
    """What ``check`` (a uniqueness check) finds over the whole write: a group-by of the
    write's keys, and a join with the keys of the kept files whose statistics overlap them."""
    from pyspark.sql import functions as F

    cols = list(check.unique_on)
    shown = job.sample_columns(check)
    runs_on = job.runs_on(parts, check)
    span = job.key_range(parts, check)
    if span is None:  # no key to compare
        return Found(check, runs_on, 0, 0, 0)
    low, high = span
    repeat = job.may_repeat(parts, check)
    candidates = [r for r in job.kept() if r.may_hold(cols[0], low, high)]
    if not repeat and not candidates:  # proven by the parts and the kept files' statistics
        return Found(check, runs_on, 0, 0, 0)
    load = _keys(spark, job, job.loaded(parts), check, shown)
    aside = job.aside_keys(parts, check)
    if aside is not None:
        load = load.unionByName(spark.createDataFrame(aside))
    repeats = load.groupBy(*cols).count().filter("count > 1")
    repeated = 0
    if repeat:
        summed = repeats.agg(F.sum("count")).first()
        repeated = int(summed[0] or 0) if summed is not None else 0
    kept_keys = _keys(spark, job, candidates, check, cols).select(*cols).distinct() if candidates else None
    clashing = load.join(kept_keys, cols, "left_semi") if kept_keys is not None else None
    kept = clashing.count() if clashing is not None else 0
    if not repeated and not kept:
        return Found(check, runs_on, 0, 0, 0)
    # a failure: the keys are read again for each question below (a write that fails pays it)
    bad_keys = repeats.select(*cols)
    if kept_keys is not None:
        bad_keys = bad_keys.unionByName(kept_keys.join(load.select(*cols), cols, "left_semi")).distinct()
    bad_rows = load.join(bad_keys, cols, "left_semi")
    failed = bad_rows.count()
    sample = pl.from_arrow(bad_rows.select(*shown).limit(MAX_SAMPLES).toArrow())
    assert isinstance(sample, pl.DataFrame)
    bad = files = None
    if job.quarantine:
        bad = bad_keys.toArrow()
        held = bad_rows.filter(F.col(FILE) >= 0).select(FILE).distinct().collect()
        files = frozenset(int(r[FILE]) for r in held)
    return Found(check, runs_on, repeated, kept, failed, _samples(sample, shown), bad, files or frozenset())
