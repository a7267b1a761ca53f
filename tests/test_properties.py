"""Property tests for the algebra of writes, branches and diffs (hypothesis)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lake

ids = st.lists(st.integers(min_value=-(2**40), max_value=2**40), min_size=0, max_size=30, unique=True)
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def table(values: list[int]) -> pa.Table:
    return pa.table({"k": pa.array(values, pa.int64()), "v": pa.array([str(x) for x in values], pa.string())})


def fresh(tmp_path: Path) -> lake.Repository:
    import uuid

    return lake.Repository.init(str(tmp_path / uuid.uuid4().hex))


@SETTINGS
@given(batches=st.lists(ids, min_size=1, max_size=4))
def test_what_is_written_is_what_is_read(tmp_path: Path, batches: list[list[int]]) -> None:
    repo = fresh(tmp_path)
    for b in batches:
        repo.branch("main").write("t", table(b))
    got = sorted(repo.read("t").column("k").to_pylist())
    assert got == sorted(x for b in batches for x in b)


@SETTINGS
@given(base=ids, added=ids, cut=st.integers(min_value=-(2**40), max_value=2**40))
def test_branch_changes_are_isolated_and_diff_counts_them(
    tmp_path: Path, base: list[int], added: list[int], cut: int
) -> None:
    repo = fresh(tmp_path)
    repo.branch("main").write("t", table(base))
    b = repo.create_branch("b")
    b.write("t", table(added))
    b.delete("t", f"k < {cut}")
    expected = sorted(x for x in [*base, *added] if x >= cut)
    assert sorted(repo.read("t", "b").column("k").to_pylist()) == expected
    assert sorted(repo.read("t").column("k").to_pylist()) == sorted(base)
    [d] = repo.diff("main", "b").datasets or [None]  # type: ignore[list-item]
    net = (d.rows_added - d.rows_removed) if d else 0
    assert net == len(expected) - len(base)


@SETTINGS
@given(first=ids, second=ids, upsert=ids)
def test_upsert_equals_delete_matching_keys_then_append(
    tmp_path: Path, first: list[int], second: list[int], upsert: list[int]
) -> None:
    repo = fresh(tmp_path)
    main = repo.branch("main")
    main.write("t", table(first))
    main.write("t", table([x for x in second if x not in first]))
    main.upsert(
        "t",
        pa.table({"k": pa.array(upsert, pa.int64()), "v": pa.array(["new"] * len(upsert), pa.string())}),
        key=["k"],
    )
    rows = dict(zip(*repo.read("t").to_pydict().values(), strict=True))
    before = set(first) | {x for x in second if x not in first}
    assert set(rows) == before | set(upsert)
    assert all(rows[k] == "new" for k in upsert)
    assert all(rows[k] == str(k) for k in before - set(upsert))


@SETTINGS
@given(base=ids, change=ids)
def test_revert_restores_the_previous_rows(tmp_path: Path, base: list[int], change: list[int]) -> None:
    repo = fresh(tmp_path)
    main = repo.branch("main")
    main.write("t", table(base))
    result = main.write("t", table(change), mode="overwrite")
    repo.revert(result.commit)
    assert sorted(repo.read("t").column("k").to_pylist()) == sorted(base)
