"""Commits, log, show, tags, time travel, revert and diff."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pyarrow as pa
import pytest

import lake

FilesOf = Callable[[lake.Repository, str], set[str]]


def orders(ids: list[int]) -> pa.Table:
    return pa.table({"order_id": pa.array(ids, pa.int64()), "amount": [float(i) for i in ids]})


def ids(repo: lake.Repository, ref: str | None = None, dataset: str = "orders") -> list[int]:
    return sorted(repo.read(dataset, ref).column("order_id").to_pylist())


def test_commits_are_content_addressed_and_immutable(repo: lake.Repository) -> None:
    result = repo.branch("main").write("orders", orders([1]))
    info = repo.commit(result.commit)
    assert info.id == hashlib.sha256(info.commit.encode()).hexdigest() == result.commit
    assert info.commit.parents == (result.parent,)


def test_read_and_scan_at_any_past_commit(repo: lake.Repository) -> None:
    main = repo.branch("main")
    c1 = main.write("orders", orders([1])).commit
    c2 = main.write("orders", orders([2])).commit
    main.delete("orders", "order_id = 1")
    main.write("orders", orders([7]), mode="overwrite")
    assert ids(repo, c1) == [1]
    assert ids(repo, c2) == [1, 2]
    assert sorted(repo.scan("orders", c2).collect()["order_id"].to_list()) == [1, 2]
    assert ids(repo) == [7]


def test_log_lists_newest_first_and_filters_by_dataset(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1]), message="o1")
    main.write("customers", pa.table({"customer_id": [1]}), message="c1")
    main.write("orders", orders([2]), message="o2")
    assert [c.commit.message for c in repo.log()] == ["o2", "c1", "o1", "Initialize repository"]
    assert [c.commit.message for c in repo.log(dataset="orders")] == ["o2", "o1"]
    assert [c.commit.message for c in repo.log(limit=1)] == ["o2"]


def test_datasets_lists_rows_files_schema_and_the_plain_table(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1, 2]))
    main.write("orders", orders([3]))
    [info] = repo.datasets()
    assert (info.name, info.rows, info.files) == ("orders", 3, 2)
    assert info.columns == (("order_id", "int64"), ("amount", "double"))
    assert info.location == repo.table_uri("orders")
    repo.create_branch("b").write("orders", orders([4]))
    [on_branch] = repo.datasets("b")
    assert on_branch.rows == 4 and on_branch.location is None


def test_tags_never_move(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1]))
    tag = repo.create_tag("release-1")
    main.write("orders", orders([2]))
    assert repo.resolve("release-1") == tag.commit
    assert ids(repo, "release-1") == [1]
    assert [t.name for t in repo.tags()] == ["release-1"]
    with pytest.raises(lake.RefExistsError):
        repo.create_tag("release-1")
    repo.delete_tag("release-1")
    assert repo.tags() == []


def test_unknown_ref_is_named(repo: lake.Repository) -> None:
    with pytest.raises(lake.RefNotFoundError, match="nowhere"):
        repo.read("orders", "nowhere")


@pytest.mark.parametrize("on", ["main", "branch"])
def test_revert_undoes_an_append_a_delete_and_an_overwrite(repo: lake.Repository, on: str) -> None:
    repo.branch("main").write("orders", orders([1, 2, 3]))
    name = "main" if on == "main" else repo.create_branch("work").name
    b = repo.branch(name)
    appended = b.write("orders", orders([4])).commit
    deleted = b.delete("orders", "order_id = 2").commit
    overwritten = b.write("orders", orders([9]), mode="overwrite").commit
    repo.revert(overwritten, branch=name)
    assert ids(repo, name) == [1, 3, 4]
    repo.revert(deleted, branch=name)
    assert ids(repo, name) == [1, 2, 3, 4]
    result = repo.revert(appended, branch=name)
    assert ids(repo, name) == [1, 2, 3]
    assert repo.commit(result.commit).commit.metadata["lake.revert"] == appended


def test_revert_on_main_copies_no_data(repo: lake.Repository, data_files: FilesOf) -> None:

    main = repo.branch("main")
    main.write("orders", orders([1, 2, 3]))
    over = main.write("orders", orders([9]), mode="overwrite").commit
    before = data_files(repo, "orders")
    repo.revert(over)
    assert data_files(repo, "orders") == before
    assert ids(repo) == [1, 2, 3]


def test_diff_counts_rows_files_and_schema_changes(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1, 2]))
    main.write("orders", orders([3]))
    feature = repo.create_branch("feature")
    feature.write(
        "orders",
        pa.table({"order_id": [4, 5], "amount": [4.0, 5.0], "note": ["a", "b"]}),
        schema_mode="merge",
    )
    feature.delete("orders", "order_id = 3")
    feature.write("customers", pa.table({"customer_id": [1]}))
    d = repo.diff("main", "feature")
    by = {x.dataset: x for x in d.datasets}
    assert by["customers"].status == "added" and by["customers"].rows_added == 1
    o = by["orders"]
    assert (o.rows_added, o.rows_removed, o.files_added, o.files_removed) == (2, 1, 1, 1)
    assert [c.describe() for c in o.schema_changes] == ["+ note string"]
    back = {x.dataset: x for x in repo.diff("feature", "main").datasets}
    assert back["customers"].status == "removed"
    assert (back["orders"].rows_added, back["orders"].rows_removed) == (1, 2)
    assert isinstance(back["orders"].schema_changes[0], lake.ColumnDropped)


def test_diff_between_two_commits_of_main_reads_the_log_range(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1, 2]))
    a = main.head
    main.write("orders", orders([3]))
    main.delete("orders", "order_id = 1")
    [d] = repo.diff(a, "main").datasets
    # the delete rewrote the first file (2 rows) as one of 1 row; the append added 1 row
    assert (d.rows_added, d.rows_removed, d.files_added, d.files_removed) == (2, 2, 2, 1)
    assert repo.diff("main", "main").datasets == ()


def test_diff_of_a_branch_against_the_merge_that_took_it_counts_only_what_differs(
    repo: lake.Repository,
) -> None:
    """Found while building exact revert (issue 9.7): main holds the branch's files by reference
    after the merge, and the log-based diff counted them as added."""
    main = repo.branch("main")
    main.write("orders", pa.table({"id": [1, 2, 3]}))
    repo.create_branch("feature")
    repo.branch("feature").write("orders", pa.table({"id": [4]}))
    main.write("orders", pa.table({"id": [5]}))
    merged = repo.merge("feature")
    assert merged.commit is not None
    [d] = repo.diff("feature", merged.commit).datasets
    assert (d.files_added, d.files_removed, d.rows_added, d.rows_removed) == (1, 0, 1, 0)
    [back] = repo.diff(merged.commit, "feature").datasets
    assert (back.files_added, back.files_removed, back.rows_added, back.rows_removed) == (0, 1, 0, 1)
