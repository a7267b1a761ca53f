"""Other engines' commits to main's Delta table are adopted or refused with a reason, never
undone (issue 9, point 1), and every Delta commit tells its true operation (point 6)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from conftest import Lake, crash_between_delta_commit_and_ref
from deltalake import DeltaTable, write_deltalake

import lake
from lake.contracts import Contract
from lake.errors import ForeignChangeError


def _opts(repo: lake.Repository) -> dict[str, str] | None:
    return repo.config.delta_options()


def plain_ids(repo: lake.Repository, column: str = "id") -> list[int]:
    """main's rows as a plain Delta reader (polars) sees them."""
    uri = repo.table_uri("orders")
    return sorted(pl.read_delta(uri, storage_options=repo.config.polars_options())[column].to_list())


def lake_ids(repo: lake.Repository, ref: str = "main") -> list[int]:
    return sorted(repo.read("orders", ref)["id"].to_pylist())


def rows(ids: list[int]) -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.int64()), "amount": pa.array([float(i) for i in ids])})


# -- the report, as written -------------------------------------------------------------------------
def test_a_foreign_append_survives_the_next_lake_write(cli: Lake, tmp_path: Path) -> None:
    """Reproduces issue 9.1: write_deltalake appends id 100 to main's table; `lake write orders
    day2.csv` exited 0 and polars then read 1,2,3,4: row 100 was gone."""
    day1, day2 = tmp_path / "day1.csv", tmp_path / "day2.csv"
    day1.write_text("id,amount\n1,1.0\n2,2.0\n3,3.0\n")
    day2.write_text("id,amount\n4,4.0\n")
    cli("write", "orders", str(day1))
    repo = lake.Repository.open(cli.uri)
    write_deltalake(repo.table_uri("orders"), rows([100]), mode="append", storage_options=_opts(repo))
    assert plain_ids(repo) == [1, 2, 3, 100]
    assert lake_ids(repo) == [1, 2, 3]  # the lake shows what main's commits hold until it adopts

    out = cli("write", "orders", str(day2))
    assert plain_ids(repo) == [1, 2, 3, 4, 100]
    assert lake_ids(repo) == [1, 2, 3, 4, 100]
    assert "note: adopted Delta version(s) 1 (WRITE) of orders, written by delta-rs" in out
    log = cli.json("log")
    assert isinstance(log, list)
    assert log[1]["message"].startswith("Adopt Delta version(s) 1 (WRITE) of orders")


# -- every kind of foreign commit, on unprotected and protected main ---------------------------------
def _append(repo: lake.Repository) -> None:
    write_deltalake(repo.table_uri("orders"), rows([100]), mode="append", storage_options=_opts(repo))


def _delete(repo: lake.Repository) -> None:
    DeltaTable(repo.table_uri("orders"), storage_options=_opts(repo)).delete("id = 2")


def _overwrite(repo: lake.Repository) -> None:
    write_deltalake(repo.table_uri("orders"), rows([7, 8]), mode="overwrite", storage_options=_opts(repo))


def _add_column(repo: lake.Repository) -> None:
    extra = rows([100]).append_column("note", pa.array(["from spark"]))
    write_deltalake(
        repo.table_uri("orders"), extra, mode="append", schema_mode="merge", storage_options=_opts(repo)
    )


def _optimize(repo: lake.Repository) -> None:
    DeltaTable(repo.table_uri("orders"), storage_options=_opts(repo)).optimize.compact()


FOREIGN: dict[str, tuple[Callable[[lake.Repository], None], list[int]]] = {
    "append": (_append, [1, 2, 3, 100]),
    "delete": (_delete, [1, 3]),
    "overwrite": (_overwrite, [7, 8]),
    "added column": (_add_column, [1, 2, 3, 100]),
    "optimize": (_optimize, [1, 2, 3]),
}


def _main_in_three_files(repo: lake.Repository) -> None:
    main = repo.branch("main")
    for part in ([1], [2], [3]):
        main.write("orders", rows(part))


@pytest.mark.parametrize("kind", list(FOREIGN))
def test_unprotected_main_adopts_each_foreign_commit(repo: lake.Repository, kind: str) -> None:
    act, expected = FOREIGN[kind]
    _main_in_three_files(repo)
    act(repo)
    assert plain_ids(repo) == expected

    repo.branch("main").write("orders", rows([50]))  # the next lake operation adopts first
    assert lake_ids(repo) == sorted([*expected, 50])
    assert plain_ids(repo) == lake_ids(repo)
    adoption = repo.log(limit=2)[1].commit
    assert adoption.metadata["lake.adopt"]["dataset"] == "orders"
    assert adoption.metadata["lake.adopt"]["data_change"] is (kind != "optimize")
    assert adoption.author.startswith("delta-rs")
    if kind == "added column":
        assert "note" in repo.read("orders").column_names
        table = repo.read("orders")
        notes = dict(zip(table["id"].to_pylist(), table["note"].to_pylist(), strict=True))
        assert notes[100] == "from spark" and notes[1] is None
    if kind == "optimize":
        change = adoption.changes["orders"]
        assert (change.operation, change.rows_added, change.rows_removed) == ("optimize", 0, 0)
        assert repo.datasets()[0].files == 2  # the compacted file and the new write
    # a branch made now sees it too, and a merge back works
    repo.create_branch("etl")
    repo.branch("etl").write("orders", rows([60]))
    repo.merge("etl")
    assert lake_ids(repo) == sorted([*expected, 50, 60]) == plain_ids(repo)


@pytest.mark.parametrize("kind", list(FOREIGN))
def test_protected_main_refuses_a_foreign_data_change_until_someone_decides(
    repo: lake.Repository, kind: str
) -> None:
    act, expected = FOREIGN[kind]
    _main_in_three_files(repo)
    repo.protect("main", protected=True)
    repo.create_branch("etl")
    repo.branch("etl").write("orders", rows([60]))
    act(repo)

    if kind == "optimize":  # no row changed: adopted on its own, even on protected main
        repo.merge("etl")
        assert lake_ids(repo) == [1, 2, 3, 60] == plain_ids(repo)
        assert any("lake.adopt" in c.commit.metadata for c in repo.log(limit=3))
        return
    with pytest.raises(ForeignChangeError) as caught:
        repo.merge("etl")
    message = str(caught.value)
    assert "version 3" in message and "protected branch 'main'" in message
    assert "lake fsck --repair adopt" in (caught.value.hint or "")
    assert caught.value.exit_code == 1
    assert lake_ids(repo) == [1, 2, 3]  # nothing merged, nothing lost
    assert plain_ids(repo) == expected

    result = repo.repair_foreign("orders", "adopt", reason="the backfill was approved")
    assert result is not None
    assert lake_ids(repo) == expected == plain_ids(repo)
    decided = repo.log(limit=1)[0].commit
    assert decided.metadata["lake.repair"]["reason"] == "the backfill was approved"
    assert decided.metadata["lake.gate"]["failed"] == []
    repo.merge("etl")
    assert lake_ids(repo) == sorted([*expected, 60]) == plain_ids(repo)


@pytest.mark.parametrize("kind", ["append", "delete", "overwrite", "added column"])
def test_undo_takes_the_foreign_files_out_of_the_table_and_deletes_nothing(
    repo: lake.Repository, kind: str
) -> None:
    act, _ = FOREIGN[kind]
    _main_in_three_files(repo)
    repo.protect("main", protected=True)
    act(repo)
    stored_before = _stored(repo)
    repo.repair_foreign("orders", "undo", reason="written by a job that had no business here")
    assert plain_ids(repo) == lake_ids(repo) == [1, 2, 3]
    plain = pl.read_delta(repo.table_uri("orders"), storage_options=repo.config.polars_options())
    assert plain.columns == ["id", "amount"]  # an added column is taken back too
    assert _stored(repo) >= stored_before  # undo deleted no file
    assert repo.foreign() == []
    decided = repo.log(limit=1)[0].commit
    assert decided.metadata["lake.adopt"]["decision"] == "undo"
    repo.create_branch("etl")
    repo.branch("etl").write("orders", rows([60]))
    repo.merge("etl")
    assert lake_ids(repo) == [1, 2, 3, 60] == plain_ids(repo)


def _stored(repo: lake.Repository) -> set[str]:
    return {k for k in repo._store.list("orders/") if k.endswith(".parquet")}


def test_the_gate_judges_a_foreign_change_on_protected_main(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.set_contract("orders", _contract())
    main.write("orders", rows([1, 2, 3]))
    repo.protect("main", protected=True)
    write_deltalake(repo.table_uri("orders"), rows([-5]), mode="append", storage_options=_opts(repo))
    with pytest.raises(lake.GateFailedError):
        repo.repair_foreign("orders", "adopt", reason="looks fine to me")
    assert lake_ids(repo) == [1, 2, 3]
    repo.repair_foreign("orders", "adopt", reason="refund rows are allowed this once", force=True)
    assert lake_ids(repo) == [-5, 1, 2, 3]
    decided = repo.log(limit=1)[0].commit
    assert decided.metadata["lake.override"]["reason"] == "refund rows are allowed this once"


def _contract() -> Contract:
    return Contract.model_validate(
        {
            "dataset": "orders",
            "primary_key": ["id"],
            "columns": {"id": {"type": "int64"}, "amount": {"type": "float64", "min": 0}},
        }
    )


def test_a_foreign_change_that_breaks_the_contract_stops_the_write_and_loses_nothing(
    repo: lake.Repository,
) -> None:
    main = repo.branch("main")
    main.set_contract("orders", _contract())
    main.write("orders", rows([1, 2, 3]))
    write_deltalake(repo.table_uri("orders"), rows([2]), mode="append", storage_options=_opts(repo))
    with pytest.raises(ForeignChangeError) as caught:
        main.write("orders", rows([4]))
    message = str(caught.value)
    assert "version 1 (WRITE" in message and "breaks the contract" in message and "primary_key" in message
    assert plain_ids(repo) == [1, 2, 2, 3]  # the foreign row is still there
    assert lake_ids(repo) == [1, 2, 3]
    assert caught.value.to_dict()["reports"]
    repo.repair_foreign("orders", "undo", reason="duplicate from a replayed job")
    main.write("orders", rows([4]))
    assert plain_ids(repo) == lake_ids(repo) == [1, 2, 3, 4]


def test_a_foreign_commit_the_lake_cannot_read_is_refused_with_the_reason(repo: lake.Repository) -> None:
    _main_in_three_files(repo)
    write_deltalake(
        repo.table_uri("orders"),
        rows([9]),
        mode="overwrite",
        schema_mode="overwrite",
        partition_by=["id"],
        storage_options=_opts(repo),
    )
    with pytest.raises(ForeignChangeError, match="changed the table's partition columns"):
        repo.branch("main").write("orders", rows([4]))
    assert lake_ids(repo) == [1, 2, 3]


def test_a_foreign_table_beside_the_lake_is_adopted_as_a_dataset(repo: lake.Repository) -> None:
    repo.branch("main").write("orders", rows([1]))
    write_deltalake(repo.config.join("customers"), pa.table({"id": [1, 2]}), storage_options=_opts(repo))
    repo.branch("main").write("customers", pa.table({"id": [3]}))
    assert sorted(repo.read("customers")["id"].to_pylist()) == [1, 2, 3]


# -- point 6: the true operation in every Delta commit ----------------------------------------------
def test_delta_history_tells_each_operation(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", rows([1, 2, 3]))
    main.delete("orders", "id = 2")
    main.upsert("orders", rows([3, 4]), key=["id"])
    repo.create_branch("etl")
    repo.branch("etl").write("orders", rows([9]))
    merged = repo.merge("etl")
    assert merged.commit is not None
    deleted = repo.log(limit=4)[3].id
    reverted = repo.revert(deleted)
    assert reverted.commit
    history = DeltaTable(repo.table_uri("orders"), storage_options=_opts(repo)).history()
    ops = [(h["operation"], h.get("operationParameters", {})) for h in reversed(history)]
    names = [op for op, _ in ops]
    assert names[:4] == ["CREATE TABLE", "DELETE", "MERGE", "MERGE"], names
    assert names[4] == "REVERT"
    assert ops[1][1]["predicate"] == '["id = 2"]'
    assert "target.id = source.id" in ops[2][1]["predicate"]
    assert ops[3][1]["source"].startswith("etl@")
    assert ops[4][1]["commit"] == deleted
    for h in history[:-1]:
        assert h["engineInfo"] == "lakegate" and h["lake.txn"]
    assert plain_ids(repo) == lake_ids(repo)


def test_cli_protected_main_refuses_then_fsck_repairs(cli: Lake, tmp_path: Path) -> None:
    """The protected-main path as a person meets it: the merge is refused (exit 1) with the
    explanation, fsck lists the version (exit 1), --repair adopt needs a reason, then decides."""
    day1, more = tmp_path / "day1.csv", tmp_path / "more.csv"
    day1.write_text("id,amount\n1,1.0\n2,2.0\n3,3.0\n")
    more.write_text("id,amount\n60,6.0\n")
    cli("write", "orders", str(day1))
    cli("branch", "protect", "main")
    cli("branch", "create", "etl")
    cli("write", "orders", str(more), "--branch", "etl")
    repo = lake.Repository.open(cli.uri)
    _append(repo)

    refused = cli("merge", "etl", "--into", "main", code=1)
    assert "version 1 (WRITE, written by delta-rs" in refused
    assert "lake fsck --repair adopt" in refused
    listed = cli.json("fsck", code=1)
    assert isinstance(listed, dict)
    assert any(u["version"] == 1 for u in listed["foreign_versions"]), listed
    assert "--reason" in cli("fsck", "--repair", "adopt", code=2)

    out = cli("fsck", "--repair", "adopt", "--dataset", "orders", "--reason", "approved backfill")
    assert "adopted the foreign versions of orders on main" in out
    cli("merge", "etl", "--into", "main")
    assert lake_ids(repo) == [1, 2, 3, 60, 100] == plain_ids(repo)
    shown = cli.json("log", "--limit", "2")
    assert isinstance(shown, list)
    assert shown[1]["metadata"]["lake.repair"]["reason"] == "approved backfill"


def test_a_foreign_compaction_of_an_unfinished_lake_write_is_refused(repo: lake.Repository) -> None:
    """Found by review: a lake writer died between its Delta commit and its ref (ids 900-902),
    then another engine's OPTIMIZE folded that file into a compacted one. Adopting the
    compaction made the rows the dead write never committed part of main."""
    _main_in_three_files(repo)
    crash_between_delta_commit_and_ref(lambda: repo.branch("main").write("orders", rows([900, 901, 902])))
    _optimize(repo)
    with pytest.raises(ForeignChangeError, match="rewrote files of an unfinished lake write"):
        repo.branch("main").write("orders", rows([4]))
    assert lake_ids(repo) == [1, 2, 3]
    repo.repair_foreign("orders", "undo", reason="compacted a crashed write")
    repo.branch("main").write("orders", rows([4]))
    assert lake_ids(repo) == [1, 2, 3, 4] == plain_ids(repo)


def _dt(repo: lake.Repository) -> DeltaTable:
    return DeltaTable(repo.table_uri("orders"), storage_options=_opts(repo))


def test_a_foreign_change_of_table_properties_alone_is_maintenance(repo: lake.Repository) -> None:
    """Found by review: SET TBLPROPERTIES (no file, no schema change) counted as a data change,
    so protected main refused every operation over a property."""
    _main_in_three_files(repo)
    repo.protect("main", protected=True)
    repo.create_branch("etl")
    repo.branch("etl").write("orders", rows([60]))
    _dt(repo).alter.set_table_properties({"delta.checkpointInterval": "20"})
    repo.merge("etl")
    assert lake_ids(repo) == [1, 2, 3, 60] == plain_ids(repo)
    adopted = repo.log(limit=2)[1].commit.metadata["lake.adopt"]
    assert adopted["operations"] == ["SET TBLPROPERTIES"] and adopted["data_change"] is False


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"delta.enableExpiredLogCleanup": "true"}, "delta.enableExpiredLogCleanup=true"),
        ({"delta.deletedFileRetentionDuration": "interval 0 days"}, "deletedFileRetentionDuration"),
    ],
)
def test_a_foreign_commit_that_lets_engines_delete_lake_history_is_refused(
    repo: lake.Repository, change: dict[str, str], reason: str
) -> None:
    """Found by review: a foreign SET TBLPROPERTIES enabling log cleanup was adopted, and the next
    foreign cleanup_metadata made older lake commits unreadable."""
    _main_in_three_files(repo)
    _dt(repo).alter.set_table_properties(change)
    with pytest.raises(ForeignChangeError, match=reason):
        repo.branch("main").write("orders", rows([4]))
    repo.repair_foreign("orders", "undo", reason="keep the lake's history")
    assert _dt(repo).metadata().configuration.get(next(iter(change))) != next(iter(change.values()))
    repo.branch("main").write("orders", rows([4]))
    assert lake_ids(repo) == [1, 2, 3, 4] == plain_ids(repo)


def test_a_foreign_check_constraint_is_refused_since_lake_writes_would_not_enforce_it(
    repo: lake.Repository,
) -> None:
    """So is change data feed, which obliges every writer to write change files."""
    _main_in_three_files(repo)
    _dt(repo).alter.set_table_properties({"delta.enableChangeDataFeed": "true"})
    with pytest.raises(ForeignChangeError, match="writer protocol 4"):
        repo.branch("main").write("orders", rows([4]))
    repo.repair_foreign("orders", "undo", reason="the lake writes no change files")
    _dt(repo).alter.add_constraint({"positive": "id > 0"})
    with pytest.raises(ForeignChangeError, match=r"delta\.constraints\.positive"):
        repo.branch("main").write("orders", rows([-4]))
    assert lake_ids(repo) == [1, 2, 3]
