"""The per-file statistics lakegate writes into Delta logs (issue 7: "Corruption of main's Delta log").

Every stats JSON in every log must be strict JSON (no ``Infinity``/``NaN``), nested columns must carry
nested stats as the Delta protocol defines them, and delta-rs must read every file's ``numRecords``
back. Where a count is missing (a file some other writer added without stats), the lake must not
count the file as empty.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from conftest import Lake
from deltalake import DeltaTable, QueryBuilder, Schema
from deltalake.transaction import AddAction, create_table_with_add_actions

import lake
from lake.graph.commits import Layer
from lake.storage import open_store
from lake.table.deltalog import rows_of as log_rows_of
from lake.table.layers import Layers

# -- helpers -------------------------------------------------------------------------------------


def _strict(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def _log_files(repo: lake.Repository, dataset: str) -> Iterator[tuple[str, str]]:
    """(path, text) of every JSON commit file of every Delta table below the dataset's root."""
    fs = repo.config.arrow_filesystem()
    root = repo.config.arrow_path(repo.table_uri(dataset))
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True))
    for info in infos:
        if info.type == pafs.FileType.File and re.search(r"/_delta_log/\d{20}\.json$", info.path):
            with fs.open_input_stream(info.path) as f:
                yield info.path, f.read().decode()


def logged_stats(repo: lake.Repository, dataset: str) -> list[dict[str, Any]]:
    """The stats of every add action in every log below the dataset, parsed as strict JSON."""
    out = []
    for path, text in _log_files(repo, dataset):
        for line in text.splitlines():
            if not line.strip():
                continue
            entry = _strict(line)  # the whole action must be strict JSON
            add = entry.get("add")
            if add is not None and add.get("stats"):
                try:
                    out.append(_strict(add["stats"]))
                except ValueError as exc:
                    raise AssertionError(f"{path}: stats are not strict JSON: {add['stats']}") from exc
    return out


def main_table(repo: lake.Repository, dataset: str) -> DeltaTable:
    return DeltaTable(repo.table_uri(dataset), storage_options=repo.config.delta_options())


def sql_count(repo: lake.Repository, dataset: str, where: str = "") -> int:
    qb = QueryBuilder().register("t", main_table(repo, dataset))
    batch = qb.execute(f"SELECT COUNT(*) AS n FROM t {where}").read_all()
    return int(pa.table(batch).column("n")[0].as_py())


def file_rows(repo: lake.Repository, dataset: str, rel: str) -> pa.Table:
    path = repo.config.arrow_path(f"{repo.table_uri(dataset)}/{rel}")
    return pq.read_table(path, filesystem=repo.config.arrow_filesystem())


def check_add_actions(repo: lake.Repository, dataset: str) -> int:
    """Every file of main's table: delta-rs reads its row count, and it is the file's row count;
    every min/max delta-rs reads is a true bound of the file's values. Returns the total."""
    actions = pa.table(main_table(repo, dataset).get_add_actions(flatten=True)).to_pylist()
    total = 0
    for action in actions:
        data = file_rows(repo, dataset, action["path"])
        assert action["num_records"] == data.num_rows, action
        total += data.num_rows
        for name, bound in action.items():
            kind, _, column = name.partition(".")
            if kind not in ("min", "max") or bound is None:
                continue
            values = _leaf(data, column.split("."))
            values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
            assert values, f"{name}={bound!r} for a column without values"
            if kind == "min":
                assert bound <= min(values), f"{name}={bound!r} above the file's min {min(values)!r}"
            else:
                assert bound >= max(values), f"{name}={bound!r} below the file's max {max(values)!r}"
    return total


def _leaf(table: pa.Table, path: list[str]) -> list[Any]:
    values: list[Any] = table.column(path[0]).to_pylist()
    for part in path[1:]:
        values = [None if v is None else v.get(part) for v in values]
    return values


def plain_readers(repo: lake.Repository, dataset: str) -> tuple[int, int]:
    """Rows of main's table as deltalake's pyarrow dataset and polars read it."""
    dataset_rows = main_table(repo, dataset).to_pyarrow_dataset().to_table(use_threads=False).num_rows
    frame = pl.read_delta(repo.table_uri(dataset), storage_options=repo.config.polars_options())
    return dataset_rows, frame.height


def rows_of(repo: lake.Repository, dataset: str, ref: str = "main") -> int:
    return next(d.rows for d in repo.datasets(ref) if d.name == dataset)


# -- issue 7.1: inf and NaN in float columns -----------------------------------------------------


def test_inf_in_a_float_column_as_the_issue_reports_it(cli: Lake, repo_uri: str, tmp_path: Path) -> None:
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(pa.table({"id": [1, 2], "v": [0.5, 2.0]}), a)
    pq.write_table(pa.table({"id": [7, 8], "v": [math.inf, 1.0]}), b)
    cli("write", "t", str(a))
    cli("write", "t", str(b))
    repo = lake.Repository.open(repo_uri)
    stats = logged_stats(repo, "t")
    assert sorted(s["numRecords"] for s in stats) == [2, 2]
    assert all("v" not in s["maxValues"] for s in stats if s["minValues"].get("id") == 7)
    assert check_add_actions(repo, "t") == 4
    assert sql_count(repo, "t") == 4
    assert sql_count(repo, "t", "WHERE v > 1.5") == 2
    [ds] = cli.json("datasets")
    assert ds["rows"] == 4
    cli("delete", "t", "--where", "id > 0")
    [ds] = cli.json("datasets")
    assert ds["rows"] == 0
    assert repo.read("t").num_rows == 0
    assert sql_count(repo, "t") == 0
    assert plain_readers(repo, "t") == (0, 0)


@pytest.mark.parametrize(
    ("values", "has_min", "has_max"),
    [
        ([math.inf, 1.0], True, False),
        ([-math.inf, 1.0], False, True),
        ([-math.inf, math.inf], False, False),
        ([math.nan, 1.0], False, False),
        ([math.nan, math.nan], False, False),
        ([math.inf, None], False, False),
        ([1.0, None], True, True),
    ],
    ids=["inf", "-inf", "both-inf", "nan", "all-nan", "inf-and-null", "finite"],
)
def test_non_finite_floats_leave_their_bounds_out(
    repo: lake.Repository, values: list[float | None], has_min: bool, has_max: bool
) -> None:
    main = repo.branch("main")
    main.write("t", pa.table({"id": [1, 2], "v": pa.array([0.5, 2.0], pa.float64())}))
    main.write("t", pa.table({"id": [7, 8], "v": pa.array(values, pa.float64())}))
    [_, second] = sorted(logged_stats(repo, "t"), key=lambda s: s["minValues"]["id"])
    assert second["numRecords"] == 2
    assert ("v" in second["minValues"], "v" in second["maxValues"]) == (has_min, has_max)
    assert second["nullCount"]["v"] == sum(v is None for v in values)
    assert check_add_actions(repo, "t") == 4
    assert sql_count(repo, "t") == 4
    # Data skipping must not drop the file holding inf / NaN.
    big = sum(v is not None and (math.isnan(v) or v > 1.5) for v in [0.5, 2.0, *values])
    assert sql_count(repo, "t", "WHERE v > 1.5 OR isnan(v)") == big
    assert rows_of(repo, "t") == 4
    main.delete("t", where="id > 0")
    assert rows_of(repo, "t") == 0
    assert repo.read("t").num_rows == 0 and sql_count(repo, "t") == 0


def test_float32_and_a_branch_merge_keep_the_stats_strict(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("t", pa.table({"id": [1, 2], "v": pa.array([0.1, 2.5], pa.float32())}))
    repo.create_branch("b")
    repo.branch("b").write("t", pa.table({"id": [3, 4], "v": pa.array([-math.inf, math.nan], pa.float32())}))
    merged = repo.merge("b")
    assert merged.datasets["t"].rows_added == 2
    assert rows_of(repo, "t") == 4
    logged_stats(repo, "t")
    assert check_add_actions(repo, "t") == 4
    assert sql_count(repo, "t") == 4


# -- issue 7.2: struct columns -------------------------------------------------------------------


NESTED = [
    {"id": 1, "meta": {"a": 1, "b": {"c": [1, 2]}}},
    {"id": 2, "meta": {"a": None, "b": {"c": []}}},
    {"id": 3, "meta": {"a": 3, "b": {"c": None}}},
    {"id": 4, "meta": {"a": 4, "b": None}},
    {"id": 5, "meta": None},
]


def test_nested_merge_as_the_issue_reports_it(cli: Lake, repo_uri: str, tmp_path: Path) -> None:
    nested = tmp_path / "nested.jsonl"
    nested.write_text("".join(json.dumps(r) + "\n" for r in NESTED))
    cli("write", "nested", str(nested))
    cli("branch", "create", "b")
    cli("write", "nested", str(nested), "--branch", "b")
    merged = cli.json("merge", "b", "--into", "main")
    assert merged["datasets"]["nested"]["rows_added"] == 5
    [ds] = cli.json("datasets")
    assert ds["rows"] == 10
    repo = lake.Repository.open(repo_uri)
    assert repo.read("nested").num_rows == 10
    assert sql_count(repo, "nested") == 10
    assert check_add_actions(repo, "nested") == 10
    assert plain_readers(repo, "nested") == (10, 10)
    for stats in logged_stats(repo, "nested"):
        assert stats["numRecords"] == 5
        assert stats["nullCount"]["meta"] == {"a": 2, "b": {"c": 3}}
        assert stats["minValues"]["meta"] == {"a": 1} and stats["maxValues"]["meta"] == {"a": 4}
    # Data skipping on a nested field keeps the right files.
    assert sql_count(repo, "nested", "WHERE meta.a = 4") == 2
    assert sql_count(repo, "nested", "WHERE meta.a IS NULL") == 4


def test_nested_merge_through_the_api(repo: lake.Repository) -> None:
    table = pa.Table.from_pylist(NESTED)
    repo.branch("main").write("nested", table)
    repo.create_branch("b")
    repo.branch("b").write("nested", table)
    assert repo.merge("b").datasets["nested"].rows_added == 5
    assert rows_of(repo, "nested") == 10
    assert sql_count(repo, "nested") == 10
    repo.branch("main").delete("nested", where="id = 1")
    assert rows_of(repo, "nested") == 8 == repo.read("nested").num_rows == sql_count(repo, "nested")
    assert check_add_actions(repo, "nested") == 8


# -- round trip of every kind of column -----------------------------------------------------------


def _ts(*args: int) -> dt.datetime:
    return dt.datetime(*args)  # type: ignore[arg-type]


CASES: dict[str, pa.Array] = {
    "list": pa.array([[1, 2], None, [], [None, 5]], pa.list_(pa.int64())),
    "list_of_structs": pa.array(
        [[{"x": 1}], None, [{"x": None}], []], pa.list_(pa.struct([("x", pa.int64())]))
    ),
    "map": pa.array([[("k", 1)], None, [], [("z", None)]], pa.map_(pa.string(), pa.int64())),
    "struct": pa.array(
        [
            {"a": 1, "s": "x", "inner": {"f": 1.5, "d": dt.date(2020, 1, 1)}},
            None,
            {"a": None, "s": "y", "inner": None},
            {"a": -4, "s": None, "inner": {"f": math.inf, "d": None}},
        ],
        pa.struct(
            [
                ("a", pa.int64()),
                ("s", pa.string()),
                ("inner", pa.struct([("f", pa.float64()), ("d", pa.date32())])),
            ]
        ),
    ),
    "decimal": pa.array([Decimal("1.25"), None, Decimal("-3.50"), Decimal("0.10")], pa.decimal128(10, 2)),
    "wide_decimal": pa.array(
        [
            Decimal("1234567890123456789.0123456789"),
            Decimal("0.0000000001"),
            None,
            Decimal("-9999999999999999999999999999.9999999999"),
        ],
        pa.decimal128(38, 10),
    ),
    "date": pa.array([dt.date(2026, 1, 1), None, dt.date(1969, 12, 31), dt.date(1, 1, 1)], pa.date32()),
    "binary": pa.array([b"a", None, b"\x00\xff", b""], pa.binary()),
    "timestamp_utc": pa.array(
        [_ts(2026, 1, 1, 12, 0, 0, 123456), None, _ts(1960, 5, 5, 0, 0, 0, 999), _ts(2020, 1, 1)],
        pa.timestamp("us", tz="UTC"),
    ),
    "timestamp_zoned": pa.array(
        [_ts(2026, 1, 1, 12, 0, 0, 123456), None, _ts(1969, 12, 31, 23, 59, 59, 999999), _ts(2020, 1, 1)],
        pa.timestamp("us", tz="Europe/Paris"),
    ),
    "timestamp_ms": pa.array(
        [_ts(2026, 1, 1, 12, 0, 0, 123000), None, _ts(2020, 1, 1), _ts(2021, 1, 1)],
        pa.timestamp("ms", tz="UTC"),
    ),
    "timestamp_ntz": pa.array(
        [_ts(2026, 1, 1, 12, 0, 0, 123456), None, _ts(1900, 1, 1, 0, 0, 0, 1), _ts(2020, 1, 1)],
        pa.timestamp("us"),
    ),
    "string": pa.array(["b", None, "", "ü\U0001f600"], pa.large_string()),
    "boolean": pa.array([True, None, False, True], pa.bool_()),
    "all_null": pa.array([None, None, None, None], pa.int32()),
}


@pytest.mark.parametrize("kind", CASES)  # a zone other than UTC is stored as UTC, instants kept
def test_stats_round_trip(repo: lake.Repository, kind: str) -> None:
    column = CASES[kind]
    table = pa.table({"id": pa.array([1, 2, 3, 4], pa.int64()), "c": column})
    main = repo.branch("main")
    main.write("t", table)
    repo.create_branch("b")
    repo.branch("b").write("t", table)
    assert repo.merge("b").datasets["t"].rows_added == 4
    main.write("t", table.slice(0, 2))

    stats = logged_stats(repo, "t")
    assert stats and sorted({s["numRecords"] for s in stats}) == [2, 4]
    for s in stats:
        assert set(s) <= {"numRecords", "minValues", "maxValues", "nullCount", "tightBounds"}
        if s["numRecords"] == 4:
            assert s["minValues"]["id"] == 1 and s["maxValues"]["id"] == 4
            if not pa.types.is_struct(column.type):
                assert s["nullCount"]["c"] == column.null_count
    assert check_add_actions(repo, "t") == 10
    assert rows_of(repo, "t") == 10
    assert repo.read("t").num_rows == 10
    assert sql_count(repo, "t") == 10
    nulls = 2 * column.null_count + column.slice(0, 2).null_count
    assert sql_count(repo, "t", "WHERE c IS NULL") == nulls
    assert plain_readers(repo, "t") == (10, 10)
    main.delete("t", where="id = 1")
    assert rows_of(repo, "t") == 7 == sql_count(repo, "t")
    assert check_add_actions(repo, "t") == 7


def test_timestamp_bounds_hold_sub_millisecond_values(repo: lake.Repository) -> None:
    """Delta keeps timestamp stats in milliseconds: the max is rounded up, the min down."""
    ts = pa.array([_ts(2026, 1, 1, 12, 0, 0, 123456), _ts(2026, 1, 1, 12, 0, 0, 123001)], pa.timestamp("us"))
    zoned = pa.array(ts.to_pylist(), pa.timestamp("us", tz="UTC"))
    repo.branch("main").write("t", pa.table({"ntz": ts, "tz": zoned}))
    [s] = logged_stats(repo, "t")
    assert s["minValues"] == {"ntz": "2026-01-01T12:00:00.123", "tz": "2026-01-01T12:00:00.123Z"}
    assert s["maxValues"] == {"ntz": "2026-01-01T12:00:00.124", "tz": "2026-01-01T12:00:00.124Z"}
    check_add_actions(repo, "t")
    assert sql_count(repo, "t", "WHERE ntz > TIMESTAMP '2026-01-01 12:00:00.123400'") == 1
    assert sql_count(repo, "t", "WHERE tz = TIMESTAMP '2026-01-01T12:00:00.123456Z'") == 1


# -- files other writers added without stats ------------------------------------------------------


def test_a_file_without_stats_is_not_counted_as_empty(repo: lake.Repository) -> None:
    """A foreign writer's file without stats: the lake reads its count from the parquet footer."""
    main = repo.branch("main")
    main.write("t", pa.table({"id": [1, 2, 3]}))
    [name] = [a["path"] for a in pa.table(main_table(repo, "t").get_add_actions()).to_pylist()]

    # A copy of the same file, added to a fresh table with no stats at all.
    fs = repo.config.arrow_filesystem()
    with fs.open_input_file(repo.config.arrow_path(f"{repo.table_uri('t')}/{name}")) as f:
        body = f.readall()
    fresh = "t2"
    fresh_root = repo.config.arrow_path(repo.table_uri(fresh))
    fs.create_dir(fresh_root, recursive=True)
    with fs.open_output_stream(f"{fresh_root}/part-foreign-c000.snappy.parquet") as out:
        out.write(body)
    no_stats: Any = None
    create_table_with_add_actions(
        repo.table_uri(fresh),
        Schema.from_arrow(pa.schema([("id", pa.int64())])),
        [
            AddAction(
                "part-foreign-c000.snappy.parquet", len(body), {}, int(time.time() * 1000), True, no_stats
            )
        ],
        mode="error",
        storage_options=repo.config.delta_options(),
    )
    [action] = pa.table(main_table(repo, fresh).get_add_actions(flatten=True)).to_pylist()
    assert action["num_records"] is None  # what a stats-less file looks like to delta-rs

    # The lake reading that layer counts the file's rows from its footer, not as zero.
    files = Layers(repo.config, open_store(repo.config)).files(fresh, Layer("", 0))
    assert [f.rows for f in files.values()] == [3]
    assert all(_strict(f.stats)["numRecords"] == 3 for f in files.values())


def test_rows_of_a_log_entry_without_a_count_is_unknown() -> None:
    assert log_rows_of({"path": "x", "stats": json.dumps({"numRecords": 4})}) == 4
    assert log_rows_of({"path": "x"}) is None
    assert log_rows_of({"path": "x", "stats": None}) is None
    assert log_rows_of({"path": "x", "stats": json.dumps({"minValues": {}})}) is None
    assert log_rows_of({"path": "x", "stats": "{not json"}) is None
