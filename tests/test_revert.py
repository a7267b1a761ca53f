"""Revert undoes a commit's rows (issue 9, point 7): matched by the primary key when the
contract in force has one, else by whole rows (counting duplicates), even after later commits
rewrote the commit's files; a later change to the same rows is a conflict."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from conftest import Lake

import lake


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
    c = cli.json("write", "orders", str(second))["commit"]  # type: ignore[index]
    cli("delete", "orders", "--where", "order_id = 5")
    out = cli("revert", str(c))
    assert "nothing changed" not in out and "committed" in out
    rows = cli("read", "orders", "--format", "csv").splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3"]
