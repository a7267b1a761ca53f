"""The type names a contract may use: Arrow's, Delta's and the warehouses' spellings, nested types,
decimals and times, each written and read back losslessly on both backends."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pytest

import lake
from lake.contracts import Contract
from lake.contracts.types import parse_type, type_name


@pytest.mark.parametrize(
    ("name", "arrow"),
    [
        ("int64", pa.int64()),
        ("long", pa.int64()),
        ("BIGINT", pa.int64()),
        ("decimal(10, 2)", pa.decimal128(10, 2)),
        ("DECIMAL(38,9)", pa.decimal128(38, 9)),
        ("decimal128(5, 1)", pa.decimal128(5, 1)),
        ("NUMERIC", pa.decimal128(10, 0)),
        ("BIGNUMERIC", pa.decimal256(76, 38)),
        ("time", pa.time64("us")),
        ("time64[us]", pa.time64("us")),
        ("timestamp", pa.timestamp("us", "UTC")),
        ("timestamp_ntz", pa.timestamp("us")),
        ("timestamp[us, UTC]", pa.timestamp("us", "UTC")),
        ("VARCHAR(20)", pa.string()),
        ("array<string>", pa.list_(pa.string())),
        ("list<int64>", pa.list_(pa.int64())),
        ("map<string, int64>", pa.map_(pa.string(), pa.int64())),
        (
            "struct<a: int64, b: list<string>>",
            pa.struct([("a", pa.int64()), ("b", pa.list_(pa.string()))]),
        ),
        ("STRUCT<a BIGINT, b ARRAY<STRING>>", pa.struct([("a", pa.int64()), ("b", pa.list_(pa.string()))])),
    ],
)
def test_type_names_parse_and_round_trip(name: str, arrow: pa.DataType) -> None:
    parsed = parse_type(name)
    assert parsed.equals(arrow)
    assert parse_type(type_name(parsed)).equals(arrow)


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("decimal(80, 2)", "precision"),
        ("struct<a: int64 not null>", "nullable"),
        ("no_such_type", "type"),
    ],
)
def test_bad_type_names_say_what_is_wrong(name: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        parse_type(name)


def test_decimal_time_and_nested_columns_write_and_read_back(repo: lake.Repository) -> None:
    contract = Contract.model_validate(
        {
            "dataset": "t",
            "columns": {
                "price": {"type": "decimal(10, 2)", "nullable": False},
                "at": {"type": "time"},
                "item": {"type": "struct<sku: string, qty: int64>"},
                "tags": {"type": "array<string>"},
            },
        }
    )
    main = repo.branch("main")
    main.set_contract("t", contract)
    rows = pa.table(
        {
            "price": pa.array([decimal.Decimal("12.34"), decimal.Decimal("0.01")], pa.decimal128(10, 2)),
            "at": pa.array([dt.time(9, 30, 0, 123456), None], pa.time64("us")),
            "item": pa.array(
                [{"sku": "a", "qty": 1}, None], pa.struct([("sku", pa.string()), ("qty", pa.int64())])
            ),
            "tags": pa.array([["x", "y"], []], pa.list_(pa.string())),
        }
    )
    main.write("t", rows)
    back = repo.read("t")
    assert back.column("price").to_pylist() == [decimal.Decimal("12.34"), decimal.Decimal("0.01")]
    assert back.column("item").to_pylist() == [{"sku": "a", "qty": 1}, None]
    assert back.column("tags").to_pylist() == [["x", "y"], []]
    # Delta has no time of day: it is stored as microseconds since midnight
    assert back.column("at").to_pylist()[0] in (dt.time(9, 30, 0, 123456), 34200123456)
    assert repo.check_contract("t").ok
