"""A delete, and a read or scan with ``where``, read only the files whose min/max statistics
may hold a row the predicate selects, on both backends. Proof without looking inside: the files
the predicate cannot select are removed from storage, and the delete still succeeds; a predicate
that cannot prune must read them, and fails."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pyarrow as pa
import pytest

import lake


def day_rows(day: int) -> pa.Table:
    ids = list(range(day * 100, day * 100 + 100))
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "day": [f"2026-11-0{day + 1}"] * 100,
            "on": pa.array([dt.date(2026, 11, day + 1)] * 100, pa.date32()),
            "amount": [float(i) / 10 for i in ids],
        }
    )


@pytest.fixture
def four_days(
    repo: lake.Repository, data_files: Callable[[lake.Repository, str], set[str]]
) -> tuple[lake.Repository, list[str]]:
    """Four files, one per day; the files of days 2 to 4 are then removed from storage."""
    main = repo.branch("main")
    files: list[str] = []
    for day in range(4):
        before = data_files(repo, "t")
        main.write("t", day_rows(day))
        [new] = data_files(repo, "t") - before
        files.append(new)
    fs = repo.config.arrow_filesystem()
    for name in files[1:]:
        fs.delete_file(repo.config.arrow_path(repo.config.join(f"t/{name}")))
    return repo, files


@pytest.mark.parametrize(
    ("where", "deleted"),
    [
        ("id = 5", 1),
        ("id < 50", 50),
        ("5 > id", 5),
        ("id IN (1, 2, 3)", 3),
        ("id BETWEEN 10 AND 19", 10),
        ("id >= 0 AND id <= 9", 10),
        ("id < 5 OR id = 99", 6),
        ("day = '2026-11-01'", 100),
        ("day IN ('2026-11-01', '2026-10-31')", 100),
        ("amount <= 0.5", 6),
        ("id = 5 AND amount + 1 > 0", 1),  # one side prunes: the AND does
    ],
)
def test_a_delete_reads_only_the_files_its_predicate_may_select(
    four_days: tuple[lake.Repository, list[str]], where: str, deleted: int
) -> None:
    repo, _ = four_days
    result = repo.branch("main").delete("t", where)
    change = result.datasets["t"]
    assert (change.rows_removed, change.files_removed) == (deleted, 1)


@pytest.mark.parametrize("where", ["id + 0 = 5", "NOT (id > 99)", "id = 5 OR amount + 1 > 0", "id = 250"])
def test_a_predicate_that_cannot_prune_reads_every_file(
    four_days: tuple[lake.Repository, list[str]], where: str
) -> None:
    repo, _ = four_days
    with pytest.raises(lake.LakeError):
        repo.branch("main").delete("t", where)


def test_a_pruned_delete_removes_exactly_the_selected_rows(repo: lake.Repository) -> None:
    main = repo.branch("main")
    for day in range(4):
        main.write("t", day_rows(day))
    main.delete("t", "id IN (5, 150, 399) OR day = '2026-11-03'")
    ids = set(repo.read("t").column("id").to_pylist())
    assert ids == set(range(400)) - {5, 150, 399} - set(range(200, 300))
    main.delete("t", "id > 1000")  # no file may hold it: nothing changes
    assert repo.read("t").num_rows == 297


@pytest.mark.parametrize(
    ("where", "rows"), [("id < 50", 50), ("day = '2026-11-01'", 100), ("id IN (3, 4)", 2)]
)
def test_a_read_with_where_reads_only_the_files_it_may_select(
    four_days: tuple[lake.Repository, list[str]], where: str, rows: int
) -> None:
    repo, _ = four_days
    table = repo.read("t", where=where)
    assert table.num_rows == rows and table.schema == day_rows(0).schema
    assert repo.read("t", where=where, columns=["id"]).column_names == ["id"]
    assert repo.scan("t", where=where).collect().height == rows


def test_a_read_with_where_keeps_exactly_the_rows_it_selects(repo: lake.Repository) -> None:
    main = repo.branch("main")
    for day in range(4):
        main.write("t", day_rows(day))
    got = repo.read("t", where="id BETWEEN 95 AND 104 OR day = '2026-11-04'").column("id").to_pylist()
    assert sorted(got) == [*range(95, 105), *range(300, 400)]
    assert repo.read("t", where="id > 1000").num_rows == 0
    with pytest.raises(lake.InvalidInputError, match="predicate"):
        repo.read("t", where="id >>> 3")


def test_cli_read_where(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    csv = tmp_path / "a.csv"
    csv.write_text("id,day\n1,a\n2,b\n3,c\n")
    cli("write", "t", str(csv))
    out = cli("read", "t", "--where", "id >= 2", "--format", "csv")
    assert [line.replace('"', "") for line in out.splitlines()] == ["id,day", "2,b", "3,c"]
    assert "predicate" in cli("read", "t", "--where", "id >>> 3", code=2)


# -- replace_where: Delta's replaceWhere -------------------------------------------------------
def test_replace_where_replaces_exactly_the_rows_it_selects(repo: lake.Repository) -> None:
    main = repo.branch("main")
    for day in range(3):
        main.write("t", day_rows(day))
    fresh = day_rows(1).set_column(3, "amount", pa.array([-1.0] * 100))
    result = main.write("t", fresh, mode="overwrite", replace_where="day = '2026-11-02'")
    change = result.datasets["t"]
    assert (change.rows_added, change.rows_removed, change.files_removed) == (100, 100, 1)
    got = repo.read("t")
    assert got.num_rows == 300
    assert set(repo.read("t", where="day = '2026-11-02'").column("amount").to_pylist()) == {-1.0}
    assert repo.read("t", where="day = '2026-11-01'").column("amount").to_pylist()[:2] == [0.0, 0.1]
    import deltalake

    history = deltalake.DeltaTable(repo.table_uri("t"), storage_options=repo.config.delta_options()).history(
        1
    )
    assert history[0]["operation"] == "WRITE" and history[0]["operationParameters"]["mode"] == "Overwrite"
    assert "2026-11-02" in history[0]["operationParameters"]["predicate"]


def test_replace_where_refuses_rows_outside_the_predicate(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("t", day_rows(0))
    head = main.head
    with pytest.raises(lake.InvalidInputError, match="100 of the 100 new rows are outside replace_where"):
        main.write("t", day_rows(1), mode="overwrite", replace_where="day = '2026-11-01'")
    assert main.head == head
    with pytest.raises(lake.InvalidInputError, match="mode='overwrite'"):
        main.write("t", day_rows(0), replace_where="day = '2026-11-01'")


def test_replace_where_reads_only_the_files_it_may_select(
    four_days: tuple[lake.Repository, list[str]],
) -> None:
    repo, _ = four_days  # the files of days 2 to 4 are gone from storage
    result = repo.branch("main").write("t", day_rows(0), mode="overwrite", replace_where="id < 100")
    assert result.datasets["t"].files_removed == 1


def test_cli_write_replace_where(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    csv = tmp_path / "a.csv"
    csv.write_text("id,day\n1,a\n2,b\n")
    cli("write", "t", str(csv))
    again = tmp_path / "b.csv"
    again.write_text("id,day\n9,b\n")
    cli("write", "t", str(again), "--mode", "overwrite", "--replace-where", "day = 'b'")
    out = cli("read", "t", "--format", "csv")
    assert sorted(line.replace('"', "") for line in out.splitlines()[1:]) == ["1,a", "9,b"]
    assert "outside replace_where" in cli(
        "write", "t", str(csv), "--mode", "overwrite", "--replace-where", "day = 'b'", code=2
    )


# -- found by review: pruning never changes what a predicate selects ----------------------------
@pytest.mark.parametrize(
    ("column", "where"),
    [
        (pa.array([0.1], pa.float32()), "x = 0.1"),  # polars compares in float32
        (pa.array([9007199254740992.0]), "x = 9007199254740993"),  # the literal as a float64
        (pa.array([5]), "x > 4.9999999999999999"),  # exactly, not through float
        (pa.array([9007199254740993]), "x = 9007199254740993.0"),
        (pa.array([5]), "x = 5e"),
        (pa.array([dt.date(2024, 1, 5)]), "x = CAST('2024/01/05' AS DATE)"),
        (pa.array([1.0, 2.0]), "true"),
        (pa.array(["é" * 40 + "z"]), "x >= '" + "é" * 40 + "'"),  # long strings: whole bounds
    ],
)
def test_a_pruned_read_selects_what_an_unpruned_filter_does(
    repo: lake.Repository, column: pa.Array, where: str
) -> None:
    import polars as pl

    main = repo.branch("main")
    main.write("t", pa.table({"x": column}))
    main.write("t", pa.table({"x": column}))  # a second file
    everything = pl.from_arrow(repo.read("t"))
    assert isinstance(everything, pl.DataFrame)
    expected = everything.filter(pl.sql_expr(where).fill_null(False)).height
    assert expected > 0
    assert repo.read("t", where=where).num_rows == expected
    assert repo.scan("t", where=where).collect().height == expected
    main.delete("t", where)
    assert repo.read("t").num_rows == everything.height - expected


def test_nan_in_another_engines_file_is_not_pruned_away(repo: lake.Repository) -> None:
    from deltalake import write_deltalake

    main = repo.branch("main")
    main.write("t", pa.table({"x": [1.0]}))
    write_deltalake(
        repo.table_uri("t"),
        pa.table({"x": [2.0, float("nan")]}),
        mode="append",
        storage_options=repo.config.delta_options(),
    )
    main.write("t", pa.table({"x": [3.0]}))  # adopts the foreign file, with delta-rs's statistics
    assert repo.read("t", where="x > 5").num_rows == 1  # polars ranks NaN above every number


def test_replace_where_checks_the_rows_as_they_will_be_stored(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("t", pa.table({"x": [5.0], "n": [0]}))
    with pytest.raises(lake.InvalidInputError, match="outside replace_where"):
        main.write(
            "t",
            pa.table({"x": pa.array([0.1], pa.float32()), "n": [1]}),
            mode="overwrite",
            replace_where="x = 0.1",
        )
