"""The Delta tables that hold a dataset's files ("layers"), and the only code that commits to them.

Every commit lands at exactly the version after the one its caller read (``max_commit_retries=0``),
so a Delta version number is itself a compare-and-swap: a writer that lost the race gets
:class:`VersionTaken` and starts over from the branch ref, never a silently rebased commit.

Data files are written here with pyarrow (so that one Delta commit can both add them and remove
the files they replace), and committed with delta-rs's ``create_write_transaction``.
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import unquote

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, PostCommitHookProperties
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError
from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

from lake import kill, progress
from lake.errors import SchemaMismatchError, StorageError
from lake.errors import VersionTaken as VersionTaken  # defined in lake.errors
from lake.graph.commits import Layer
from lake.storage import ObjectStore, PreconditionFailed, StorageConfig
from lake.storage.faults import cut_short, storage_error, storage_errors
from lake.table import deltalog
from lake.table.deltalog import Operation
from lake.table.partitions import Partition, folder, split, text

TARGET_FILE_BYTES = 64 * 1024 * 1024
# Old log entries must stay: lake commits time-travel to any version they name. A file this table
# no longer uses may still be used by a branch, a tag or an older commit, for as long as they live:
# no finite retention is safe, so a default VACUUM by any engine (its retention is the table's
# deletedFileRetentionDuration) must never find a removed file old enough, and Spark's own check
# refuses a shorter ``RETAIN``. 36,500 days (a century) is as long as Spark and delta-rs parse
# comfortably. ``lake gc`` reclaims space instead: it knows which commits still need a file.
TABLE_CONFIGURATION = {
    "delta.enableExpiredLogCleanup": "false",
    "delta.checkpointInterval": "10",
    "delta.deletedFileRetentionDuration": "interval 36500 days",
    "delta.logRetentionDuration": "interval 36500 days",
}
_HOOKS = PostCommitHookProperties(create_checkpoint=True, cleanup_expired_logs=False)
SchemaChange = Literal["add", "replace"] | None


@dataclass(frozen=True)
class DataFile:
    """One parquet file of a layer. ``path`` is relative to the layer's root."""

    path: str
    size: int
    rows: int
    modification_time: int
    stats: str
    partition: Partition = ()  # the file's partition values, as the log spells them (none: unpartitioned)

    def bounds(self, column: str) -> tuple[Any, Any] | None:
        """The (min, max) the file's statistics record for ``column``, if they do."""
        raw = json.loads(self.stats)
        low, high = raw.get("minValues", {}).get(column), raw.get("maxValues", {}).get(column)
        return None if low is None or high is None else (low, high)

    def add_action(self, prefix: str = "") -> AddAction:
        return AddAction(
            prefix + self.path, self.size, dict(self.partition), self.modification_time, True, self.stats
        )

    def moved(self, path: str) -> DataFile:
        """The same file, named by ``path`` (relative to another root)."""
        return DataFile(path, self.size, self.rows, self.modification_time, self.stats, self.partition)


# -- per-file statistics ---------------------------------------------------------------------------
# What the Delta protocol's per-file ``stats`` hold, and how (mirroring what delta-rs and Spark write):
# ``numRecords``; ``nullCount`` per leaf column (a struct's counts are an object mirroring the struct;
# a list or map is a leaf); ``minValues``/``maxValues`` only for values JSON holds exactly: numbers
# (no inf or NaN: a float column holding NaN gets no bounds at all), strings, booleans, dates
# ("YYYY-MM-DD"), timestamps (milliseconds, ISO-8601; "Z" for timestamps with a zone, which are UTC)
# and decimals that a JSON number gives exactly. Lists, maps and binaries get no bounds.
_I64 = (-(2**63), 2**63 - 1)
_EPOCH = datetime(1970, 1, 1)
_PER_MS = {"s": None, "ms": 1, "us": 1000, "ns": 1_000_000}


def _jsonable(value: Any) -> bool:
    """Whether ``value`` is a bound that strict JSON holds as itself."""
    if isinstance(value, bool | str):
        return True
    if isinstance(value, int):
        return _I64[0] <= value <= _I64[1]
    return isinstance(value, float) and math.isfinite(value)


def _decimal_bound(value: Decimal, *, exact_float: bool) -> float | None:
    """A decimal as the JSON number whose text is exactly the decimal (``0.1``), or None.

    ``exact_float`` asks for more: a float equal to the decimal (``1.25``, not ``0.1``), for stats
    that Python compares with decimals again (:meth:`DataFile.bounds`), where ``0.1`` the float is
    not ``0.1`` the decimal and a file could be skipped wrongly."""
    if not value.is_finite():
        return None
    number = float(value)
    text = repr(number)
    if not math.isfinite(number) or "e" in text or Decimal(text) != value:
        return None  # e.g. 38 digits, or 1e-10: delta-rs reads an exponent as no bound at all
    if exact_float and Decimal(number) != value:
        return None
    return number


def _timestamp_text(epoch_ms: int, zoned: bool) -> str | None:
    try:
        moment = _EPOCH + timedelta(milliseconds=epoch_ms)
    except OverflowError:
        return None
    return moment.isoformat(timespec="milliseconds") + ("Z" if zoned else "")


def _timestamp_bounds(column: pa.ChunkedArray, t: pa.TimestampType) -> tuple[str | None, str | None]:
    """Delta keeps timestamp bounds in milliseconds: round the min down and the max up, so that
    they still bound the file's microseconds."""
    mm = pc.min_max(column.cast(pa.int64())).as_py()
    per_ms = _PER_MS[t.unit]
    if per_ms is None:
        low, high = mm["min"] * 1000, mm["max"] * 1000
    else:
        low, high = mm["min"] // per_ms, -(-mm["max"] // per_ms)
    zoned = t.tz is not None
    return _timestamp_text(low, zoned), _timestamp_text(high, zoned)


def _leaf_bounds(column: pa.ChunkedArray) -> tuple[Any, Any]:
    """The (min, max) of a non-nested column as JSON values; None where there is none to give."""
    t = column.type
    if column.null_count == len(column):
        return None, None
    try:
        if pa.types.is_timestamp(t):
            return _timestamp_bounds(column, t)
        if pa.types.is_floating(t) and pc.any(pc.is_nan(column)).as_py():
            return None, None  # NaN sorts above every number in Delta readers: no bound holds
        if not (
            pa.types.is_integer(t)
            or pa.types.is_floating(t)
            or pa.types.is_boolean(t)
            or pa.types.is_string(t)
            or pa.types.is_large_string(t)
            or pa.types.is_string_view(t)
            or pa.types.is_decimal(t)
            or pa.types.is_date(t)
        ):
            return None, None  # binary, lists, maps, ...: the protocol defines no bounds
        mm = pc.min_max(column).as_py()
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, OverflowError, ValueError):
        return None, None
    return _json_bound(mm["min"], exact_float=False), _json_bound(mm["max"], exact_float=False)


def _json_bound(value: Any, *, exact_float: bool, up: bool = False) -> Any:
    """A bound as the JSON value the Delta protocol gives it, or None."""
    if isinstance(value, datetime):
        zoned = value.tzinfo is not None
        try:
            naive = value.astimezone(UTC).replace(tzinfo=None) if zoned else value
        except (OverflowError, ValueError):  # within hours of year 1 or 9999
            return None
        micros = (naive - _EPOCH) // timedelta(microseconds=1)
        return _timestamp_text(-(-micros // 1000) if up else micros // 1000, zoned)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return _decimal_bound(value, exact_float=exact_float)
    return value if _jsonable(value) else None


def _collect(
    name: str,
    column: pa.ChunkedArray,
    mins: dict[str, Any],
    maxs: dict[str, Any],
    nulls: dict[str, Any],
    known: tuple[Any, Any] | None = None,
) -> None:
    """Add ``column``'s stats under ``name``; ``known``: its (min, max), already found."""
    t = column.type
    if pa.types.is_struct(t):
        sub_mins: dict[str, Any] = {}
        sub_maxs: dict[str, Any] = {}
        sub_nulls: dict[str, Any] = {}
        # flatten() folds the struct's own nulls into its fields: a field of a null struct is null.
        for i, child in enumerate(column.flatten()):
            _collect(t.field(i).name, child, sub_mins, sub_maxs, sub_nulls)
        for out, sub in ((mins, sub_mins), (maxs, sub_maxs), (nulls, sub_nulls)):
            if sub:
                out[name] = sub
        return
    nulls[name] = column.null_count
    low, high = _leaf_bounds(column) if known is None else known
    if low is not None:
        mins[name] = low
    if high is not None:
        maxs[name] = high


# -- dictionary encoding ---------------------------------------------------------------------------
# A parquet writer first dictionary-encodes every column, and falls back to plain values once a
# row group's dictionary outgrows its page (1 MiB: 131,072 distinct 8-byte values); the attempt
# costs a hash of every value up to there and leaves a larger file. Ids, event times and measures
# go past it in every file of any size, so a number or time column whose first 256Ki values already
# hold clearly more distinct values than the page takes is written plain from the start: 20% less
# CPU for the writer (5M rows: 0.60 -> 0.47 s) and smaller files. Every other column keeps the
# default, and the writer decides. The distinct count is a HyperLogLog estimate (0.6 ms).
_DICTIONARY_PAGE = 1024 * 1024  # pyarrow's dictionary_pagesize_limit
_PREFIX = 256 * 1024  # the values counted: more distinct ones than a page holds fit in them


def dictionary_columns(table: pa.Table) -> bool | list[str]:
    """``use_dictionary`` for writing ``table``: True, or the columns to dictionary-encode."""
    if table.num_rows * 4 <= _DICTIONARY_PAGE or any(pa.types.is_nested(f.type) for f in table.schema):
        return True  # every dictionary fits; nested leaves have paths of their own: keep the default
    plain = {
        f.name for f, column in zip(table.schema, table.columns, strict=True) if _past_dictionary(column)
    }
    return [n for n in table.column_names if n not in plain] if plain else True


def _past_dictionary(column: pa.ChunkedArray) -> bool:
    """Whether a parquet writer would give up dictionary-encoding ``column`` within its first row
    group: the distinct values of a prefix are at most those of the row group holding it."""
    t = column.type
    if not (
        pa.types.is_integer(t) or pa.types.is_temporal(t) or (pa.types.is_floating(t) and t.bit_width >= 32)
    ):
        return False
    width = int(t.bit_width) // 8
    prefix = column.slice(0, _PREFIX)
    if len(prefix) * width <= _DICTIONARY_PAGE:
        return False
    try:
        series = pl.from_arrow(prefix)
        distinct = series.approx_n_unique() if isinstance(series, pl.Series) else 0
    except (pl.exceptions.PolarsError, pa.ArrowException, TypeError, ValueError):
        return False  # a type polars does not take: the writer decides, as by default
    if not isinstance(distinct, int):
        return False
    return distinct * width > 1.25 * _DICTIONARY_PAGE  # clearly past: the estimate errs by ~2%


def column_stats(table: pa.Table, written: pq.FileMetaData | None = None) -> dict[str, Any]:
    """The Delta ``stats`` of a file holding ``table`` (see the notes above :func:`_jsonable`).
    ``written``: the file's parquet footer, whose string bounds are taken instead of computed."""
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    nulls: dict[str, Any] = {}
    known = _footer_string_bounds(table.schema, written) if written is not None else {}
    for field, column in zip(table.schema, table.columns, strict=True):
        _collect(field.name, column, mins, maxs, nulls, known.get(field.name))
    return {"numRecords": table.num_rows, "minValues": mins, "maxValues": maxs, "nullCount": nulls}


def merge_stats(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The Delta ``stats`` of one file holding the rows of ``parts`` (each :func:`column_stats` of
    some of its rows, as a rolled file is written): counts add up, and a column keeps its bounds
    only where every part bounds it or holds only nulls in it (a part with NaN, or values JSON
    cannot hold, leaves the whole file without bounds, as if it were computed at once)."""
    rows = sum(int(p["numRecords"]) for p in parts)
    levels = [(p["minValues"], p["maxValues"], p["nullCount"], int(p["numRecords"])) for p in parts]
    mins, maxs = _merged_bounds(levels)
    nulls = _summed_nulls([p["nullCount"] for p in parts])
    return {"numRecords": rows, "minValues": mins, "maxValues": maxs, "nullCount": nulls}


def _summed_nulls(counts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, first in counts[0].items():
        values = [c.get(name) for c in counts]
        out[name] = _summed_nulls([v or {} for v in values]) if isinstance(first, dict) else sum(values)
    return out


def _merged_bounds(
    levels: Sequence[tuple[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any], int]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (min, max) bounds of one level (the top or a struct's fields) of several parts, each
    given as (its mins, its maxes, its null counts, its rows)."""
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    for name, nulls in levels[0][2].items():
        if isinstance(nulls, dict):  # a struct: its fields, a level of their own
            inner = [(_sub(lo, name), _sub(hi, name), n.get(name) or {}, rows) for lo, hi, n, rows in levels]
            low, high = _merged_bounds(inner)
            if low:
                mins[name] = low
            if high:
                maxs[name] = high
            continue
        for out, side, pick in ((mins, 0, min), (maxs, 1, max)):
            values = []
            for lo, hi, n, rows in levels:
                value = (lo, hi)[side].get(name)
                if value is None:
                    if n.get(name) != rows:  # values without a bound: none holds
                        break
                    continue  # only nulls here: nothing to bound
                values.append(value)
            else:
                if values:
                    out[name] = pick(values)
    return mins, maxs


def _sub(bounds: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = bounds.get(name)
    return value if isinstance(value, dict) else {}


def _footer_string_bounds(schema: pa.Schema, written: pq.FileMetaData) -> dict[str, tuple[Any, Any]]:
    """The (min, max) of ``schema``'s top-level string columns as the parquet writer recorded them.

    Computing a string column's bounds again costs about as much as writing it (5M short strings:
    70 ms), and the writer has them already: it compares UTF-8 bytes, which orders as
    ``pc.min_max`` and Python's ``str`` do. A column whose footer lacks a bound (parquet leaves out
    values over 4 KB) is not listed, and gets its bounds computed."""
    out: dict[str, tuple[Any, Any]] = {}
    leaf = 0
    for field in schema:
        t = field.type
        is_string = pa.types.is_string(t) or pa.types.is_large_string(t)
        if is_string and leaf < written.num_columns and written.schema.column(leaf).path == field.name:
            bounds = _chunk_bounds(written, leaf)
            if bounds is not None:
                out[field.name] = bounds
        leaf += _leaves(t)
    return out


def _leaves(t: pa.DataType) -> int:
    """How many parquet leaf columns an Arrow field of type ``t`` is written as."""
    if pa.types.is_struct(t):
        return sum(_leaves(t.field(i).type) for i in range(t.num_fields))
    if pa.types.is_map(t):
        return _leaves(t.key_type) + _leaves(t.item_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _leaves(t.value_type)
    if pa.types.is_list_view(t) or pa.types.is_large_list_view(t):
        return _leaves(t.value_type)
    return 1


def _chunk_bounds(written: pq.FileMetaData, leaf: int) -> tuple[Any, Any] | None:
    """The (min, max) of leaf column ``leaf`` over every row group; (None, None) when it holds
    only nulls; None when a row group with values records no bounds."""
    lows: list[str] = []
    highs: list[str] = []
    for r in range(written.num_row_groups):
        group = written.row_group(r)
        stats = group.column(leaf).statistics
        if stats is not None and stats.has_min_max:
            low, high = stats.min, stats.max
            if not (isinstance(low, str) and isinstance(high, str)):
                return None
            lows.append(low)
            highs.append(high)
        elif not (stats is not None and stats.has_null_count and stats.null_count == group.num_rows):
            return None
    return (min(lows), max(highs)) if lows else (None, None)


def _logged_stats(value: Any, *, kind: str) -> Any:
    """A ``min``/``max``/``null_count`` struct value read back by delta-rs, as Delta ``stats`` JSON:
    no nulls, no empty objects, every bound as :func:`_json_bound` writes it."""
    if isinstance(value, dict):
        out = {}
        for name, sub in value.items():
            converted = _logged_stats(sub, kind=kind)
            if converted is not None and converted != {}:
                out[name] = converted
        return out
    if value is None:
        return None
    if kind == "null_count":
        return int(value) if isinstance(value, int) and not isinstance(value, bool) else None
    return _json_bound(value, exact_float=True, up=kind == "max")


class Layers:
    def __init__(self, config: StorageConfig, store: ObjectStore) -> None:
        self.config = config
        self.store = store
        self._files: OrderedDict[tuple[str, int], dict[str, DataFile]] = OrderedDict()
        self._latest: dict[str, DeltaTable] = {}

    # -- locations -------------------------------------------------------------------------------
    def uri(self, dataset: str, layer_path: str = "") -> str:
        return self.config.join(dataset, layer_path)

    def key(self, dataset: str, layer_path: str, rest: str) -> str:
        return "/".join(p for p in (dataset, layer_path, rest) if p)

    def _table(self, uri: str, version: int | None = None) -> DeltaTable:
        """The Delta table at ``uri``. A load whose answer was cut short on the way is tried once
        more, within the budget's retry time (delta-rs does not retry a cut error answer)."""
        at = uri if version is None else f"{uri} (version {version})"
        started = time.monotonic()
        for attempt in (1, 2):
            try:
                with storage_errors("read the Delta table", at, self.config):  # TableNotFoundError passes
                    return DeltaTable(uri, version=version, storage_options=self.config.delta_options())
            except StorageError as exc:
                late = time.monotonic() - started >= self.config.budget.retry_timeout
                if attempt == 2 or late or not cut_short(exc):
                    raise
        raise AssertionError("unreachable")

    def table(self, dataset: str, layer_path: str, version: int | None = None) -> DeltaTable:
        """The layer's Delta table (at ``version``; None: the newest), storage faults named."""
        return self._table(self.uri(dataset, layer_path), version)

    # -- reading ---------------------------------------------------------------------------------
    def latest_version(self, dataset: str, layer_path: str) -> int | None:
        """The layer's newest Delta version. The loaded table is kept for :meth:`commit`, which
        usually commits right on top of it, so that a write loads the log once, not twice."""
        uri = self.uri(dataset, layer_path)
        try:
            dt = self._table(uri)
        except TableNotFoundError:
            return None
        self._latest[uri] = dt
        return dt.version()

    def files(self, dataset: str, layer: Layer) -> dict[str, DataFile]:
        """The files of ``layer`` at its version, keyed by path relative to the layer root.

        Each file keeps its statistics as Delta ``stats`` JSON (a merge commits them again on the
        target). A file whose row count delta-rs cannot read (written without stats, or with stats
        it cannot parse) is counted from its parquet footer, never taken as empty."""
        uri = self.uri(dataset, layer.path)
        cache_key = (uri, layer.version)
        hit = self._files.get(cache_key)
        if hit is not None:
            self._files.move_to_end(cache_key)
            return hit
        actions = pa.table(self._table(uri, layer.version).get_add_actions(flatten=False))
        kinds = [k for k in ("null_count", "min", "max") if k in actions.column_names]
        parted = ["partition"] if "partition" in actions.column_names else []
        rows = actions.select(
            ["path", "size_bytes", "modification_time", "num_records", *kinds, *parted]
        ).to_pylist()
        for row in rows:
            # The log holds a path URI-encoded (a partition folder ``s=a%20b`` is ``s=a%2520b``
            # there); a file is named here by its key in storage, and encoded again when logged.
            row["path"] = unquote(row["path"])
        counted = self._footer_rows(uri, [r["path"] for r in rows if r["num_records"] is None])
        files: dict[str, DataFile] = {}
        for row in rows:
            records = row["num_records"]
            n = int(records) if records is not None else counted[row["path"]]
            values = row.get("partition") or {}
            partition = tuple((name, text(value)) for name, value in values.items())
            stats: dict[str, Any] = {"numRecords": n}
            for kind, key in (("min", "minValues"), ("max", "maxValues"), ("null_count", "nullCount")):
                value = _logged_stats(row.get(kind), kind=kind) if kind in kinds else None
                if value:
                    stats[key] = value
            files[row["path"]] = DataFile(
                path=row["path"],
                size=int(row["size_bytes"]),
                rows=n,
                modification_time=int(row["modification_time"]),
                stats=json.dumps(stats, allow_nan=False),
                partition=partition,
            )
        self._files[cache_key] = files
        if len(self._files) > 256:
            self._files.popitem(last=False)
        return files

    def _footer_rows(self, uri: str, paths: Sequence[str]) -> dict[str, int]:
        """The row counts of data files (relative to the table at ``uri``) from their parquet footers."""
        if not paths:
            return {}
        fs = self.config.arrow_filesystem()

        def count(path: str) -> int:
            return int(pq.read_metadata(self.config.arrow_path(f"{uri}/{path}"), filesystem=fs).num_rows)

        with storage_errors("read the parquet footers of", uri, self.config):
            if len(paths) == 1:
                return {paths[0]: count(paths[0])}
            with ThreadPoolExecutor(max_workers=min(len(paths), 8)) as pool:
                return dict(zip(paths, pool.map(count, paths), strict=True))

    # -- writing ---------------------------------------------------------------------------------
    def write_files(
        self,
        dataset: str,
        layer_path: str,
        table: pa.Table,
        *,
        rows_per_file: int | None = None,
        partition_by: Sequence[str] = (),
    ) -> list[DataFile]:
        """Write ``table`` as parquet files below the layer root; commit nothing. Files hold
        ``rows_per_file`` rows each, or as many as :data:`TARGET_FILE_BYTES` of Arrow memory.
        With ``partition_by``, each partition's rows go to files of their own, in its Hive-style
        folder and without the partition columns (:mod:`lake.table.partitions`)."""
        if table.num_rows == 0:
            return []
        local = self.config.scheme == "file"
        root = self.uri(dataset, layer_path)
        per_row = max(1, table.nbytes // max(1, table.num_rows))
        step = rows_per_file or max(1, TARGET_FILE_BYTES // per_row)
        chunks: list[tuple[Partition, pa.Table]] = []
        for partition, rows in split(table, partition_by):
            chunks += [(partition, rows.slice(i, step)) for i in range(0, rows.num_rows, step)]
        if local:
            with storage_errors("write data files to", root, self.config, writing=True):
                for place in {folder(p) for p, _ in chunks}:
                    os.makedirs(f"{root}/{place}" if place else root, exist_ok=True)

        def write(part: tuple[Partition, pa.Table]) -> DataFile:
            partition, chunk = part
            place = folder(partition)
            name = f"part-{uuid.uuid4()}-c000.snappy.parquet"
            name = f"{place}/{name}" if place else name
            footer: list[pq.FileMetaData] = []
            options = {"compression": "snappy", "use_dictionary": dictionary_columns(chunk)}
            if local:
                pq.write_table(chunk, f"{root}/{name}", metadata_collector=footer, **options)
                size = os.path.getsize(f"{root}/{name}")
            else:
                # One PUT per file: S3 multipart uploads through pyarrow cost 2-3x more here.
                buf = pa.BufferOutputStream()
                pq.write_table(chunk, buf, metadata_collector=footer, **options)
                body = buf.getvalue()
                self.store.put(self.key(dataset, layer_path, name), body.to_pybytes())
                size = body.size
            return DataFile(
                path=name,
                size=int(size),
                rows=chunk.num_rows,
                modification_time=int(time.time() * 1000),
                stats=json.dumps(column_stats(chunk, footer[0] if footer else None)),
                partition=partition,
            )

        with storage_errors("write data files to", root, self.config, writing=True):
            if len(chunks) == 1:
                done = [write(chunks[0])]
            else:
                with ThreadPoolExecutor(max_workers=min(len(chunks), os.cpu_count() or 2)) as pool:
                    done = []
                    for f in pool.map(write, chunks):
                        done.append(f)
                        progress.advance("write", len(done), len(chunks), "files", dataset)
        kill.point("data.files")
        return done

    def commit(
        self,
        dataset: str,
        layer_path: str,
        *,
        base: int | None,
        adds: Sequence[DataFile],
        removes: Sequence[DataFile],
        schema: pa.Schema,
        schema_change: SchemaChange,
        metadata: Mapping[str, Any],
        add_prefix: str = "",
        operation: Operation | None = None,
        restore_metadata: int | None = None,
        partition_by: Sequence[str] = (),
    ) -> int:
        """Commit ``adds`` and ``removes`` on top of version ``base`` (None: create the table).

        Returns the new version. ``schema_change='add'`` first adds the schema's new columns;
        ``'replace'`` overwrites the whole layer, schema included (``removes`` must be empty).
        ``operation`` is what the log entry says was done (see :mod:`lake.table.deltalog`).
        ``restore_metadata``: also put back the table's metadata (schema, properties) as that
        version had it (undoing another engine's schema change). ``partition_by``: the table's
        partition columns, when this commit creates or replaces it.
        """
        uri = self.uri(dataset, layer_path)
        opts = self.config.delta_options()
        removed_rows = {f.path: f.rows for f in removes}
        custom = {**metadata, "lake.removed": json.dumps(removed_rows)} if removed_rows else dict(metadata)
        props = CommitProperties(custom_metadata=custom, max_commit_retries=0)
        delta_schema = DeltaSchema.from_arrow(schema)
        add_actions: list[AddAction | RemoveAction] = [f.add_action(add_prefix) for f in adds]
        try:
            if base is None:
                create_table_with_add_actions(
                    uri,
                    delta_schema,
                    [a for a in add_actions if isinstance(a, AddAction)],
                    mode="error",
                    partition_by=list(partition_by) or None,
                    name=dataset,
                    description=describe(dataset, layer_path),
                    configuration=TABLE_CONFIGURATION,
                    storage_options=opts,
                    commit_properties=props,
                    post_commithook_properties=_HOOKS,
                )
                return 0
            loaded = self._latest.pop(uri, None)
            dt = loaded if loaded is not None and loaded.version() == base else self._table(uri, base)
            if schema_change == "replace" and list(dt.metadata().partition_columns) != list(partition_by):
                return self._repartition(
                    dt, uri, dataset, layer_path, base, adds, custom, operation, schema, partition_by
                )
            if schema_change == "replace":
                dt.create_write_transaction(
                    add_actions,
                    mode="overwrite",
                    schema=delta_schema,
                    partition_by=list(partition_by) or None,
                    commit_properties=props,
                    post_commithook_properties=_HOOKS,
                )
                return base + 1
            version = base
            if schema_change == "add":
                current = pa.schema(dt.schema().to_arrow()).names
                new_fields = [f for f in delta_schema.fields if f.name not in current]
                dt.alter.add_columns(
                    new_fields,
                    commit_properties=CommitProperties(custom_metadata=dict(metadata), max_commit_retries=0),
                )
                version += 1
                kill.point("delta.columns")
                dt = self._table(uri, version)
            if not add_actions and not removes and restore_metadata is None:
                return version
            if _plain_protocol(dt):
                meta = self._metadata_action(uri, restore_metadata) if restore_metadata is not None else None
                self._log(
                    dt, uri, dataset, layer_path, version, adds, removes, custom, operation, add_prefix, meta
                )
                return version + 1
            removals = [
                RemoveAction(f.path, True, int(time.time() * 1000), f.size, dict(f.partition))
                for f in removes
            ]
            dt.create_write_transaction(
                [*add_actions, *removals],
                mode="append",
                schema=dt.schema(),
                commit_properties=props,
                post_commithook_properties=_HOOKS,
            )
            return version + 1
        except (CommitFailedError, PreconditionFailed) as exc:
            raise VersionTaken(f"version {0 if base is None else base + 1} of {uri} exists already") from exc
        except DeltaError as exc:
            if base is None and "exists" in str(exc).lower():
                raise VersionTaken(f"the Delta table {uri} exists already") from exc
            fault = storage_error("commit to the Delta table", uri, exc, config=self.config, writing=True)
            raise fault from exc
        except OSError as exc:  # delta-rs's object-store failures (a dropped connection, a timeout)
            fault = storage_error("commit to the Delta table", uri, exc, config=self.config, writing=True)
            raise fault from exc

    def _log(
        self,
        dt: DeltaTable,
        uri: str,
        dataset: str,
        layer_path: str,
        version: int,
        adds: Sequence[DataFile],
        removes: Sequence[DataFile],
        custom: Mapping[str, Any],
        operation: Operation | None,
        add_prefix: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Write version ``version + 1`` of the layer's log ourselves (if absent), then the
        checkpoint its interval asks for, as delta-rs's post-commit hook would."""
        body = deltalog.entry(
            read_version=version,
            operation=operation or Operation.of("append"),
            adds=[
                deltalog.FileAction(add_prefix + f.path, f.size, f.modification_time, f.stats, f.partition)
                for f in adds
            ],
            removes=[deltalog.FileAction(f.path, f.size, partition=f.partition) for f in removes],
            custom=custom,
            metadata=metadata,
            author=str(custom["lake.author"]) if custom.get("lake.author") else None,
        )
        prefix = self.key(dataset, layer_path, "")
        with storage_errors("commit to the Delta table", uri, self.config, writing=True):
            self.store.put(deltalog.log_key(prefix, version + 1), body, if_none_match=True)
        interval = int(dt.metadata().configuration.get("delta.checkpointInterval", "100") or 100)
        if (version + 1) % max(1, interval) == 0:
            with storage_errors("write a checkpoint of the Delta table", uri, self.config, writing=True):
                self._table(uri, version + 1).create_checkpoint()

    def _repartition(
        self,
        dt: DeltaTable,
        uri: str,
        dataset: str,
        layer_path: str,
        base: int,
        adds: Sequence[DataFile],
        custom: Mapping[str, Any],
        operation: Operation | None,
        schema: pa.Schema,
        partition_by: Sequence[str],
    ) -> int:
        """Overwrite the layer with ``adds`` under new partition columns: one log entry removing
        every file and changing the table's ``metaData`` (delta-rs's overwrite keeps the old
        partition columns). Returns the new version."""
        if not _plain_protocol(dt):
            raise SchemaMismatchError(
                f"the Delta table {uri} uses table features the lake does not write itself; "
                "its partition columns cannot be changed here",
                hint="write the data to a new dataset partitioned as wanted",
            )
        meta = _metadata(dt, DeltaSchema.from_arrow(schema).to_json(), partition_by)
        removes = list(self.files(dataset, Layer(layer_path, base)).values())
        self._log(dt, uri, dataset, layer_path, base, adds, removes, custom, operation, "", meta)
        return base + 1

    def _metadata_action(self, uri: str, version: int) -> dict[str, Any]:
        """The ``metaData`` action that gives the table the schema and properties it had at
        ``version`` (the table's id stays: it is the same table)."""
        then = self._table(uri, version)
        return _metadata(then, then.schema().to_json(), then.metadata().partition_columns)

    def heal(self, dataset: str, layer_path: str, expected: int, metadata: Mapping[str, Any]) -> int:
        """Make the layer's newest version hold exactly the files of version ``expected`` again.

        Versions past ``expected`` were committed by writers that never moved their ref (they
        stopped, or lost the ref race). No lake commit names them, so the next version restores
        the state that the branch does name. Returns the version to build on.
        """
        latest = self.latest_version(dataset, layer_path)
        assert latest is not None and latest >= expected
        if latest == expected:
            return expected
        return self.restore(
            dataset,
            layer_path,
            latest,
            self.files(dataset, Layer(layer_path, expected)),
            metadata={**metadata, "lake.heal": str(expected)},
            operation=Operation.of("heal", {"version": str(expected)}),
        )

    def restore(
        self,
        dataset: str,
        layer_path: str,
        latest: int,
        want: Mapping[str, DataFile],
        *,
        metadata: Mapping[str, Any],
        operation: Operation,
        restore_metadata: int | None = None,
    ) -> int:
        """Commit, on top of ``latest``, the version that holds exactly the files ``want``
        (adding and removing what differs; with ``restore_metadata``, the schema and properties of
        that version too). Returns the new version, or ``latest`` when nothing differs."""
        have = self.files(dataset, Layer(layer_path, latest))
        adds = [f for p, f in want.items() if p not in have]
        removes = [f for p, f in have.items() if p not in want]
        if not adds and not removes and restore_metadata is None:
            return latest
        version = self.commit(
            dataset,
            layer_path,
            base=latest,
            adds=adds,
            removes=removes,
            schema=pa.schema(self.table(dataset, layer_path, latest).schema().to_arrow()),
            schema_change=None,
            metadata=metadata,
            operation=operation,
            restore_metadata=restore_metadata,
        )
        kill.point("delta.commit")
        return version


def describe(dataset: str, layer_path: str) -> str:
    """The ``description`` of a layer's Delta table, which Spark's DESCRIBE DETAIL and delta-rs's
    ``metadata()`` show: a branch's own folder is not the branch, and says so."""
    if not layer_path:
        return f"lakegate dataset {dataset}: main's rows (a plain Delta table)"
    return (
        f"lakegate: only the files one branch layer ({layer_path}) of dataset {dataset} added; "
        "NOT the branch's rows, which also live in other layers. Read a branch with "
        f"`lake export {dataset} --ref BRANCH --to URI`, `lake files {dataset} --ref BRANCH` "
        "or `lake read`."
    )


def _metadata(dt: DeltaTable, schema_string: str, partition_columns: Sequence[str]) -> dict[str, Any]:
    """The ``metaData`` action of ``dt``'s table (its id, name and properties) with this schema
    and these partition columns."""
    m = dt.metadata()
    return {
        "id": m.id,
        "name": m.name,
        "description": m.description,
        "format": {"provider": "parquet", "options": {}},
        "schemaString": schema_string,
        "partitionColumns": list(partition_columns),
        "configuration": dict(m.configuration),
        "createdTime": m.created_time,
    }


def _plain_protocol(dt: DeltaTable) -> bool:
    """Whether the table asks nothing of a writer beyond adding and removing files with stats
    (reader 1, writer 2 or less, no table features, no append-only or column invariants): then
    the lake writes the log entry itself. Anything more and delta-rs, which checks, commits."""
    p = dt.protocol()
    if p.min_reader_version > 1 or p.min_writer_version > 2 or p.reader_features or p.writer_features:
        return False
    return dt.metadata().configuration.get("delta.appendOnly", "false").lower() != "true"
