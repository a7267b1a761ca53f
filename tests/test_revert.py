"""Revert undoes a commit's rows (issue 9, point 7): matched by the primary key when the
contract in force has one, else by whole rows (counting duplicates), even after later commits
rewrote the commit's files; a later change to the same rows is a conflict."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from conftest import Lake
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import lake

FilesOf = Callable[[lake.Repository, str], set[str]]


def orders(ids: list[int], note: str = "n") -> pa.Table:
    return pa.table(
        {
            "order_id": pa.array(ids, pa.int64()),
            "amount": [float(i) for i in ids],
            "note": [f"{note}{i}" for i in ids],
        }
    )


def ids(repo: lake.Repository, ref: str | None = None) -> list[int]:
    return sorted(repo.read("orders", ref).column("order_id").to_pylist())


# -- the report: a later commit rewrote C's file ------------------------------------------------------


def test_revert_after_a_later_delete_removes_the_rest_of_the_commits_rows(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1, 2, 3]))
    c = main.write("orders", orders([4, 5, 6])).commit
    main.delete("orders", "order_id = 5")
    result = repo.revert(c)
    assert result.changed
    assert ids(repo) == [1, 2, 3]
    assert repo.commit(result.commit).commit.metadata["lake.revert"] == c


def test_revert_after_a_later_delete_through_the_cli(cli: Lake, tmp_path: Path) -> None:
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text("order_id,amount\n1,1.0\n2,2.0\n3,3.0\n")
    second.write_text("order_id,amount\n4,4.0\n5,5.0\n6,6.0\n")
    cli("write", "orders", str(first))
    c = cli.json("write", "orders", str(second))["commit"]
    cli("delete", "orders", "--where", "order_id = 5")
    out = cli("revert", str(c))
    assert "nothing changed" not in out and "committed" in out
    rows = cli("read", "orders", "--format", "csv").splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3"]


# -- whole rows, counting duplicates (no primary key) -----------------------------------------------


def rows_of(repo: lake.Repository, ref: str | None = None) -> list[tuple[int, str]]:
    t = repo.read("orders", ref)
    return sorted(zip(t.column("order_id").to_pylist(), t.column("note").to_pylist(), strict=True))


def test_without_a_key_a_duplicate_row_loses_only_the_copy_the_commit_added(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1, 2, 3]))
    c = main.write("orders", orders([3, 4, 3])).commit  # row 3 twice more
    main.delete("orders", "order_id = 4")  # rewrites c's file: its two copies of 3 move
    repo.revert(c)
    assert rows_of(repo) == [(1, "n1"), (2, "n2"), (3, "n3")]


def test_without_a_key_what_is_left_of_a_duplicated_row_goes(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1]))
    c = main.write("orders", orders([7, 7])).commit
    main.delete("orders", "order_id = 7")
    main.write("orders", orders([7]))  # one copy of the same row, written again
    repo.revert(c)  # c added it twice, one copy is here: that one goes
    assert rows_of(repo) == [(1, "n1")]


def test_the_rows_a_commit_deleted_come_back_after_their_file_was_rewritten(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1, 2, 3, 4]))
    c = main.delete("orders", "order_id = 2").commit
    main.delete("orders", "order_id = 3")  # rewrites the file c wrote
    repo.revert(c)
    assert ids(repo) == [1, 2, 4]


# -- by primary key -----------------------------------------------------------------------------------

PK = lake.Contract.model_validate(
    {
        "dataset": "orders",
        "primary_key": ["order_id"],
        "columns": {"order_id": {"type": "int64"}, "amount": {"type": "float64"}, "note": {"type": "string"}},
    }
)


def keyed(repo: lake.Repository) -> lake.Branch:
    main = repo.branch("main")
    main.set_contract("orders", PK)
    main.write("orders", orders([1, 2, 3]))
    return main


def notes(repo: lake.Repository, ref: str | None = None) -> dict[int, str]:
    return dict(rows_of(repo, ref))


def test_by_key_rows_deleted_later_are_no_conflict(repo: lake.Repository) -> None:
    main = keyed(repo)
    c = main.write("orders", orders([4, 5, 6])).commit
    main.delete("orders", "order_id = 5")
    repo.revert(c)
    assert ids(repo) == [1, 2, 3]


def test_by_key_an_update_is_undone_after_its_file_was_rewritten(repo: lake.Repository) -> None:
    main = keyed(repo)
    c = main.upsert("orders", orders([2, 9], note="c"), key=["order_id"]).commit
    main.upsert("orders", orders([3], note="later"), key=["order_id"])  # rewrites c's file
    repo.revert(c)
    assert notes(repo) == {1: "n1", 2: "n2", 3: "later3"}


def test_a_row_the_commit_added_and_a_later_commit_updated_is_a_conflict(repo: lake.Repository) -> None:
    main = keyed(repo)
    c = main.write("orders", orders([4, 5, 6])).commit
    main.upsert("orders", orders([5], note="later"), key=["order_id"])
    head = main.head
    with pytest.raises(lake.RevertConflictError, match="later commits changed 1 row") as info:
        repo.revert(c)
    assert isinstance(info.value, lake.MergeConflictError)  # reported as merges report conflicts
    assert main.head == head  # nothing was committed
    [conflict] = info.value.conflicts
    assert conflict.dataset == "orders"
    [k] = conflict.keys
    assert (k.key, k.source, k.target) == ({"order_id": 5}, None, {"amount": 5.0, "note": "later5"})
    assert info.value.to_dict()["commit"] == c

    repo.revert(c, strategy="current-wins")  # the later update stays, the rest of c goes
    assert notes(repo) == {1: "n1", 2: "n2", 3: "n3", 5: "later5"}


def test_revert_wins_overrides_the_later_update(repo: lake.Repository) -> None:
    main = keyed(repo)
    c = main.write("orders", orders([4, 5, 6])).commit
    main.upsert("orders", orders([5], note="later"), key=["order_id"])
    result = repo.revert(c, strategy="revert-wins")
    assert ids(repo) == [1, 2, 3]
    assert repo.commit(result.commit).commit.metadata["lake.revert_strategy"] == "revert-wins"


def test_a_deleted_key_present_again_with_other_values_is_a_conflict(repo: lake.Repository) -> None:
    main = keyed(repo)
    c = main.delete("orders", "order_id = 2").commit
    main.write("orders", orders([2], note="again"))
    with pytest.raises(lake.RevertConflictError) as info:
        repo.revert(c)
    [k] = info.value.conflicts[0].keys
    assert (k.source, k.target) == ({"amount": 2.0, "note": "n2"}, {"amount": 2.0, "note": "again2"})
    repo.revert(c, strategy="revert-wins")
    assert notes(repo) == {1: "n1", 2: "n2", 3: "n3"}


def test_a_deleted_key_present_again_as_it_was_is_already_reverted(repo: lake.Repository) -> None:
    main = keyed(repo)
    c = main.delete("orders", "order_id = 2").commit
    main.write("orders", orders([2]))
    result = repo.revert(c)
    assert not result.changed and notes(repo) == {1: "n1", 2: "n2", 3: "n3"}


def test_an_updated_row_deleted_later_is_a_conflict(repo: lake.Repository) -> None:
    main = keyed(repo)
    c = main.upsert("orders", orders([2], note="c"), key=["order_id"]).commit
    main.delete("orders", "order_id = 2")
    with pytest.raises(lake.RevertConflictError) as info:
        repo.revert(c)
    [k] = info.value.conflicts[0].keys
    assert (k.source, k.target) == ({"amount": 2.0, "note": "n2"}, None)


def test_a_conflict_through_the_cli(cli: Lake, tmp_path: Path) -> None:
    contract = tmp_path / "orders.yaml"
    contract.write_text(PK.to_yaml())
    first, second, later = (tmp_path / f"{n}.csv" for n in ("first", "second", "later"))
    first.write_text("order_id,amount,note\n1,1.0,a\n2,2.0,b\n")
    second.write_text("order_id,amount,note\n3,3.0,c\n4,4.0,d\n")
    later.write_text("order_id,amount,note\n4,40.0,later\n")
    cli("contract", "set", "orders", str(contract))
    cli("write", "orders", str(first))
    c = str(cli.json("write", "orders", str(second))["commit"])
    cli("upsert", "orders", str(later), "--key", "order_id")
    out = cli("revert", c, code=1)
    assert f"reverting {c[:12]} conflicts with later commits" in out and "--strategy revert-wins" in out
    assert "order_id" in out and "later" in out
    shown = cli.json("revert", c, code=1)
    assert shown["error"] == "RevertConflictError"
    assert shown["conflicts"][0]["keys"][0]["key"] == {"order_id": 4}
    cli("revert", c, "--strategy", "current-wins")
    rows = cli("read", "orders", "--format", "csv").splitlines()[1:]
    assert sorted(r.split(",")[0] for r in rows) == ["1", "2", "4"]
    cli("revert", c, "--strategy", "nonsense", code=2)


# -- merge commits ------------------------------------------------------------------------------------


def test_a_merge_commit_needs_a_parent(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1, 2]))
    feature = repo.create_branch("feature")
    feature.write("orders", orders([3, 4]))
    main.write("orders", orders([5]))
    merged = repo.merge("feature").commit
    assert merged is not None
    with pytest.raises(lake.InvalidInputError, match="is a merge") as info:
        repo.revert(merged)
    assert info.value.exit_code == 2 and "--parent 1" in (info.value.hint or "")
    with pytest.raises(lake.InvalidInputError, match="has no parent 3"):
        repo.revert(merged, parent=3)
    main.delete("orders", "order_id = 3")  # a later commit rewrites a file the merge brought
    result = repo.revert(merged, parent=1)  # undo what the merge brought into main
    assert ids(repo) == [1, 2, 5]
    assert repo.commit(result.commit).commit.metadata["lake.revert_parent"] == 1


def test_reverting_a_merge_against_its_second_parent_undoes_mains_side(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1, 2]))
    feature = repo.create_branch("feature")
    feature.write("orders", orders([3]))
    main.write("orders", orders([5]))
    merged = repo.merge("feature").commit
    assert merged is not None
    repo.revert(merged, parent=2)  # what main had that feature did not: row 5
    assert ids(repo) == [1, 2, 3]


def test_a_merge_commit_without_parent_through_the_cli(cli: Lake, tmp_path: Path) -> None:
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    one.write_text("order_id,amount\n1,1.0\n")
    two.write_text("order_id,amount\n2,2.0\n")
    cli("write", "orders", str(one))
    cli("branch", "create", "feature")
    cli("write", "orders", str(two), "--branch", "feature")
    cli("write", "orders", str(two))
    merged = str(cli.json("merge", "feature")["commit"])
    out = cli("revert", merged, code=2)
    assert "is a merge" in out and "--parent 1" in out
    cli("revert", merged, "--parent", "0", code=2)
    cli("revert", merged, "--parent", "1")
    rows = cli("read", "orders", "--format", "csv").splitlines()[1:]
    assert sorted(r.split(",")[0] for r in rows) == ["1", "2"]


def test_a_plain_commit_takes_parent_1_only(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1]))
    c = main.write("orders", orders([2])).commit
    with pytest.raises(lake.InvalidInputError, match="has no parent 2"):
        repo.revert(c, parent=2)
    repo.revert(c, parent=1)
    assert ids(repo) == [1]


# -- what stays as it was -----------------------------------------------------------------------------


def test_a_schema_changing_commit_is_still_refused(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1]))
    wider = orders([2]).append_column("extra", pa.array(["x"]))
    c = main.write("orders", wider, schema_mode="merge").commit
    with pytest.raises(lake.RefusedError, match="changed the schema of 'orders'"):
        repo.revert(c)


def test_reverting_twice_changes_nothing_the_second_time(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1]))
    c = main.write("orders", orders([2, 3])).commit
    main.delete("orders", "order_id = 3")
    first = repo.revert(c)
    again = repo.revert(c)
    assert first.changed and not again.changed and ids(repo) == [1]
    repo.revert(first.commit)  # the revert of the revert brings back what is left of c
    assert ids(repo) == [1, 2]


def test_revert_on_a_branch_of_a_commit_made_before_it(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("orders", orders([1, 2]))
    c = main.write("orders", orders([3, 4])).commit
    work = repo.create_branch("work")
    work.delete("orders", "order_id = 4")  # the branch rewrites c's file into its own layer
    repo.revert(c, branch="work")
    assert ids(repo, "work") == [1, 2]
    assert ids(repo) == [1, 2, 3, 4]


def test_an_untouched_commit_is_reverted_by_reference(repo: lake.Repository, data_files: FilesOf) -> None:
    main = keyed(repo)
    main.write("orders", orders([4, 5]))
    c = main.upsert("orders", orders([2, 9], note="c"), key=["order_id"]).commit
    before = data_files(repo, "orders")
    repo.revert(c)
    assert data_files(repo, "orders") == before  # no file written: the old one is back
    assert notes(repo) == {1: "n1", 2: "n2", 3: "n3", 4: "n4", 5: "n5"}


# -- what a revert reads ------------------------------------------------------------------------------


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The data files (dataset-relative paths) a revert reads rows or keys of."""
    from lake.table import revert, views

    seen: list[str] = []
    scan, read_files = views.View.scan, views.read_files

    def scanning(self: views.View, refs: list[views.FileRef] | None = None, **kw: object) -> object:
        seen.extend(r.path for r in (self.files.values() if refs is None else refs))
        return scan(self, refs, **kw)  # type: ignore[arg-type]

    def reading(layers: object, dataset: str, refs: list[views.FileRef], schema: pa.Schema) -> pa.Table:
        seen.extend(r.path for r in refs)
        return read_files(layers, dataset, refs, schema)  # type: ignore[arg-type]

    monkeypatch.setattr(views.View, "scan", scanning)
    monkeypatch.setattr(revert, "read_files", reading)
    return seen


@pytest.mark.parametrize("with_key", [True, False])
def test_revert_reads_only_the_commits_files_and_those_that_may_hold_its_rows(
    repo: lake.Repository, data_files: FilesOf, reads: list[str], with_key: bool
) -> None:
    main = repo.branch("main")
    if with_key:
        main.set_contract("orders", PK)
    for start in range(0, 1000, 100):
        main.write("orders", orders(list(range(start, start + 100))))
    untouched = data_files(repo, "orders")
    c = main.write("orders", orders(list(range(2000, 2010)))).commit
    main.delete("orders", "order_id = 2005")
    reads.clear()
    repo.revert(c)
    assert ids(repo) == list(range(1000))
    assert reads and not set(reads) & untouched  # only c's file and the one the delete rewrote


def test_an_untouched_append_is_reverted_without_reading_a_row(
    repo: lake.Repository, reads: list[str]
) -> None:
    main = keyed(repo)
    c = main.write("orders", orders([4, 5])).commit
    main.write("orders", orders([6]))
    reads.clear()
    repo.revert(c)
    assert reads == [] and ids(repo) == [1, 2, 3, 6]


# -- properties: revert(C) is the history without C ---------------------------------------------------

KV = lake.Contract.model_validate(
    {"dataset": "t", "primary_key": ["k"], "columns": {"k": {"type": "int64"}, "v": {"type": "string"}}}
)
Row = tuple[int, str]
Step = tuple[str, list[int], str]  # ("append" | "upsert" | "delete", keys, value)

keys = st.lists(st.integers(min_value=0, max_value=7), min_size=1, max_size=5, unique=True)
steps = st.lists(
    st.tuples(st.sampled_from(["append", "upsert", "delete"]), keys, st.sampled_from(["a", "b"])),
    min_size=2,
    max_size=6,
)
STRATEGY_WINS = ["revert-wins", "current-wins"]
PROPERTY = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def kv(rows: list[Row]) -> pa.Table:
    return pa.table(
        {"k": pa.array([k for k, _ in rows], pa.int64()), "v": pa.array([v for _, v in rows], pa.string())}
    )


def run(branch: lake.Branch, step: Step) -> bool:
    """Run ``step``; whether it made a commit (a step that changes nothing makes none)."""
    kind, ks, value = step
    if kind == "append":
        return branch.write("t", kv([(k, value) for k in ks])).changed
    if kind == "upsert":
        return branch.upsert("t", kv([(k, value) for k in ks]), key=["k"]).changed
    return branch.delete("t", f"k IN ({', '.join(map(str, ks))})").changed


def model(state: dict[int, str], step: Step) -> dict[int, str]:
    kind, ks, value = step
    out = dict(state)
    if kind == "delete":
        for k in ks:
            out.pop(k, None)
    else:
        out.update(dict.fromkeys(ks, value))
    return out


def table_of(repo: lake.Repository) -> dict[int, str]:
    t = repo.read("t")
    got = list(zip(t.column("k").to_pylist(), t.column("v").to_pylist(), strict=True))
    assert len(got) == len({k for k, _ in got})
    return dict(got)


@PROPERTY
@given(
    first=keys,
    history=steps,
    pick=st.integers(min_value=0, max_value=64),
    winner=st.sampled_from(STRATEGY_WINS),
)
def test_by_key_revert_is_the_history_without_the_commit(
    tmp_path: Path, first: list[int], history: list[Step], pick: int, winner: str
) -> None:
    repo = lake.Repository.init(str(tmp_path / uuid.uuid4().hex))
    main = repo.branch("main")
    main.set_contract("t", KV)
    states = [dict.fromkeys(first, "0")]
    main.write("t", kv(list(states[0].items())))
    done: list[tuple[str, Step]] = []  # (commit, step as run)
    for kind, ks, value in history:
        if kind == "append":  # appends bring new keys only (the key is unique)
            ks = [k for k in ks if k not in states[-1]]
            if not ks:
                continue
        step: Step = (kind, ks, value)
        if run(main, step):
            done.append((main.head, step))
            states.append(model(states[-1], step))
    if not done:
        return
    assert table_of(repo) == states[-1]
    i = pick % len(done)
    c = done[i][0]
    before, after, now = states[i], states[i + 1], states[-1]
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    touched = {k for _, (_, ks, _) in done[i + 1 :] for k in ks}
    clash = {k for k in changed if now.get(k) not in (after.get(k), before.get(k))}

    def reverted(keys_back: set[int]) -> dict[int, str]:
        out = dict(now)
        for k in keys_back:
            out.pop(k, None)
            if k in before:
                out[k] = before[k]
        return out

    event("untouched" if not changed & touched else "conflict" if clash else "touched, no conflict")
    if not changed & touched:
        replay = states[0]
        for _, step in done[:i] + done[i + 1 :]:
            replay = model(replay, step)
        repo.revert(c)
        assert table_of(repo) == replay
        return
    as_left = {k for k in changed if now.get(k) == after.get(k)}
    if clash:
        head = main.head
        with pytest.raises(lake.RevertConflictError) as info:
            repo.revert(c)
        assert main.head == head
        reported = {k.key["k"] for conflict in info.value.conflicts for k in conflict.keys}
        assert reported == clash
        repo.revert(c, strategy=winner)  # type: ignore[arg-type]
        assert table_of(repo) == reverted(as_left | clash if winner == "revert-wins" else as_left)
    else:
        repo.revert(c)
        assert table_of(repo) == reverted(as_left)


Rows = st.lists(
    st.tuples(st.integers(min_value=0, max_value=5), st.sampled_from(["a", "b"])), min_size=1, max_size=6
)


@PROPERTY
@given(
    first=Rows,
    history=st.lists(
        st.one_of(st.tuples(st.just("append"), Rows), st.tuples(st.just("delete"), keys)), max_size=5
    ),
    pick=st.integers(min_value=0, max_value=64),
)
def test_by_whole_rows_revert_removes_the_copies_added_and_restores_the_rows_removed(
    tmp_path: Path, first: list[Row], history: list[tuple[str, Any]], pick: int
) -> None:
    repo = lake.Repository.init(str(tmp_path / uuid.uuid4().hex))
    main = repo.branch("main")
    main.write("t", kv(first))
    states = [Counter(first)]
    commits = [main.head]
    for kind, arg in history:
        if kind == "append":
            main.write("t", kv(arg))
            states.append(states[-1] + Counter(arg))
        elif main.delete("t", f"k IN ({', '.join(map(str, arg))})").changed:
            states.append(Counter({r: n for r, n in states[-1].items() if r[0] not in arg}))
        else:
            continue  # nothing matched: no commit
        commits.append(main.head)
    i = pick % len(commits)
    before = states[i - 1] if i else Counter()
    plus, minus, now = states[i] - before, before - states[i], states[-1]
    expected = now - Counter({r: min(n, now[r]) for r, n in plus.items()}) + minus
    repo.revert(commits[i])
    t = repo.read("t")
    assert Counter(zip(t.column("k").to_pylist(), t.column("v").to_pylist(), strict=True)) == expected
