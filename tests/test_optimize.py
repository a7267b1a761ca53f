"""`lake optimize`: small files compacted in one Delta OPTIMIZE commit (dataChange false), no row
changed for any reader, allowed on protected main and recorded (issue 9, point 5)."""

from __future__ import annotations

import json

import polars as pl
import pyarrow as pa
from conftest import Lake
from deltalake import DeltaTable

import lake


def batch(i: int, n: int = 10) -> pa.Table:
    return pa.table({"id": pa.array(range(i * n, i * n + n), pa.int64()), "note": [f"b{i}"] * n})


def _log_entry(repo: lake.Repository, version: int) -> list[dict[str, object]]:
    blob = repo._store.get(f"orders/_delta_log/{version:020d}.json")
    assert blob is not None
    return [json.loads(line) for line in blob.data.splitlines() if line.strip()]


def test_optimize_compacts_without_changing_a_row_on_protected_main(repo: lake.Repository) -> None:
    main = repo.branch("main")
    for i in range(12):
        main.write("orders", batch(i))
    repo.create_tag("before")
    before = repo.read("orders").sort_by("id")
    repo.protect("main", protected=True)

    result = repo.optimize("orders")
    change = result.datasets["orders"]
    assert (change.operation, change.rows_added, change.rows_removed) == ("optimize", 0, 0)
    assert (change.files_added, change.files_removed) == (1, 12)
    assert repo.datasets()[0].files == 1
    assert repo.read("orders").sort_by("id").equals(before)
    head = repo.log(limit=1)[0].commit
    assert head.metadata["lake.optimize"]["dataset"] == "orders"

    # a plain reader sees the same rows, in the order they arrived, from one file
    uri = repo.table_uri("orders")
    plain = pl.read_delta(uri, storage_options=repo.config.polars_options())
    assert plain["id"].to_list() == list(range(120))
    dt = DeltaTable(uri, storage_options=repo.config.delta_options())
    assert len(dt.file_uris()) == 1
    info = dt.history(1)[0]
    assert info["operation"] == "OPTIMIZE"
    entry = _log_entry(repo, dt.version())
    actions = [a for a in entry if "add" in a or "remove" in a]
    assert len(actions) == 13
    assert all(next(iter(a.values()))["dataChange"] is False for a in actions)

    # the old files stay for history until gc
    assert repo.read("orders", "before").sort_by("id").equals(before)


def test_optimize_a_branch_keeps_main_untouched(repo: lake.Repository) -> None:
    main = repo.branch("main")
    for i in range(3):
        main.write("orders", batch(i))
    repo.create_branch("etl")
    etl = repo.branch("etl")
    for i in range(3, 6):
        etl.write("orders", batch(i))
    main_before = repo.read("orders").sort_by("id")
    etl_before = repo.read("orders", "etl").sort_by("id")

    repo.optimize("orders", branch="etl")
    assert repo.read("orders", "etl").sort_by("id").equals(etl_before)
    assert repo.read("orders").sort_by("id").equals(main_before)
    assert repo.datasets("etl")[0].files == 1
    repo.merge("etl")
    assert repo.read("orders").sort_by("id").equals(etl_before)


def test_target_size_packs_bins_and_leaves_big_files_alone(repo: lake.Repository) -> None:
    main = repo.branch("main")
    for i in range(8):
        main.write("orders", batch(i, 200))
    size = max(f.file.size for f in repo._view("orders", None).files.values())
    result = repo.optimize("orders", target_size=size * 3)  # about three files per bin
    assert 2 <= result.datasets["orders"].files_added <= 4
    assert repo.read("orders").num_rows == 1600
    again = repo.optimize("orders", target_size=size * 3)
    assert not again.changed  # nothing small left to pack


def test_cli_optimize(cli: Lake, tmp_path: object) -> None:
    repo = lake.Repository.open(cli.uri)
    for i in range(4):
        repo.branch("main").write("orders", batch(i))
    out = cli("optimize", "orders", "--target-size", "16MB")
    assert "committed" in out
    assert repo.datasets()[0].files == 1
    bad = cli("optimize", "orders", "--target-size", "huge", code=2)
    assert "is not a size" in bad
    cli("optimize", "nope", code=2)
