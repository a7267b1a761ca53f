"""Partitioned datasets: which columns a dataset is partitioned by, how a partition value is
spelled in the Delta log and in a file's path, and how rows are split into partitions.

As the Delta protocol has it ("Partition Value Serialization"), a partitioned table's data files
do not hold the partition columns: each ``add`` action carries them as ``partitionValues``, strings
(``null`` for a null), and Spark and delta-rs put the files under Hive-style folders
(``day=2026-11-01/part-....parquet``), which this module names the same way. Readers of the lake
(:mod:`lake.table.views`) put the columns back from the log's values.

Partition columns are strings, integers, dates and booleans: the types whose serialization every
Delta reader agrees on and whose values a person names in a predicate (``day = '2026-11-01'``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
import pyarrow as pa

from lake.errors import InvalidInputError, SchemaMismatchError

Partition = tuple[tuple[str, str | None], ...]  # (column, value as the log spells it), in order
NULL_FOLDER = "__HIVE_DEFAULT_PARTITION__"  # Hive's, Spark's and delta-rs's name for a null
# The characters Hive and Spark escape in a folder name (``ExternalCatalogUtils.escapePathName``).
_ESCAPED = frozenset("\"#%'*/:=?\\\x7f{[]^") | frozenset(chr(c) for c in range(0x20))


def supported(t: pa.DataType) -> bool:
    """Whether a column of type ``t`` can partition a dataset."""
    return bool(
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_integer(t)
        or pa.types.is_date32(t)
        or pa.types.is_boolean(t)
    )


def check(schema: pa.Schema, partition_by: Sequence[str], *, where: str = "partition_by") -> None:
    """Refuse partition columns the schema lacks, repeats, or cannot partition by."""
    seen: set[str] = set()
    for name in partition_by:
        if name in seen:
            raise InvalidInputError(f"{where} names the column {name!r} twice")
        seen.add(name)
        if name not in schema.names:
            raise SchemaMismatchError(
                f"{where} names the column {name!r}, which the data does not have",
                hint=f"the columns are: {', '.join(schema.names)}",
            )
        t = schema.field(name).type
        if not supported(t):
            raise SchemaMismatchError(
                f"{where}: the column {name!r} is {t}; a dataset is partitioned by string, "
                "integer, date or boolean columns",
                hint="partition by a date derived from a timestamp (a 'day' column), not by the timestamp",
            )
    if partition_by and len(partition_by) == len(schema.names):
        raise InvalidInputError(f"{where} names every column: a data file would hold none")


def text(value: Any) -> str | None:
    """``value`` as the Delta log spells a partition value."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def folder(partition: Partition) -> str:
    """The Hive-style folder of a partition's files: ``day=2026-11-01/region=eu``."""
    return "/".join(
        f"{_escape(name)}={_escape(value) if value is not None else NULL_FOLDER}" for name, value in partition
    )


def _escape(value: str) -> str:
    return "".join(f"%{ord(c):02X}" if c in _ESCAPED else c for c in value)


def typed(value: str | None, t: pa.DataType) -> Any:
    """A partition value of the log as the Python value of a column of type ``t``."""
    if value is None:
        return None
    if pa.types.is_integer(t):
        return int(value)
    if pa.types.is_boolean(t):
        return value.lower() == "true"
    if pa.types.is_date32(t) or pa.types.is_date64(t):
        return dt.date.fromisoformat(value)
    return value


def split(table: pa.Table, partition_by: Sequence[str]) -> list[tuple[Partition, pa.Table]]:
    """``table``'s rows by partition (in order of first appearance), each without the
    partition columns, as its files hold them."""
    cols = list(partition_by)
    if not cols:
        return [((), table)]
    keys = pl.from_arrow(table.select(cols))
    assert isinstance(keys, pl.DataFrame)
    groups = keys.with_row_index("__row__").group_by(cols, maintain_order=True).agg(pl.col("__row__"))
    empty = [c for c in cols if keys[c].dtype == pl.String and bool((keys[c] == "").any())]
    if empty:
        raise InvalidInputError(
            f"the partition column {empty[0]!r} holds an empty string, which every Delta reader "
            "reads back as null",
            hint="write a value (or null) instead of the empty string, or partition by another column",
        )
    data = table.drop_columns(cols)
    out: list[tuple[Partition, pa.Table]] = []
    for row in groups.iter_rows(named=True):
        indices = row["__row__"]
        part = tuple((c, text(row[c])) for c in cols)
        contiguous = indices[-1] - indices[0] + 1 == len(indices)
        rows = data.slice(indices[0], len(indices)) if contiguous else data.take(pa.array(indices))
        out.append((part, rows))
    return out


def with_columns(table: pa.Table, values: Mapping[str, str | None], schema: pa.Schema) -> pa.Table:
    """``table`` (rows of one file) with its partition columns put back, in ``schema``'s order."""
    n = table.num_rows
    for name, value in values.items():
        if name in schema.names and name not in table.column_names:
            t = schema.field(name).type
            table = table.append_column(schema.field(name), pa.repeat(pa.scalar(typed(value, t), t), n))
    return table.select([c for c in schema.names if c in table.column_names])


def literal(name: str, value: str | None, schema: pa.Schema) -> pl.Expr:
    """A polars column holding a file's partition value in every row."""
    t = schema.field(name).type
    dtype = pl.from_arrow(pa.array([], t)).dtype  # type: ignore[union-attr]
    return pl.lit(typed(value, t), dtype=dtype).alias(name)


def frame(partitions: Sequence[Partition], schema: pa.Schema) -> pl.DataFrame:
    """One row per partition, its columns typed as ``schema`` has them: for evaluating a
    predicate on partition values alone."""
    names = [name for name, _ in partitions[0]] if partitions else []
    arrays = [
        pa.array([typed(dict(p)[n], schema.field(n).type) for p in partitions], schema.field(n).type)
        for n in names
    ]
    out = pl.from_arrow(pa.table(arrays, names=names)) if names else pl.DataFrame()
    assert isinstance(out, pl.DataFrame)
    return out


def within(value: str | None, low: Any, high: Any) -> bool:
    """Whether a file whose partition value is ``value`` may hold a value in [low, high] (Python
    values of the column's type); True when they cannot be compared."""
    if value is None:
        return False  # every row holds null there: no value is in any range
    try:
        if isinstance(low, bool):
            parsed: Any = value.lower() == "true"
        elif isinstance(low, int):
            parsed = int(value)
        elif isinstance(low, dt.datetime):
            return True
        elif isinstance(low, dt.date):
            parsed = dt.date.fromisoformat(value)
        elif isinstance(low, str):
            parsed = value
        else:
            return True
        return bool(low <= parsed <= high)
    except (ValueError, TypeError):
        return True
