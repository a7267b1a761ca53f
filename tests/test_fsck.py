"""`lake fsck` checks what the lake names and lists what nothing names (issue 9, point 4)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from conftest import Lake, crash_between_delta_commit_and_ref
from deltalake import DeltaTable, write_deltalake

import lake
from lake.maintain.stored import list_stored


def rows(ids: list[int]) -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.int64())})


def put(repo: lake.Repository, key: str, data: bytes) -> None:
    fs = repo.config.arrow_filesystem()
    path = repo.config.arrow_path(repo.config.join(key))
    if repo.config.scheme == "file":
        fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    with fs.open_output_stream(path) as out:
        out.write(data)


def remove(repo: lake.Repository, key: str) -> None:
    repo.config.arrow_filesystem().delete_file(repo.config.arrow_path(repo.config.join(key)))


def parquet_bytes(ids: list[int]) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(rows(ids), sink)
    return sink.getvalue().to_pybytes()


def keys(repo: lake.Repository, prefix: str) -> list[str]:
    return sorted(s.key for s in list_stored(repo.config, prefix) if "/." not in s.key)


def test_a_healthy_repository_is_clean(cli: Lake, tmp_path: Path) -> None:
    csv = tmp_path / "a.csv"
    csv.write_text("id\n1\n2\n")
    cli("write", "orders", str(csv))
    cli("branch", "create", "b")
    cli("write", "orders", str(csv), "--branch", "b")
    cli("tag", "create", "v1")
    out = cli("fsck")
    assert "clean" in out and "checked 2 branches, 1 tags" in out
    report = cli.json("fsck")
    assert isinstance(report, dict) and report["clean"] is True
    assert report["problems"] == [] and report["foreign_versions"] == [] and report["orphan_files"] == []
    assert report["checked"]["commits"] == 3 and report["checked"]["files"] >= 2
    [layer] = report["branch_layers"]
    assert layer["branch"] == "b" and layer["status"] == "live" and layer["has_log"] is True
    repo = lake.Repository.open(cli.uri)
    assert layer["created_from"] == repo.log("main")[0].id  # b was created at main's head


def test_each_branch_layer_names_its_branch_even_after_the_branch_is_gone(repo: lake.Repository) -> None:
    repo.branch("main").write("orders", rows([1]))
    repo.create_branch("keep").write("orders", rows([2]))
    gone = repo.create_branch("gone")
    created_from = gone.head
    gone.write("orders", rows([3]))
    repo.delete_branch("gone")
    repo.create_branch("gone").write("orders", rows([4]))  # the same name again: a new layer
    put(repo, "orders/_branches/0123456789abcdef/part-stray.parquet", parquet_bytes([5]))

    found = {(x.branch, x.status) for x in repo.fsck().layers}

    assert found == {("keep", "live"), ("gone", "live"), ("gone", "deleted"), (None, "unknown")}
    [old] = [x for x in repo.fsck().layers if x.status == "deleted"]
    assert old.created_from == created_from and old.created and old.has_log
    assert keys(repo, "_lake/layers/") == sorted(
        f"_lake/layers/{x.layer.split('/')[1]}.json" for x in repo.fsck().layers if x.status != "unknown"
    )
    assert repo.fsck().clean  # a stray folder younger than the grace is no finding
    assert [o.path for o in repo.fsck(grace="0s").orphans] == [
        "_branches/0123456789abcdef/part-stray.parquet"
    ]


def test_foreign_and_orphaned_versions_are_listed(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", rows([1]))
    b = repo.create_branch("b")
    crash_between_delta_commit_and_ref(lambda: b.write("orders", rows([2])))  # b's first write
    crash_between_delta_commit_and_ref(lambda: main.write("orders", rows([3])))
    write_deltalake(
        repo.table_uri("orders"), rows([100]), mode="append", storage_options=repo.config.delta_options()
    )

    found = repo.fsck()

    assert not found.clean and not found.problems
    got = [(u.branch, u.named, u.version, u.kind, u.operation) for u in found.unnamed]
    assert got == [
        ("b", None, 0, "orphaned", "CREATE TABLE"),  # the head names no version of b's layer
        ("main", 0, 1, "orphaned", "WRITE"),
        ("main", 0, 2, "foreign", "WRITE"),
    ]
    [foreign] = found.foreign
    assert foreign.txn is None and foreign.data_change and "delta-rs" in foreign.engine
    assert all(u.txn for u in found.orphaned)
    assert "foreign" in foreign.describe() and "version 2" in foreign.describe()


def test_missing_and_corrupt_objects_and_files_are_problems(cli: Lake) -> None:
    repo = lake.Repository.open(cli.uri)
    main = repo.branch("main")
    main.write("orders", rows([1, 2]))
    main.set_contract(
        "orders", lake.Contract.from_text("dataset: orders\ncolumns:\n  id: {type: int64}\n", "c")
    )
    repo.protect("main", protected=True)
    repo.create_branch("b")
    assert repo.fsck().clean

    [contract] = keys(repo, "_lake/contracts/")
    remove(repo, contract)
    [profile] = keys(repo, "_lake/profiles/")
    put(repo, profile, b"{not json")
    first = repo.log("main")[-1].id
    put(repo, f"_lake/commits/{first}", b'{"parents": []}')  # does not hash to its id
    data = next(k for k in keys(repo, "orders/") if k.endswith(".parquet"))
    remove(repo, data)
    put(repo, "_lake/refs/tags/broken", b"not json")

    found = repo.fsck()

    kinds = sorted(p.kind for p in found.problems)
    assert kinds == ["commit", "contract", "file", "profile", "ref"]
    by_kind = {p.kind: p for p in found.problems}
    assert data.removeprefix("orders/") in by_kind["file"].message
    assert contract.rsplit("/", 1)[1][:12] == by_kind["contract"].where
    assert first[:12] == by_kind["commit"].where
    assert by_kind["ref"].where == "tag broken"
    out = cli("fsck", code=1)
    assert "problems" in out and "5 finding(s)" in out
    report = cli.json("fsck", code=1)
    assert isinstance(report, dict) and report["clean"] is False and len(report["problems"]) == 5


def test_fsck_after_gc_is_clean_and_expired_commits_are_not_checked(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", rows([1, 2]))
    main.delete("orders", "id = 1")
    main.write("orders", rows([3]))
    repo.gc(older_than="0s", grace="0s")
    found = repo.fsck()
    assert found.clean
    assert found.checked["live_commits"] == 1 and found.checked["commits"] == 4


def test_a_table_without_the_vacuum_retention_is_a_warning(repo: lake.Repository) -> None:
    repo.branch("main").write("orders", rows([1]))
    assert not repo.fsck().warnings
    dt = DeltaTable(repo.table_uri("orders"), storage_options=repo.config.delta_options())
    dt.alter.set_table_properties({"delta.deletedFileRetentionDuration": "interval 7 days"})

    found = repo.fsck()

    [warning] = found.warnings
    assert warning.kind == "vacuum" and "delta.deletedFileRetentionDuration" in warning.message
    assert not found.problems  # a warning; the new Delta version itself is listed as foreign
    assert [u.kind for u in found.unnamed] == ["foreign"]
