"""Turning what users hand us (pyarrow, pandas, polars) into Arrow tables a Delta table accepts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import Schema as DeltaSchema

from lake.errors import InvalidInputError, SchemaMismatchError

ACCEPTED = (
    "a pyarrow Table, RecordBatch, RecordBatchReader or Dataset, an iterable of record batches, "
    "a pandas DataFrame, a polars DataFrame or LazyFrame, or an object with __arrow_c_stream__"
)


def to_arrow(data: Any) -> pa.Table:
    """Accept a pyarrow Table, RecordBatch, RecordBatchReader or Dataset, an iterable of record
    batches, a pandas DataFrame, a polars DataFrame or LazyFrame."""
    import pyarrow.dataset as pads

    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pads.Dataset):
        return data.to_table()
    module = type(data).__module__.split(".")[0]
    kind = type(data).__name__
    if module == "pandas" and kind == "DataFrame":
        return _from_pandas(data)
    if module == "polars" and kind == "DataFrame":
        table: pa.Table = data.to_arrow()
        return table
    if module == "polars" and kind == "LazyFrame":
        collected: pa.Table = data.collect(engine="streaming").to_arrow()
        return collected
    if module in ("pandas", "polars") and kind == "Series":
        raise InvalidInputError(
            f"cannot write a {module} Series: pass {ACCEPTED}",
            hint="a Series is one column: write series.to_frame()",
        )
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data)
    if hasattr(data, "__iter__") and not isinstance(data, str | bytes | Mapping):
        return _from_batches(data)
    raise InvalidInputError(
        f"cannot write a {type(data).__name__}: pass {ACCEPTED}",
        hint="a dict of columns becomes a table with pyarrow.table(d) or polars.DataFrame(d)"
        if isinstance(data, Mapping)
        else None,
    )


def _from_batches(items: Any) -> pa.Table:
    """An iterable of record batches (or tables) as one table; anything else in it is named."""
    batches: list[pa.RecordBatch] = []
    for i, item in enumerate(items):
        if isinstance(item, pa.RecordBatch):
            batches.append(item)
        elif isinstance(item, pa.Table):
            batches.extend(item.to_batches())
        else:
            raise InvalidInputError(
                f"item {i} of the {type(items).__name__} is a {type(item).__name__}, not a record batch: "
                f"pass {ACCEPTED}"
            )
    if not batches:
        raise InvalidInputError(
            f"the {type(items).__name__} holds no record batch, so it has no schema: pass {ACCEPTED}"
        )
    try:
        return pa.Table.from_batches(batches)
    except pa.ArrowInvalid as exc:
        raise InvalidInputError(f"the record batches do not share one schema: {exc}") from None


def _from_pandas(frame: Any) -> pa.Table:
    """``frame`` as Arrow; a column Arrow cannot hold is named, with the value that does not fit."""
    names = [str(c) for c in frame.columns]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidInputError(
            f"the pandas DataFrame has more than one column named {', '.join(map(repr, twice))}",
            hint="rename the columns so that each name is used once, e.g. frame.columns = [...]",
        )
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        failed = exc
    for i, name in enumerate(names):  # find the column: convert them one by one
        try:
            pa.Table.from_pandas(frame.iloc[:, [i]], preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            reason = exc.args[0] if exc.args else str(exc)
            raise InvalidInputError(
                f"column {name!r} of the pandas DataFrame cannot be stored: {reason}",
                hint=f"give the column one type, e.g. frame[{name!r}] = frame[{name!r}].astype(str)",
            ) from exc
    raise InvalidInputError(
        f"the pandas DataFrame cannot be converted to Arrow: {failed}",
        hint="convert it yourself with pyarrow.Table.from_pandas and write the table",
    ) from failed


def _delta_type(t: pa.DataType) -> pa.DataType:
    """The Arrow type a Delta table stores for ``t`` (Delta has no unsigned or ns types)."""
    if pa.types.is_dictionary(t):
        return _delta_type(t.value_type)
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_uint8(t):
        return pa.int16()
    if pa.types.is_uint16(t):
        return pa.int32()
    if pa.types.is_uint32(t) or pa.types.is_uint64(t):
        return pa.int64()
    if pa.types.is_timestamp(t):
        # Delta stores instants in UTC (timestamp) or wall-clock times (timestamp_ntz); any zone
        # becomes UTC, which leaves the instants as they are (Arrow keeps them in UTC already).
        return pa.timestamp("us", tz="UTC" if t.tz else None)
    if pa.types.is_time(t):
        # Delta has no time of day: it is stored as int64 microseconds since midnight, the
        # value parquet's TIME(MICROS) holds, and a contract's ``time`` column casts it back
        return pa.int64()
    if pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return pa.list_(_delta_type(t.value_type))
    if pa.types.is_list(t):
        return pa.list_(_delta_type(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(_delta_type(f.type)) for f in t])
    return t


def delta_schema_json(schema: pa.Schema) -> dict[str, Any]:
    """The Delta schema (as its JSON object) of an Arrow schema already made Delta-compatible."""
    try:
        raw: dict[str, Any] = json.loads(DeltaSchema.from_arrow(schema).to_json())
    except Exception as exc:
        raise SchemaMismatchError(f"a Delta table cannot store this schema: {exc}") from exc
    return raw


def arrow_schema(delta_json: Mapping[str, Any]) -> pa.Schema:
    return pa.schema(DeltaSchema.from_json(json.dumps(dict(delta_json))).to_arrow())


def _cast(column: pa.ChunkedArray, target: pa.DataType, name: str) -> pa.ChunkedArray:
    if column.type == target:
        return column
    if pa.types.is_time(column.type) and not pa.types.is_time(target):
        column = pc.cast(column, pa.time64("us"))  # as microseconds, whatever its unit
    try:
        return pc.cast(column, target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaMismatchError(
            f"column {name!r}: cannot store {column.type} as {target} without loss ({exc})",
            hint="cast the column yourself, or overwrite the dataset with the new type",
        ) from exc


def normalize(table: pa.Table) -> pa.Table:
    """Cast every column to the type a Delta table stores, refusing lossy casts."""
    names = table.column_names
    if len(set(names)) != len(names):
        duplicated = sorted({n for n in names if names.count(n) > 1})
        raise InvalidInputError(
            f"duplicate column names in the data: {duplicated}",
            hint="give every column its own name (rename or drop the repeated ones)",
        )
    untyped = [f.name for f in table.schema if pa.types.is_null(f.type)]
    if untyped:
        raise InvalidInputError(
            f"column(s) {', '.join(untyped)} have no type (every value is null, or there are no rows)",
            hint="give the column a type, e.g. pa.array(values, pa.string())",
        )
    columns = [_cast(table.column(i), _delta_type(f.type), f.name) for i, f in enumerate(table.schema)]
    fields = [pa.field(f.name, c.type, f.nullable) for f, c in zip(table.schema, columns, strict=True)]
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def conform(table: pa.Table, target: pa.Schema, *, allow_new_columns: bool) -> tuple[pa.Table, pa.Schema]:
    """Fit ``table`` to the dataset schema ``target``; return it and the (maybe widened) schema.

    Columns are matched by name. A column the data lacks is filled with nulls when the schema
    allows nulls; a column the schema lacks is refused unless ``allow_new_columns``.
    """
    table = normalize(table)
    extra = [n for n in table.column_names if n not in target.names]
    if extra and not allow_new_columns:
        raise _new_columns(table, extra)
    arrays: list[pa.ChunkedArray] = []
    fields: list[pa.Field] = []
    for f in target:
        if f.name in table.column_names:
            col = _cast(table.column(f.name), f.type, f.name)
            if not f.nullable and col.null_count:
                raise SchemaMismatchError(
                    f"column {f.name!r} is not nullable but {col.null_count} rows are null"
                )
        elif f.nullable:
            col = pa.chunked_array([pa.nulls(table.num_rows, f.type)])
        else:
            raise SchemaMismatchError(f"the data lacks the non-nullable column {f.name!r}")
        arrays.append(col)
        fields.append(f)
    for name in extra:
        arrays.append(table.column(name))
        fields.append(pa.field(name, table.schema.field(name).type, True))
    schema = pa.schema(fields)
    return pa.Table.from_arrays(arrays, schema=schema), schema


def _new_columns(table: pa.Table, extra: list[str]) -> SchemaMismatchError:
    """The error for columns the dataset lacks. A column that holds only nulls is most likely
    one that the dataset's contract names and the data does not have (the contract adds it)."""
    held = [n for n in extra if table.num_rows and table.column(n).null_count < table.num_rows]
    empty = [n for n in extra if n not in held]

    def names(cols: list[str]) -> str:
        return ("column " if len(cols) == 1 else "columns ") + ", ".join(map(repr, cols))

    parts = []
    if held:
        parts.append(f"the dataset lacks {names(held)}, which the data to write has")
    if empty:
        parts.append(
            f"the dataset lacks {names(empty)}, which the contract in force names"
            " (or which the data to write holds with no values)"
        )
    return SchemaMismatchError(
        "; ".join(parts),
        hint="add the columns to the dataset with schema_mode='merge' (CLI: --schema-mode merge), "
        "or take them out of the contract (or the data)",
    )
