"""Three-way merges: both sides changing the same Delta table, by reference, atomically."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lake
from lake.contracts import Contract
from lake.graph.refs import RefStore

FilesOf = Callable[[lake.Repository, str], set[str]]
PK = Contract.model_validate(
    {
        "dataset": "orders",
        "primary_key": ["id"],
        "columns": {"id": {"type": "int64"}, "v": {"type": "string"}},
    }
)


def rows(ids: list[int], v: str = "x") -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.int64()), "v": pa.array([f"{v}{i}" for i in ids], pa.string())})


def ids(repo: lake.Repository, ref: str = "main") -> list[int]:
    return sorted(repo.read("orders", ref).column("id").to_pylist())


def plain(repo: lake.Repository) -> dict[int, str]:
    frame = pl.read_delta(repo.table_uri("orders"), storage_options=repo.config.polars_options())
    return dict(zip(frame["id"].to_list(), frame["v"].to_list(), strict=True))


def test_two_branches_that_both_append_both_merge(repo: lake.Repository, data_files: FilesOf) -> None:
    repo.branch("main").write("orders", rows([1, 2]))
    a, b = repo.create_branch("a"), repo.create_branch("b")
    a.write("orders", rows([3]))
    b.write("orders", rows([4]))
    before = data_files(repo, "orders")
    first = repo.merge("a")
    second = repo.merge("b")
    assert data_files(repo, "orders") == before  # merging copied no data file
    assert (first.kind, second.kind) == ("fast-forward", "merge")
    assert second.datasets["orders"].rows_added == 1
    assert ids(repo) == [1, 2, 3, 4]
    assert sorted(plain(repo)) == [1, 2, 3, 4]  # main's plain Delta table agrees
    head = repo.commit("main").commit
    assert head.parents[1] == repo.resolve("b") and head.metadata["lake.merge"]["source"] == "b"


def test_fast_forward_into_a_branch_moves_its_ref(repo: lake.Repository) -> None:
    repo.branch("main").write("orders", rows([1]))
    dev = repo.create_branch("dev")
    feature = repo.create_branch("feature", "dev")
    feature.write("orders", rows([2]))
    result = repo.merge("feature", into="dev")
    assert result.kind == "fast-forward" and dev.head == feature.head
    assert repo.merge("feature", into="dev").kind == "up-to-date"


def test_disjoint_rows_of_the_same_file_merge_by_primary_key(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.set_contract("orders", PK)
    main.write("orders", rows([1, 2, 3]))  # one file
    a, b = repo.create_branch("a"), repo.create_branch("b")
    a.upsert("orders", pa.table({"id": [1], "v": ["A"]}), key=["id"])
    b.upsert("orders", pa.table({"id": [3], "v": ["B"]}), key=["id"])
    b.delete("orders", "id = 2")
    repo.merge("a")
    repo.merge("b")
    assert plain(repo) == {1: "A", 3: "B"}
    assert dict(zip(*repo.read("orders").to_pydict().values(), strict=True)) == {1: "A", 3: "B"}


def test_the_same_key_changed_differently_is_a_conflict(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.set_contract("orders", PK)
    main.write("orders", rows([1, 2]))
    a, b = repo.create_branch("a"), repo.create_branch("b")
    a.upsert("orders", pa.table({"id": [2], "v": ["from-a"]}), key=["id"])
    b.upsert("orders", pa.table({"id": [2], "v": ["from-b"]}), key=["id"])
    repo.merge("a")
    head = main.head
    dry = repo.merge("b", dry_run=True)
    assert dry.commit is None and main.head == head
    [conflict] = dry.conflicts
    assert conflict.keys[0].key == {"id": 2}
    assert (conflict.keys[0].source, conflict.keys[0].target) == ({"v": "from-b"}, {"v": "from-a"})
    with pytest.raises(lake.MergeConflictError, match="from-b") as info:
        repo.merge("b")
    assert main.head == head and info.value.conflicts[0].dataset == "orders"
    repo.merge("b", strategy="target-wins")
    assert plain(repo)[2] == "from-a"


def test_source_wins_takes_the_sources_rows(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.set_contract("orders", PK)
    main.write("orders", rows([1, 2]))
    a, b = repo.create_branch("a"), repo.create_branch("b")
    a.upsert("orders", pa.table({"id": [2], "v": ["A"]}), key=["id"])
    b.upsert("orders", pa.table({"id": [2, 7], "v": ["B", "B7"]}), key=["id"])
    repo.merge("a")
    repo.merge("b", strategy="source-wins")
    assert plain(repo) == {1: "x1", 2: "B", 7: "B7"}


def test_without_a_primary_key_rewriting_the_same_file_conflicts(repo: lake.Repository) -> None:
    repo.branch("main").write("orders", rows([1, 2]))
    a, b = repo.create_branch("a"), repo.create_branch("b")
    a.delete("orders", "id = 1")
    b.delete("orders", "id = 2")
    repo.merge("a")
    with pytest.raises(lake.MergeConflictError, match="no primary key"):
        repo.merge("b")
    repo.merge("b", strategy="source-wins")
    assert ids(repo) == [1]


def test_both_sides_adding_different_columns_merge(repo: lake.Repository) -> None:
    repo.branch("main").write("orders", rows([1]))
    a, b = repo.create_branch("a"), repo.create_branch("b")
    a.write("orders", pa.table({"id": [2], "v": ["a"], "note": ["n"]}), schema_mode="merge")
    b.write("orders", pa.table({"id": [3], "v": ["b"], "score": [1.5]}), schema_mode="merge")
    repo.merge("a")
    repo.merge("b")
    table = repo.read("orders").sort_by("id")
    assert table.column_names == ["id", "v", "note", "score"]
    assert table.column("note").to_pylist() == [None, "n", None]
    assert table.column("score").to_pylist() == [None, None, 1.5]


def test_both_sides_adding_a_column_with_different_types_conflicts(repo: lake.Repository) -> None:
    repo.branch("main").write("orders", rows([1]))
    a, b = repo.create_branch("a"), repo.create_branch("b")
    a.write("orders", pa.table({"id": [2], "v": ["a"], "extra": ["s"]}), schema_mode="merge")
    b.write("orders", pa.table({"id": [3], "v": ["b"], "extra": [1]}), schema_mode="merge")
    repo.merge("a")
    with pytest.raises(lake.MergeConflictError, match="different types"):
        repo.merge("b")


def test_merging_main_back_into_a_branch(repo: lake.Repository) -> None:
    repo.branch("main").write("orders", rows([1]))
    x = repo.create_branch("x")
    x.write("orders", rows([10]))
    y = repo.create_branch("y")
    y.write("orders", rows([20]))
    repo.merge("y")
    result = repo.merge("main", into="x")
    assert result.kind == "merge"
    assert ids(repo, "x") == [1, 10, 20]
    repo.merge("x")
    assert ids(repo) == [1, 10, 20] and sorted(plain(repo)) == [1, 10, 20]


def test_a_dataset_only_the_source_created_is_taken(repo: lake.Repository) -> None:
    repo.branch("main").write("orders", rows([1]))
    a = repo.create_branch("a")
    a.write("customers", pa.table({"c": [1]}))
    repo.branch("main").write("orders", rows([2]))
    repo.merge("a")
    assert repo.read("customers").num_rows == 1


def test_criss_cross_history_has_a_deterministic_base(local_repo: lake.Repository) -> None:
    repo = local_repo
    repo.branch("main").write("orders", rows([1]))
    a, b = repo.create_branch("a"), repo.create_branch("b")
    a.write("orders", rows([2]))
    b.write("orders", rows([3]))
    repo.merge("a", into="b")
    repo.merge("b", into="a", strategy="fail")
    a.write("orders", rows([4]))
    b.write("orders", rows([5]))
    first = repo.merge("a", into="b", dry_run=True)
    again = repo.merge("a", into="b", dry_run=True)
    assert first.base == again.base is not None
    repo.merge("a", into="b")
    assert ids(repo, "b") == [1, 2, 3, 4, 5]


def test_a_protected_branch_changes_only_by_merges(repo: lake.Repository) -> None:
    repo.branch("main").write("orders", rows([1]))
    repo.protect("main", protected=True)
    with pytest.raises(lake.RefusedError, match="protected"):
        repo.branch("main").write("orders", rows([2]))
    with pytest.raises(lake.RefusedError, match="protected"):
        repo.branch("main").delete("orders", "id = 1")
    repo.create_branch("work").write("orders", rows([2]))
    repo.merge("work")
    assert ids(repo) == [1, 2]
    with pytest.raises(lake.RefusedError, match="contracts change only by merges"):
        repo.branch("main").set_contract("orders", PK)
    proposal = repo.create_branch("proposal")
    proposal.set_contract("orders", PK)
    with pytest.raises(lake.GateFailedError):  # a protected branch's contract changes by approval
        repo.merge("proposal")
    repo.merge("proposal", approve_contract_change="orders gets its first contract")
    assert repo.contract("orders") == PK
    repo.create_branch("doomed")
    repo.protect("doomed", protected=True)
    with pytest.raises(lake.RefusedError, match="cannot be deleted"):
        repo.delete_branch("doomed")


BY_V = Contract.model_validate(
    {
        "dataset": "orders",
        "primary_key": ["v"],
        "columns": {"id": {"type": "int64"}, "v": {"type": "string"}},
    }
)


def test_a_merge_replanned_after_the_target_moved_keeps_the_key_the_gate_judged(
    repo: lake.Repository,
) -> None:
    """The target's contract keys orders by id, the source's (the one they forked from) by v.
    The merge is planned by id and the gate judges that plan; a writer then moves the target,
    so the commit plans again. It must plan by the same key, else it writes what nobody judged
    (here: id 1 twice, against the target's primary key)."""
    main = repo.branch("main")
    main.set_contract("orders", BY_V)
    main.write("orders", rows([1, 2, 3]))  # one file
    feature = repo.create_branch("feature")
    feature.upsert("orders", pa.table({"id": [1], "v": ["A"]}), key=["id"])
    main.set_contract("orders", PK)
    main.upsert("orders", pa.table({"id": [1], "v": ["B"]}), key=["id"])  # both rewrote the file
    real_summary = lake.GateReport.summary
    moved = {"done": False}

    def summary_while_a_rival_writes(self: lake.GateReport) -> dict[str, object]:
        if not moved["done"]:  # the gate has judged; the target moves before the merge commits
            moved["done"] = True
            repo.branch("main").write("orders", rows([4]), message="rival")
        return real_summary(self)

    lake.GateReport.summary = summary_while_a_rival_writes  # type: ignore[method-assign]
    try:
        result = repo.merge("feature", strategy="source-wins")
    finally:
        lake.GateReport.summary = real_summary  # type: ignore[method-assign]
    assert moved["done"] and result.kind == "merge"
    first_parent = repo.commit("main").commit.parents[0]
    assert repo.commit(first_parent).commit.message == "rival"  # the merge landed on top of it
    table = repo.read("orders")
    got = sorted(zip(*table.to_pydict().values(), strict=True))
    assert got == [(1, "A"), (2, "x2"), (3, "x3"), (4, "x4")]  # by id, as the gate judged
    assert plain(repo) == {1: "A", 2: "x2", 3: "x3", 4: "x4"}
    assert repo.check_contract("orders").ok


SETTINGS = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
id_lists = st.lists(st.integers(0, 10**6), max_size=20, unique=True)


@SETTINGS
@given(base=id_lists, left=id_lists, right=id_lists)
def test_a_merge_of_two_disjoint_appends_contains_both(
    tmp_path: Path, base: list[int], left: list[int], right: list[int]
) -> None:
    import uuid

    repo = lake.Repository.init(str(tmp_path / uuid.uuid4().hex))
    repo.branch("main").write("orders", rows(base))
    a, b = repo.create_branch("a"), repo.create_branch("b")
    a.write("orders", rows([i + 2 * 10**6 for i in left]))
    b.write("orders", rows([i + 4 * 10**6 for i in right]))
    repo.merge("a")
    repo.merge("b")
    expected = sorted([*base, *(i + 2 * 10**6 for i in left), *(i + 4 * 10**6 for i in right)])
    assert ids(repo) == expected
    # merging an unchanged branch changes nothing
    head = repo.branch("main").head
    assert repo.merge("a").kind == "up-to-date" and repo.branch("main").head == head


def test_a_merge_rebased_past_a_rival_keeps_its_second_parent(repo: lake.Repository) -> None:
    """A writer of another dataset moves main just before the merge swaps the ref: the merge
    rebases onto it, and must stay a merge (two parents), so that merging again is a no-op."""
    main = repo.branch("main")
    main.write("orders", rows([1]))
    repo.create_branch("feature").write("orders", rows([2]))
    real_move = RefStore.move
    raced = {"done": False}

    def move_after_a_rival(self: RefStore, ref, commit, **kw):  # type: ignore[no-untyped-def]
        if not raced["done"] and ref.name == "main":
            raced["done"] = True
            repo.branch("main").write("other", pa.table({"x": [1]}), message="rival")
        return real_move(self, ref, commit, **kw)

    RefStore.move = move_after_a_rival  # type: ignore[method-assign]
    try:
        repo.merge("feature")
    finally:
        RefStore.move = real_move  # type: ignore[method-assign]
    head = repo.commit("main").commit
    assert raced["done"] and len(head.parents) == 2
    assert repo.commit(head.parents[0]).commit.message == "rival"
    assert head.parents[1] == repo.resolve("feature")
    assert repo.merge("feature").kind == "up-to-date"
    assert ids(repo) == [1, 2]
