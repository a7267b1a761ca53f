"""Reading the files that `lake write` and `lake upsert` take: parquet, CSV or JSON lines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

import lake
from lake.contracts import Contract

InputFormat = Literal["auto", "parquet", "csv", "json"]
_SUFFIXES = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}


BLOCK_SIZE = 1 << 20  # pyarrow's own default for CSV and JSON
MAX_BLOCK_SIZE = (1 << 31) - 1  # pyarrow keeps block sizes in 32 bits
_STRADDLES = "straddl"  # pyarrow's "straddling object straddles two block boundaries"


STREAM_TEXT_BYTES = 256 * 1024 * 1024  # CSV/JSON files above this are read by blocks, as a stream
PARQUET_BATCH_ROWS = 256 * 1024


def read_input(
    path: Path, fmt: InputFormat = "auto", contract: Contract | None = None
) -> pa.Table | pa.RecordBatchReader:
    """The rows of ``path``: a parquet file as a stream of its row groups' batches (a write holds
    one slice of it at a time). A CSV file for a dataset with a ``contract`` streams too, at any
    size: the contract's columns are read as text (empty and ``NULL``-like values as nulls, as
    pyarrow reads them in a typed column), and the write's cast to the contract types them, so a
    value that does not fit is the contract's type violation (quarantined with ``--quarantine``),
    never a read error. Other CSV and JSON-lines files are read whole (their types inferred from
    the whole file), or, above :data:`STREAM_TEXT_BYTES`, as a stream whose types the first
    block sets."""
    if not path.is_file():
        said = f"{path} is a directory, not a file" if path.is_dir() else f"no such file: {path}"
        raise lake.InvalidInputError(said, hint="pass the path of a parquet, CSV or JSON-lines file")
    kind = fmt if fmt != "auto" else _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise lake.InvalidInputError(
            f"cannot tell the format of {path} from its name", hint="pass --format parquet|csv|json"
        )
    try:
        if kind == "parquet":
            parquet = pq.ParquetFile(path)
            schema = parquet.schema_arrow
            return _named(path, kind, schema, parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS))
        if kind == "csv" and contract is not None:
            return _csv_as_text(path, contract)
        if path.stat().st_size > STREAM_TEXT_BYTES:
            options = {"read_options": pacsv.ReadOptions(block_size=16 * BLOCK_SIZE)}
            if kind == "csv":
                stream = pacsv.open_csv(path, **options)
            else:
                stream = pajson.open_json(path, read_options=pajson.ReadOptions(block_size=16 * BLOCK_SIZE))
            return _named(path, kind, stream.schema, stream)
        table = _read_text(path, kind)
        table.schema.names  # noqa: B018  pyarrow decodes the column names (as UTF-8) only when asked
        return table
    except (pa.ArrowInvalid, OSError) as exc:
        raise lake.InvalidInputError(
            f"cannot read {path} as {kind}: {_one_line(exc)}",
            hint=f"check that the file is {kind}, or pass --format parquet|csv|json",
        ) from exc
    except UnicodeDecodeError as exc:  # pyarrow decodes CSV and JSON text (and its names) as UTF-8
        raise lake.InvalidInputError(
            f"cannot read {path} as {kind}: it is not UTF-8 text (byte {exc.start}: {exc.reason})",
            hint="save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8), or write it as parquet",
        ) from None


def _one_line(exc: Exception) -> str:
    """The client's explanation on one line."""
    return " ".join(str(exc).split())


def _csv_as_text(path: Path, contract: Contract) -> pa.RecordBatchReader:
    """A CSV file by blocks, the contract's columns as text (see :func:`read_input`)."""
    names = list(contract.columns)
    convert = pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()))
    nulls = pa.array(convert.null_values, pa.string())
    schema = contract.arrow_schema()
    typed = {f.name for f in schema if not (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))}
    stream = pacsv.open_csv(
        path, read_options=pacsv.ReadOptions(block_size=16 * BLOCK_SIZE), convert_options=convert
    )

    def nulled(batch: pa.RecordBatch) -> pa.RecordBatch:
        columns = [
            pc.if_else(pc.is_in(column, value_set=nulls), pa.scalar(None, pa.string()), column)
            if name in typed and pa.types.is_string(column.type)
            else column
            for name, column in zip(batch.schema.names, batch.columns, strict=True)
        ]
        return pa.RecordBatch.from_arrays(columns, schema=batch.schema)

    return _named(path, "csv", stream.schema, (nulled(b) for b in stream))


def _named(
    path: Path, kind: str, schema: pa.Schema, batches: Iterator[pa.RecordBatch]
) -> pa.RecordBatchReader:
    """``batches`` as a reader whose failures, found as the write reads on, name the file."""
    schema.names  # noqa: B018  a name that is not UTF-8 fails here, inside read_input's try

    def read() -> Iterator[pa.RecordBatch]:
        try:
            yield from batches
        except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
            raise lake.InvalidInputError(
                f"cannot read {path} as {kind}: {_one_line(exc)}",
                hint="nothing was committed; a large CSV or JSON file is typed by its first block: "
                "write it as parquet, or pass a smaller file",
            ) from exc

    return pa.RecordBatchReader.from_batches(schema, read())


def _read_text(path: Path, kind: str) -> pa.Table:
    """Read CSV or JSON lines in blocks; pyarrow needs each row inside two blocks, so when a row
    is longer, read again with blocks eight times larger (at most the file, or pyarrow's limit)."""
    size = path.stat().st_size
    block = BLOCK_SIZE
    while True:
        try:
            if kind == "csv":
                return pacsv.read_csv(path, read_options=pacsv.ReadOptions(block_size=block))
            return pajson.read_json(path, read_options=pajson.ReadOptions(block_size=block))
        except pa.ArrowInvalid as exc:
            if _STRADDLES not in str(exc):
                raise
            if block >= min(size + 1, MAX_BLOCK_SIZE):
                raise lake.InvalidInputError(
                    f"cannot read {path} as {kind}: a row is too long for the largest block "
                    f"pyarrow reads ({MAX_BLOCK_SIZE} bytes)",
                    hint="write the data as parquet, or split the long values over several rows",
                ) from exc
            block = min(block * 8, size + 1, MAX_BLOCK_SIZE)
