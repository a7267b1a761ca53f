"""A ref as other engines read it: its file list and schema, a symlink manifest, a plain Delta or
parquet copy, and a pyarrow dataset (which DuckDB, and any Arrow engine, scans lazily).

main's Delta table is a plain table already. A branch, a tag or an older commit is a snapshot of
files spread over several layers (main's, the branch's own, shadows of files it removed,
"Snapshots: layers and shadows" in docs/architecture.md): opening a branch's own folder with a
Delta reader shows only what that branch wrote, not the branch. These are the ways out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs

from lake import progress
from lake.errors import InvalidInputError, UsageError
from lake.storage.faults import storage_errors
from lake.storage.options import StorageConfig
from lake.table import partitions
from lake.table.views import View

ExportFormat = Literal["delta", "parquet"]
MANIFEST = "_symlink_format_manifest"  # Delta's name: Presto, Trino, Athena and Redshift read it


@dataclass(frozen=True)
class ListedFile:
    """One data file of a ref, for an engine that reads a file list."""

    uri: str
    size: int
    rows: int
    partition: dict[str, str | None] = field(default_factory=dict)  # its partition values, as logged


@dataclass(frozen=True)
class RefFiles:
    """Every data file of a dataset at a ref, and the schema to read them with. A partitioned
    dataset's files lack the partition columns: their values are in ``partition`` (and in the
    Hive-style folder of each file, ``day=2026-11-01/``, which Spark, DuckDB and Trino read)."""

    dataset: str
    commit: str
    schema: pa.Schema
    partition_by: tuple[str, ...]
    files: tuple[ListedFile, ...]

    @property
    def rows(self) -> int:
        """The rows of all the files together."""
        return sum(f.rows for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        """The dataset, commit, schema (each field's name, type and nullability), partition
        columns, rows, and every file with its URI, size, rows and partition values."""
        return {
            "dataset": self.dataset,
            "commit": self.commit,
            "schema": [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in self.schema],
            "partition_by": list(self.partition_by),
            "rows": self.rows,
            "files": [
                {"uri": f.uri, "size": f.size, "rows": f.rows, "partition": f.partition} for f in self.files
            ],
        }


@dataclass(frozen=True)
class Exported:
    """What :func:`export` wrote."""

    dataset: str
    commit: str
    uri: str
    format: ExportFormat
    rows: int


def ref_files(view: View, commit: str) -> RefFiles:
    files = tuple(
        ListedFile(view.uri(r), r.file.size, r.file.rows, dict(r.file.partition))
        for r in sorted(view.files.values(), key=lambda r: r.path)
    )
    return RefFiles(view.dataset, commit, view.schema, view.partition_by, files)


def write_manifest(view: View, target: str, config: StorageConfig) -> list[str]:
    """Write Delta's symlink-format manifest of ``view`` below ``target`` (a folder: a local path
    or an ``s3://`` URI): ``_symlink_format_manifest/manifest`` listing every data file's URI, one
    a line; for a partitioned dataset one per partition, ``_symlink_format_manifest/day=.../manifest``,
    as Delta's ``GENERATE symlink_format_manifest`` writes them (local files as ``file://`` URIs).
    Returns the manifests' URIs."""
    out = _target(target, config)
    groups: dict[str, list[str]] = {}
    for r in sorted(view.files.values(), key=lambda r: r.path):
        uri = view.uri(r)
        groups.setdefault(partitions.folder(r.file.partition), []).append(
            uri if "://" in uri else f"file://{uri}"
        )
    if not groups:
        groups[""] = []
    written = []
    with storage_errors("write a manifest to", target, out.config, writing=True):
        fs = out.filesystem()
        for place, uris in sorted(groups.items()):
            folder = "/".join(p for p in (out.path, MANIFEST, place) if p)
            fs.create_dir(folder, recursive=True)
            with fs.open_output_stream(f"{folder}/manifest") as stream:
                stream.write("".join(f"{u}\n" for u in uris).encode())
            written.append(out.uri(f"{MANIFEST}/{place}/manifest" if place else f"{MANIFEST}/manifest"))
    return written


def dataset(view: View) -> pads.Dataset:
    """``view``'s rows as a pyarrow dataset, read lazily and by file: projections and filters are
    pushed into the scan, and a partitioned dataset's partition columns come from each file's
    logged values (as partition expressions, so filters on them skip files unread)."""
    config = view.layers.config
    refs = sorted(view.files.values(), key=lambda r: r.path)
    paths = [config.arrow_path(view.uri(r)) for r in refs]
    expressions = [_partition_expression(dict(r.file.partition), view.schema) for r in refs]
    return pads.FileSystemDataset.from_paths(
        paths,
        schema=view.schema,
        format=pads.ParquetFileFormat(),
        filesystem=config.arrow_filesystem(),
        partitions=expressions,
    )


def batches(view: View) -> pa.RecordBatchReader:
    """``view``'s rows as a stream, a file at a time (what an export holds)."""
    source = dataset(view)
    config = view.layers.config
    where = view.layers.uri(view.dataset)
    fragments = list(source.get_fragments())
    report = progress.bound()  # the batches may be read on another thread

    def read() -> Iterator[pa.RecordBatch]:
        with storage_errors("read the data files of", where, config):
            for i, fragment in enumerate(fragments, 1):
                yield from fragment.to_batches(schema=view.schema, use_threads=False)
                report("export", i, len(fragments), "files", view.dataset)

    return pa.RecordBatchReader.from_batches(view.schema, read())


def export(
    view: View,
    commit: str,
    target: str,
    config: StorageConfig,
    *,
    fmt: ExportFormat = "delta",
    overwrite: bool = False,
    storage_options: Mapping[str, str] | None = None,
) -> Exported:
    """Copy ``view``'s rows to ``target`` (a local path or an ``s3://`` URI) as a plain Delta table
    (partitioned as the dataset is) or as parquet files (in Hive-style folders when partitioned),
    streaming a file at a time. An existing table or folder there is refused unless ``overwrite``."""
    if fmt not in ("delta", "parquet"):
        raise InvalidInputError(f"unknown export format {fmt!r}: use delta or parquet")
    out = _target(target, config, storage_options)
    here, there = config.uri.rstrip("/"), out.config.uri.rstrip("/")
    if there == here or there.startswith(here + "/"):
        raise UsageError(
            f"{target} is inside the repository ({config.uri})", hint="export to a location outside it"
        )
    if here.startswith(there + "/"):
        raise UsageError(
            f"{target} holds the repository ({config.uri}): an export there could overwrite it",
            hint="export to a folder of its own",
        )
    occupied = _occupied(out)
    if occupied:
        if not overwrite:
            raise UsageError(
                f"{target} holds files already", hint="pass --overwrite (Python: overwrite=True)"
            )
        _refuse_foreign(out, target, fmt)
    rows = view.snapshot.rows
    with storage_errors("export to", target, out.config, writing=True):
        if fmt == "delta":
            from deltalake import write_deltalake

            write_deltalake(
                out.config.uri,
                batches(view),
                partition_by=list(view.partition_by) or None,
                mode="overwrite" if overwrite else "error",
                storage_options=out.config.delta_options(),
                schema_mode="overwrite" if overwrite else None,
            )
        else:
            fs = out.filesystem()
            if occupied:
                fs.delete_dir_contents(out.path)  # an earlier export's files only: checked above
            fs.create_dir(out.path, recursive=True)
            pads.write_dataset(
                batches(view),
                out.path,
                format="parquet",
                filesystem=fs,
                partitioning=list(view.partition_by) or None,
                partitioning_flavor="hive" if view.partition_by else None,
                existing_data_behavior="overwrite_or_ignore",
                basename_template="part-{i}.parquet",
            )
    return Exported(view.dataset, commit, out.config.uri, fmt, rows)


@dataclass(frozen=True)
class _Target:
    config: StorageConfig
    path: str  # as its pyarrow filesystem names it

    def filesystem(self) -> pafs.FileSystem:
        return self.config.arrow_filesystem()

    def uri(self, rest: str) -> str:
        return self.config.join(rest)


def _target(target: str, config: StorageConfig, options: Mapping[str, str] | None = None) -> _Target:
    """Where an export or a manifest goes: on S3 (with ``options``, else the repository's endpoint
    and credentials, else, from a local repository, the AWS chain: environment, profile), or a
    local path."""
    scheme = urlparse(target).scheme
    if scheme in ("s3", "s3a"):
        if options is not None:
            given = StorageConfig.parse(target, options)
            return _Target(given, given.root)
        if config.scheme != "s3":  # a local repository: S3's own chain (environment, profile)
            chained = StorageConfig.parse(target)
            return _Target(chained, chained.root)
        out = StorageConfig.parse(target, config.options)
        return _Target(out, out.root)
    if scheme not in ("", "file"):
        raise UsageError(f"unsupported target {target!r}: use a local path or s3://bucket/prefix")
    out = StorageConfig.parse(target)
    return _Target(out, out.root)


def _refuse_foreign(out: _Target, target: str, fmt: ExportFormat) -> None:
    """Refuse to overwrite what is not an earlier export of the same format: a Delta table is
    replaced by Delta's own overwrite (a new version), and parquet files are deleted first, so a
    folder holding anything else (a repository, someone's files) is never touched."""
    fs = out.filesystem()
    listing = fs.get_file_info(pafs.FileSelector(out.path, recursive=True))
    names = [i.path[len(out.path) :].lstrip("/") for i in listing if i.type == pafs.FileType.File]
    delta = any(n.startswith("_delta_log/") for n in names)
    if fmt == "parquet":
        foreign = [n for n in names if not n.endswith(".parquet")] or (["_delta_log/"] if delta else [])
    else:
        foreign = [n for n in names if not (n.startswith("_delta_log/") or n.endswith(".parquet"))]
        foreign = foreign or ([] if delta else names[:1])
    if foreign:
        raise UsageError(
            f"{target} holds files that are not an earlier {fmt} export (for instance {foreign[0]}): "
            "--overwrite replaces only an export",
            hint="export to an empty folder, or one an earlier export of that format wrote",
        )


def _occupied(out: _Target) -> bool:
    fs = out.filesystem()
    info = fs.get_file_info(out.path)
    if info.type == pafs.FileType.NotFound:
        return False
    if info.type == pafs.FileType.File:
        return True
    return bool(fs.get_file_info(pafs.FileSelector(out.path, recursive=False)))


def _partition_expression(values: dict[str, str | None], schema: pa.Schema) -> pc.Expression:
    out: pc.Expression | None = None
    for name, value in values.items():
        t = schema.field(name).type
        typed = partitions.typed(value, t)
        term = pc.field(name).is_null() if typed is None else pc.field(name) == pa.scalar(typed, t)
        out = term if out is None else out & term
    return out if out is not None else pc.scalar(True)
