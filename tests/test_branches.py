"""Branches: zero-copy creation, isolation, copy-on-write only of rewritten files, ref names."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pytest

import lake

FilesOf = Callable[[lake.Repository, str], set[str]]


def orders(ids: list[int]) -> pa.Table:
    return pa.table({"order_id": pa.array(ids, pa.int64()), "amount": [float(i) for i in ids]})


def ids(repo: lake.Repository, ref: str | None = None) -> list[int]:
    return sorted(repo.read("orders", ref).column("order_id").to_pylist())


def test_creating_a_branch_copies_no_data_file(repo: lake.Repository, data_files: FilesOf) -> None:
    main = repo.branch("main")
    for chunk in ([1, 2], [3, 4], [5]):
        main.write("orders", orders(chunk))
    before = data_files(repo, "orders")
    repo.create_branch("feature")
    assert data_files(repo, "orders") == before
    assert repo.resolve("feature") == repo.resolve("main")
    assert ids(repo, "feature") == [1, 2, 3, 4, 5]


def test_branch_writes_are_invisible_elsewhere(repo: lake.Repository) -> None:
    repo.branch("main").write("orders", orders([1]))
    a = repo.create_branch("a")
    b = repo.create_branch("b")
    a.write("orders", orders([2]))
    b.delete("orders", "order_id = 1")
    assert ids(repo, "main") == [1]
    assert ids(repo, "a") == [1, 2]
    assert ids(repo, "b") == []


def test_append_on_a_branch_copies_no_base_data(repo: lake.Repository, data_files: FilesOf) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1, 2, 3]))
    base = data_files(repo, "orders")
    repo.create_branch("feature").write("orders", orders([4]))
    added = data_files(repo, "orders") - base
    assert len(added) == 1 and all(p.startswith("_branches/") for p in added)


def test_overwrite_on_a_branch_copies_no_base_data(repo: lake.Repository, data_files: FilesOf) -> None:
    repo.branch("main").write("orders", orders([1, 2, 3]))
    base = data_files(repo, "orders")
    repo.create_branch("feature").write("orders", orders([9]), mode="overwrite")
    assert len(data_files(repo, "orders") - base) == 1
    assert ids(repo, "feature") == [9] and ids(repo, "main") == [1, 2, 3]


def test_delete_on_a_branch_rewrites_only_the_files_it_touches(
    repo: lake.Repository, data_files: FilesOf
) -> None:
    main = repo.branch("main")
    for chunk in ([1, 2], [3, 4], [5, 6]):
        main.write("orders", orders(chunk))
    base = data_files(repo, "orders")
    result = repo.create_branch("fix").delete("orders", "order_id = 3")
    assert result.datasets["orders"].files_removed == 1
    assert len(data_files(repo, "orders") - base) == 1  # the one rewritten file
    assert ids(repo, "fix") == [1, 2, 4, 5, 6]
    assert ids(repo) == [1, 2, 3, 4, 5, 6]


def test_upsert_on_a_branch_then_branch_of_branch(repo: lake.Repository) -> None:
    repo.branch("main").write("orders", orders([1, 2]))
    dev = repo.create_branch("dev")
    dev.upsert("orders", pa.table({"order_id": [2, 3], "amount": [20.0, 30.0]}), key=["order_id"])
    child = repo.create_branch("dev-child", "dev")
    child.delete("orders", "order_id = 1")
    child.write("orders", orders([4]))
    assert ids(repo, "dev-child") == [2, 3, 4]
    assert ids(repo, "dev") == [1, 2, 3]
    amounts = dict(zip(*repo.read("orders", "dev-child").to_pydict().values(), strict=True))
    assert amounts[2] == 20.0


def test_branch_from_a_tag_and_from_a_commit(repo: lake.Repository) -> None:
    main = repo.branch("main")
    first = main.write("orders", orders([1])).commit
    repo.create_tag("v1")
    main.write("orders", orders([2]))
    repo.create_branch("from-tag", "v1")
    repo.create_branch("from-commit", first[:10])
    assert ids(repo, "from-tag") == [1] and ids(repo, "from-commit") == [1]


def test_delete_branch_and_the_default_branch_is_kept(repo: lake.Repository) -> None:
    repo.create_branch("tmp")
    repo.delete_branch("tmp")
    assert [b.name for b in repo.branches()] == ["main"]
    with pytest.raises(lake.RefusedError, match="main"):
        repo.delete_branch("main")
    with pytest.raises(lake.RefNotFoundError, match="tmp"):
        repo.branch("tmp")


def test_a_branch_recreated_under_the_same_name_starts_clean(repo: lake.Repository) -> None:
    repo.branch("main").write("orders", orders([1]))
    repo.create_branch("x").write("orders", orders([2]))
    repo.delete_branch("x")
    repo.create_branch("x").write("orders", orders([3]))
    assert ids(repo, "x") == [1, 3]


def test_existing_branch_name_is_refused(repo: lake.Repository) -> None:
    repo.create_branch("dup")
    with pytest.raises(lake.RefExistsError, match="dup"):
        repo.create_branch("dup")


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "empty"),
        ("a..b", "'..'"),
        ("-x", "start with '-'"),
        ("/x", "start or end with '/'"),
        ("x/", "start or end with '/'"),
        ("a//b", "'//'"),
        ("a b", "spaces or control"),
        ("a\x07b", "spaces or control"),
        ("a~b", "~ ^ :"),
        ("a^b", "~ ^ :"),
        ("a:b", "~ ^ :"),
        ("a?b", "~ ^ :"),
        ("a*b", "~ ^ :"),
        ("a[b", "~ ^ :"),
        ("a\\b", "~ ^ :"),
        ("x.lock", ".lock"),
        (".x", "start with '.'"),
        ("x.", "end with '.'"),
        ("a@{b", "@{"),
        ("@", "'@'"),
    ],
)
def test_ref_name_rules(local_repo: lake.Repository, name: str, rule: str) -> None:
    with pytest.raises(lake.InvalidRefNameError) as info:
        local_repo.create_branch(name)
    assert rule in info.value.message


@pytest.mark.parametrize("name", ["feature", "feature/x-1", "user/jo.e/fix_2", "v1.2"])
def test_good_ref_names_are_accepted(local_repo: lake.Repository, name: str) -> None:
    local_repo.create_branch(name)
