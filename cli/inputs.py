"""Reading the files that `lake write` and `lake upsert` take: parquet, CSV or JSON lines."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

import lake

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


def read_input(path: Path, fmt: InputFormat = "auto") -> pa.Table:
    if not path.is_file():
        raise lake.InvalidInputError(f"no such file: {path}")
    kind = fmt if fmt != "auto" else _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise lake.InvalidInputError(
            f"cannot tell the format of {path} from its name", hint="pass --format parquet|csv|json"
        )
    try:
        if kind == "parquet":
            return pq.read_table(path)
        return _read_text(path, kind)
    except (pa.ArrowInvalid, OSError) as exc:
        raise lake.InvalidInputError(f"cannot read {path} as {kind}: {exc}") from exc


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
