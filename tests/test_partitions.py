"""Partitioned datasets (issue 12, part 2), on both backends: files under Hive-style folders with
Delta ``partitionValues``, so that plain Delta readers see a partitioned table; reads, deletes,
replace_where and upserts that read only the partitions they must; merges of branches that
rewrote different partitions at file level.

Proof that a file was not read, without looking inside: it is moved out of storage, and the
operation still succeeds (it is put back before the rows are compared)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from conftest import Lake
from deltalake import DeltaTable, write_deltalake

import lake
from lake.contracts import Contract
from lake.errors import ContractError, InvalidInputError, SchemaMismatchError

DAYS = [dt.date(2026, 11, d) for d in (1, 2, 3)]


def day_rows(day: dt.date, n: int = 50, start: int | None = None) -> pa.Table:
    first = (day.day * 1000) if start is None else start
    ids = list(range(first, first + n))
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "day": pa.array([day] * n, pa.date32()),
            "region": ["eu" if i % 2 else "us" for i in ids],
            "amount": [float(i) for i in ids],
        }
    )


def three_days(repo: lake.Repository, partition_by: list[str] | None = None) -> lake.Branch:
    main = repo.branch("main")
    main.write("sales", day_rows(DAYS[0]), partition_by=partition_by or ["day"])
    for day in DAYS[1:]:
        main.write("sales", day_rows(day))
    return main


def sales_contract(extra: str = "") -> Contract:
    """The contract of ``sales``, partitioned by day; ``extra``: more top-level keys."""
    return Contract.from_text(
        f"dataset: sales\npartition_by: [day]\n{extra}columns:\n  id: {{type: int64}}\n"
        "  day: {type: date}\n  region: {type: string}\n  amount: {type: float64}\n"
    )


def sorted_rows(table: pa.Table) -> list[dict[str, object]]:
    return sorted(table.to_pylist(), key=lambda r: (str(r["day"]), r["id"]))


def plain(repo: lake.Repository, dataset: str = "sales") -> pa.Table:
    """main's rows as a plain Delta reader (delta-rs, no lake code) sees them."""
    table = DeltaTable(repo.table_uri(dataset), storage_options=repo.config.delta_options())
    return table.to_pyarrow_dataset().to_table(use_threads=False)  # a threaded scan aborts at exit


def log_actions(repo: lake.Repository, dataset: str = "sales") -> list[dict[str, object]]:
    """Every add action of main's Delta log, in order."""
    fs = repo.config.arrow_filesystem()
    log = repo.config.arrow_path(repo.config.join(f"{dataset}/_delta_log"))
    out = []
    for info in sorted(fs.get_file_info(pa.fs.FileSelector(log)), key=lambda i: i.path):
        if info.path.endswith(".json"):
            with fs.open_input_stream(info.path) as f:
                for line in f.read().decode().splitlines():
                    if "add" in json.loads(line):
                        out.append(json.loads(line)["add"])
    return out


@contextlib.contextmanager
def hidden(repo: lake.Repository, dataset: str, keep: Callable[[str], bool]) -> Iterator[list[str]]:
    """Move the data files of ``dataset`` that ``keep`` does not keep out of storage (and back)."""
    fs = repo.config.arrow_filesystem()
    root = repo.config.arrow_path(repo.config.join(dataset))
    aside = repo.config.arrow_path(repo.config.join("_aside"))
    files = [
        i.path
        for i in fs.get_file_info(pa.fs.FileSelector(root, recursive=True))
        if i.path.endswith(".parquet")
    ]
    moved = [p for p in files if not keep(p[len(root) + 1 :])]
    for p in moved:
        target = aside + "/" + p[len(root) + 1 :]
        fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
        fs.move(p, target)
    try:
        yield moved
    finally:
        for p in moved:
            fs.move(aside + "/" + p[len(root) + 1 :], p)


# -- layout -----------------------------------------------------------------------------------------
def test_a_partitioned_dataset_is_a_partitioned_delta_table_for_plain_readers(repo: lake.Repository) -> None:
    main = three_days(repo, ["day", "region"])
    dt_ = DeltaTable(repo.table_uri("sales"), storage_options=repo.config.delta_options())
    assert dt_.metadata().partition_columns == ["day", "region"]
    adds = log_actions(repo)
    assert adds and all(set(a["partitionValues"]) == {"day", "region"} for a in adds)  # type: ignore[arg-type]
    assert all(str(a["path"]).startswith(f"day={a['partitionValues']['day']}/region=") for a in adds)  # type: ignore[index]
    # the files do not hold the partition columns, as the protocol has it
    stats = [json.loads(str(a["stats"])) for a in adds]
    assert all("day" not in s["minValues"] and "id" in s["minValues"] for s in stats)
    assert len(adds) == 6  # 3 days x 2 regions
    want = sorted_rows(pa.concat_tables([day_rows(d) for d in DAYS]))
    assert sorted_rows(repo.read("sales")) == want
    assert sorted_rows(plain(repo)) == want
    frame = pl.read_delta(repo.table_uri("sales"), storage_options=repo.config.polars_options())
    assert sorted_rows(frame.to_arrow().cast(plain(repo).schema)) == want
    assert main.name == "main"


def test_partition_values_that_need_escaping_and_nulls_round_trip(repo: lake.Repository) -> None:
    odd = pa.table(
        {
            "id": pa.array([1, 2, 3, 4], pa.int64()),
            "city": ["New York", "a/b", "x=y%z", None],
            "flag": pa.array([True, False, None, True]),
        }
    )
    repo.branch("main").write("odd", odd, partition_by=["city", "flag"])
    assert sorted(repo.read("odd").to_pylist(), key=lambda r: r["id"]) == odd.to_pylist()
    assert sorted(plain(repo, "odd").to_pylist(), key=lambda r: r["id"]) == odd.to_pylist()
    repo.branch("main").delete("odd", "city = 'a/b'")
    assert sorted(plain(repo, "odd")["id"].to_pylist()) == [1, 3, 4]
    assert sorted(repo.read("odd", where="city IS NULL")["id"].to_pylist()) == [4]


def test_a_contract_partitions_the_dataset_on_its_first_write(repo: lake.Repository) -> None:
    contract = sales_contract()
    main = repo.branch("main")
    main.set_contract("sales", contract)
    main.write("sales", day_rows(DAYS[0]))
    assert repo.branch("main").write("sales", day_rows(DAYS[1])).datasets["sales"].files_added == 1
    assert DeltaTable(
        repo.table_uri("sales"), storage_options=repo.config.delta_options()
    ).metadata().partition_columns == ["day"]
    with pytest.raises(InvalidInputError, match="partitions it by"):
        main.write("sales", day_rows(DAYS[2]), partition_by=["region"])


@pytest.mark.parametrize(
    ("yaml_tail", "message"),
    [
        ("partition_by: [nope]\n", "partition column 'nope' is not among the columns"),
        ("partition_by: [amount]\n", "partition column 'amount' is float64"),
        ("partition_by: [day, day]\n", "named twice"),
    ],
)
def test_a_contract_with_bad_partition_columns_is_refused_at_its_line(yaml_tail: str, message: str) -> None:
    text = "dataset: sales\ncolumns:\n  day: {type: date}\n  amount: {type: float64}\n" + yaml_tail
    with pytest.raises(ContractError, match=message) as err:
        Contract.from_text(text)
    assert "line 5" in str(err.value) or ":5" in str(err.value)


def test_bad_partition_columns_are_refused_before_anything_is_written(repo: lake.Repository) -> None:
    main = repo.branch("main")
    with pytest.raises(SchemaMismatchError, match="'amount' is double"):
        main.write("sales", day_rows(DAYS[0]), partition_by=["amount"])
    with pytest.raises(SchemaMismatchError, match="does not have"):
        main.write("sales", day_rows(DAYS[0]), partition_by=["nope"])
    with pytest.raises(InvalidInputError, match="every column"):
        main.write("one", pa.table({"day": pa.array(DAYS, pa.date32())}), partition_by="day")
    assert "sales" not in [d.name for d in repo.datasets()]


def test_another_partitioning_is_refused_unless_the_dataset_is_rewritten(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("sales", day_rows(DAYS[0]))
    with pytest.raises(InvalidInputError, match="is not partitioned") as err:
        main.write("sales", day_rows(DAYS[1]), partition_by=["day"])
    assert "schema_mode='overwrite'" in (err.value.hint or "")
    everything = pa.concat_tables([day_rows(d) for d in DAYS])
    main.write("sales", everything, mode="overwrite", schema_mode="overwrite", partition_by=["day"])
    assert DeltaTable(
        repo.table_uri("sales"), storage_options=repo.config.delta_options()
    ).metadata().partition_columns == ["day"]
    assert sorted_rows(plain(repo)) == sorted_rows(everything)
    assert sorted_rows(repo.read("sales")) == sorted_rows(everything)


# -- reading only what is needed -----------------------------------------------------------------
def test_a_read_with_a_predicate_on_the_partition_reads_only_its_files(repo: lake.Repository) -> None:
    three_days(repo)
    with hidden(repo, "sales", keep=lambda p: "day=2026-11-02" in p):
        got = repo.read("sales", where="day = '2026-11-02' AND amount >= 2010")
        scanned = repo.scan("sales", where="day BETWEEN '2026-11-02' AND '2026-11-02'").collect()
        by_function = repo.read("sales", where="day - INTERVAL '1 day' = DATE '2026-11-01'")
    assert sorted(got["id"].to_pylist()) == list(range(2010, 2050))
    assert scanned.height == 50
    assert by_function.num_rows == 50  # any SQL polars runs prunes partitions, exactly


def test_a_delete_of_whole_partitions_reads_no_file(repo: lake.Repository) -> None:
    main = three_days(repo)
    with hidden(repo, "sales", keep=lambda p: False) as moved:
        result = main.delete("sales", "day IN ('2026-11-01', '2026-11-03')")
    assert len(moved) == 3
    assert result.datasets["sales"].rows_removed == 100
    assert result.datasets["sales"].files_added == 0
    assert sorted(repo.read("sales")["day"].to_pylist()) == [DAYS[1]] * 50
    assert plain(repo).num_rows == 50


def test_a_delete_inside_one_partition_reads_only_that_partition(repo: lake.Repository) -> None:
    main = three_days(repo)
    with hidden(repo, "sales", keep=lambda p: "day=2026-11-03" in p):
        result = main.delete("sales", "day = '2026-11-03' AND region = 'eu'")
    assert result.datasets["sales"].rows_removed == 25
    assert repo.read("sales").num_rows == 125


def test_replace_where_replaces_one_partition_without_reading_the_others(repo: lake.Repository) -> None:
    main = three_days(repo)
    fresh = day_rows(DAYS[1], n=10, start=9000)
    with hidden(repo, "sales", keep=lambda p: False):
        result = main.write("sales", fresh, mode="overwrite", replace_where="day = '2026-11-02'")
    assert result.datasets["sales"].rows_removed == 50
    assert result.datasets["sales"].rows_added == 10
    want = sorted_rows(pa.concat_tables([day_rows(DAYS[0]), fresh, day_rows(DAYS[2])]))
    assert sorted_rows(repo.read("sales")) == want
    assert sorted_rows(plain(repo)) == want
    with pytest.raises(InvalidInputError, match="outside replace_where"):
        main.write(
            "sales", day_rows(DAYS[0], n=1, start=1), mode="overwrite", replace_where="day = '2026-11-02'"
        )


def test_an_upsert_keyed_by_the_partition_reads_only_the_partitions_of_its_keys(
    repo: lake.Repository,
) -> None:
    main = three_days(repo)
    change = day_rows(DAYS[2], n=3, start=3000).set_column(3, "amount", pa.array([-1.0] * 3))
    with hidden(repo, "sales", keep=lambda p: "day=2026-11-03" in p):
        result = main.upsert("sales", change, key=["day", "id"])
    assert result.datasets["sales"].rows_removed == 3
    got = {r["id"]: r["amount"] for r in repo.read("sales", where="day = '2026-11-03'").to_pylist()}
    assert [got[i] for i in (3000, 3001, 3002, 3003)] == [-1.0, -1.0, -1.0, 3003.0]
    assert repo.read("sales").num_rows == 150


def test_optimize_compacts_each_partition_on_its_own(repo: lake.Repository) -> None:
    main = repo.branch("main")
    for i in range(3):
        main.write(
            "sales",
            pa.concat_tables([day_rows(d, n=5, start=100 * i + d.day) for d in DAYS[:2]]),
            partition_by=["day"] if i == 0 else None,
        )
    before = sorted_rows(repo.read("sales"))
    repo.optimize("sales")
    assert sorted_rows(repo.read("sales")) == before
    dt_ = DeltaTable(repo.table_uri("sales"), storage_options=repo.config.delta_options())
    days = pa.table(dt_.get_add_actions(flatten=True))["partition.day"].to_pylist()
    assert sorted(days) == DAYS[:2]  # one file per partition, never a file of two
    assert sorted_rows(plain(repo)) == before


# -- branches and merges ----------------------------------------------------------------------------
def test_a_branch_of_a_partitioned_dataset_reads_and_writes_by_partition(repo: lake.Repository) -> None:
    three_days(repo)
    dev = repo.create_branch("dev", "main")
    dev.write("sales", day_rows(dt.date(2026, 11, 4)))
    dev.delete("sales", "day = '2026-11-01'")
    assert sorted({d.day for d in repo.read("sales", "dev")["day"].to_pylist()}) == [2, 3, 4]
    assert sorted({d.day for d in repo.read("sales", "main")["day"].to_pylist()}) == [1, 2, 3]
    repo.merge("dev", into="main")
    assert sorted({d.day for d in plain(repo)["day"].to_pylist()}) == [2, 3, 4]
    assert sorted_rows(plain(repo)) == sorted_rows(repo.read("sales"))


def test_branches_that_rewrote_different_partitions_merge_at_file_level(repo: lake.Repository) -> None:
    three_days(repo)
    a, b = repo.create_branch("a", "main"), repo.create_branch("b", "main")
    new_1, new_3 = day_rows(DAYS[0], n=5, start=7000), day_rows(DAYS[2], n=7, start=8000)
    a.write("sales", new_1, mode="overwrite", replace_where="day = '2026-11-01'")
    b.write("sales", new_3, mode="overwrite", replace_where="day = '2026-11-03'")
    repo.merge("a", into="main")
    with hidden(repo, "sales", keep=lambda p: False):
        merged = repo.merge("b", into="main")  # both changed the dataset: a three-way merge
    assert merged.commit
    want = sorted_rows(pa.concat_tables([new_1, day_rows(DAYS[1]), new_3]))
    assert sorted_rows(repo.read("sales")) == want
    assert sorted_rows(plain(repo)) == want


# -- other engines ----------------------------------------------------------------------------------
def test_a_foreign_append_to_a_partitioned_main_is_adopted(repo: lake.Repository) -> None:
    three_days(repo)
    extra = day_rows(dt.date(2026, 11, 4), n=4)
    write_deltalake(
        repo.table_uri("sales"),
        extra,
        mode="append",
        partition_by=["day"],
        storage_options=repo.config.delta_options(),
    )
    repo.branch("main").write("sales", day_rows(dt.date(2026, 11, 5), n=2))
    assert repo.read("sales").num_rows == 156
    assert repo.read("sales", where="day = '2026-11-04'").num_rows == 4
    assert sorted_rows(plain(repo)) == sorted_rows(repo.read("sales"))


# -- the CLI -------------------------------------------------------------------------------------
def test_the_cli_writes_a_partitioned_dataset(cli: Lake, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    path = f"{tmp_path}/sales.parquet"
    pq.write_table(pa.concat_tables([day_rows(d) for d in DAYS]), path)
    cli("write", "sales", path, "--partition-by", "day,region", "--json")
    repo = lake.Repository.open(cli.uri)
    assert DeltaTable(
        repo.table_uri("sales"), storage_options=repo.config.delta_options()
    ).metadata().partition_columns == ["day", "region"]
    out = cli("write", "sales", path, "--partition-by", "region", code=2)
    assert "partition_by" in out


def test_a_branch_that_partitions_a_dataset_anew_merges_into_main(repo: lake.Repository) -> None:
    main = repo.branch("main")
    everything = pa.concat_tables([day_rows(d) for d in DAYS])
    main.write("sales", everything)
    dev = repo.create_branch("dev", "main")
    dev.write("sales", everything, mode="overwrite", schema_mode="overwrite", partition_by=["day"])
    assert (
        DeltaTable(repo.table_uri("sales"), storage_options=repo.config.delta_options())
        .metadata()
        .partition_columns
        == []
    )
    repo.merge("dev", into="main")
    dt_ = DeltaTable(repo.table_uri("sales"), storage_options=repo.config.delta_options())
    assert dt_.metadata().partition_columns == ["day"]
    assert sorted_rows(plain(repo)) == sorted_rows(everything) == sorted_rows(repo.read("sales"))
    repo.branch("main").write("sales", day_rows(dt.date(2026, 11, 4), n=1))
    assert plain(repo).num_rows == 151


def test_sides_that_partition_a_dataset_differently_conflict(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("sales", day_rows(DAYS[0]))
    dev = repo.create_branch("dev", "main")
    dev.write("sales", day_rows(DAYS[1]), mode="overwrite", schema_mode="overwrite", partition_by=["day"])
    main.write("sales", day_rows(DAYS[2]))
    with pytest.raises(lake.MergeConflictError, match="partitions it by"):
        repo.merge("dev", into="main")


def test_a_key_check_on_a_new_day_reads_only_that_day(repo: lake.Repository) -> None:
    contract = sales_contract("primary_key: [day, id]\n")
    main = repo.branch("main")
    main.set_contract("sales", contract)
    for day in DAYS[:2]:
        main.write("sales", day_rows(day))
    with hidden(repo, "sales", keep=lambda p: "day=2026-11-02" in p):
        main.write("sales", day_rows(DAYS[2]))  # uniqueness probes the files of 2026-11-03 only
        with pytest.raises(lake.ContractViolationError, match="primary_key"):
            main.write("sales", day_rows(DAYS[1], n=2))  # the same keys on 2026-11-02: refused
    assert repo.read("sales").num_rows == 150


def test_replace_where_with_a_value_the_contract_cannot_cast_names_the_cast(repo: lake.Repository) -> None:
    contract = sales_contract()
    main = repo.branch("main")
    main.set_contract("sales", contract)
    main.write("sales", day_rows(DAYS[0]))
    bad = pa.table(
        {"id": [1, 2], "day": ["2026-11-01", "not a day"], "region": ["eu", "eu"], "amount": [1.0, 2.0]}
    )
    with pytest.raises(lake.ContractViolationError, match=r"day\.type"):
        main.write("sales", bad, mode="overwrite", replace_where="day = '2026-11-01'")
    assert repo.read("sales").num_rows == 50


@pytest.mark.parametrize("value", ["b", "sp ace"])
def test_reverting_a_delete_of_a_partition_brings_its_rows_back_as_they_were(
    repo: lake.Repository, value: str
) -> None:
    main = repo.branch("main")
    rows = pa.table({"id": [1, 2], "p": ["a", value]})
    main.write("d", rows, partition_by=["p"])
    main.write("d", pa.table({"id": [3], "p": ["c"]}))
    main.delete("d", f"p = '{value}'")
    repo.revert(repo.log("main")[0].id, branch="main")
    want = sorted([*rows.to_pylist(), {"id": 3, "p": "c"}], key=lambda r: r["id"])
    assert sorted(repo.read("d").to_pylist(), key=lambda r: r["id"]) == want
    assert sorted(plain(repo, "d").to_pylist(), key=lambda r: r["id"]) == want
    repo.revert(repo.log("main")[-3].id, branch="main")  # the append of id 3, by whole rows
    assert sorted(repo.read("d")["id"].to_pylist()) == [1, 2]


@pytest.mark.parametrize(
    ("where", "kept"),
    [
        ("log2(k) < 1 AND k > 1", [1, 2, 3]),  # sqlglot writes log2(k) back as LOG(2, k): never run
        ("log2(k) = 2 AND k > 1", [1, 3]),
        ("log2(k) = 2", [1, 3]),
    ],
)
def test_a_delete_with_functions_removes_exactly_what_it_selects(
    repo: lake.Repository, where: str, kept: list[int]
) -> None:
    main = repo.branch("main")
    main.write("d", pa.table({"id": [1, 2, 3], "k": [2, 4, 16]}), partition_by=["k"])
    main.delete("d", where)
    assert sorted(repo.read("d")["id"].to_pylist()) == kept


def test_a_date_predicate_with_functions_runs_as_written(repo: lake.Repository) -> None:
    rows = pa.table({"day": pa.array([DAYS[0]], pa.date32()), "k": [16]})
    repo.branch("main").write("u", rows)
    assert repo.read("u", where="day = DATE '2026-11-01' AND log2(k) = 4").num_rows == 1
    assert repo.read("u", where="day = '2026-11-01' AND k = 16").num_rows == 1


def test_an_empty_string_partition_value_is_refused(repo: lake.Repository) -> None:
    main = repo.branch("main")
    with pytest.raises(InvalidInputError, match="empty string"):
        main.write("d", pa.table({"id": [1, 2], "s": ["x", ""]}), partition_by=["s"])
    assert "d" not in [d.name for d in repo.datasets()]
