"""How data files are written: a file's string bounds come from the parquet footer its writer
filled in (computing them again cost as much as writing the column), and must be exactly the bounds
computed from the rows; a number or time column with more distinct values than a dictionary page
holds is written plain from the start, and every other column keeps its dictionary."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st
from test_delta_stats import check_add_actions, file_rows, logged_stats, main_table, plain_readers

import lake
from lake.table.layers import column_stats

texts = st.one_of(
    st.none(), st.text(max_size=6), st.text(alphabet="ab\U0001f600", min_size=4096, max_size=4200)
)


def _footer(table: pa.Table, row_group_size: int) -> pq.FileMetaData:
    footer: list[pq.FileMetaData] = []
    pq.write_table(table, pa.BufferOutputStream(), row_group_size=row_group_size, metadata_collector=footer)
    return footer[0]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(texts, min_size=1, max_size=30),
    st.integers(1, 8),
    st.sampled_from([pa.string(), pa.large_string()]),
)
def test_footer_bounds_are_the_computed_bounds(
    values: list[str | None], group: int, kind: pa.DataType
) -> None:
    table = pa.table(
        {
            "nested": pa.array([{"x": v} for v in values]),  # a leaf before: the footer's columns shift
            "s": pa.array(values, kind),
            "n": pa.array(range(len(values)), pa.int64()),
        }
    )
    assert column_stats(table, _footer(table, group)) == column_stats(table)


def test_a_file_s_string_bounds_as_logged(repo: lake.Repository) -> None:
    long = "z" * 5000  # longer than parquet keeps in a footer: the bound is computed instead
    table = pa.table(
        {"id": [1, 2, 3, 4], "s": ["b", None, "\u00fc\U0001f600", ""], "t": ["a", long, None, "b"]}
    )
    repo.branch("main").write("t", table)
    (logged,) = logged_stats(repo, "t")
    for column in ("s", "t"):
        bounds = pc.min_max(table[column]).as_py()
        assert logged["minValues"][column] == bounds["min"]
        assert logged["maxValues"][column] == bounds["max"]
        assert logged["nullCount"][column] == table[column].null_count


def test_columns_past_a_dictionary_page_are_written_plain(repo: lake.Repository) -> None:
    rows = 300_000
    rng = np.random.default_rng(0)
    amount = rng.gamma(2.0, 50.0, rows)
    amount[::1000] = np.nan
    ids = pa.array(np.arange(rows, dtype=np.int64), mask=np.arange(rows) % 7 == 0)
    table = pa.table(
        {
            "id": ids,  # distinct, with nulls
            "amount": pa.array(amount),  # distinct floats, NaN among them
            "at": pa.array(rng.integers(0, 10**15, rows).astype("datetime64[us]")).cast(
                pa.timestamp("us", "UTC")
            ),
            "customer": pa.array(rng.integers(0, 1000, rows, dtype=np.int32)),  # a dictionary holds these
            "few": pa.array(np.arange(rows, dtype=np.int64) % 100_000),  # 800 KB of distinct values: fits
            "currency": pa.array(rng.choice(np.array(["EUR", "USD"]), rows)).cast(pa.string()),
        }
    )
    main = repo.branch("main")
    main.write("t", table)
    (path,) = [a["path"] for a in pa.table(main_table(repo, "t").get_add_actions(flatten=True)).to_pylist()]
    meta = pq.ParquetFile(
        repo.config.arrow_filesystem().open_input_file(
            repo.config.arrow_path(f"{repo.table_uri('t')}/{path}")
        )
    ).metadata
    dictionary = {
        meta.row_group(0).column(i).path_in_schema: "RLE_DICTIONARY" in meta.row_group(0).column(i).encodings
        for i in range(meta.num_columns)
    }
    assert dictionary == {
        "id": False,
        "amount": False,
        "at": False,
        "customer": True,
        "few": True,
        "currency": True,
    }
    assert _same(file_rows(repo, "t", path), table)
    assert _same(repo.read("t").sort_by("at"), table.sort_by("at"))
    assert check_add_actions(repo, "t") == rows
    assert plain_readers(repo, "t") == (rows, rows)


def _same(got: pa.Table, want: pa.Table) -> bool:
    """Equal tables, NaN equal to NaN."""
    floats = [n for n in want.column_names if pa.types.is_floating(want.schema.field(n).type)]
    same_floats = all(np.array_equal(got[n].to_numpy(), want[n].to_numpy(), equal_nan=True) for n in floats)
    return same_floats and got.drop_columns(floats).equals(want.drop_columns(floats))
