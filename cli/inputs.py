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
        if kind == "csv":
            return pacsv.read_csv(path)
        return pajson.read_json(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise lake.InvalidInputError(f"cannot read {path} as {kind}: {exc}") from exc
