"""A VACUUM of main's table by another engine cannot destroy history or branches (issue 9, point 2).

Every layer the lake creates carries ``delta.deletedFileRetentionDuration`` and
``delta.logRetentionDuration`` of a century, so a default VACUUM (delta-rs here; Spark reads the
same properties) never finds a removed file old enough to delete, even a year on. A forced
zero-retention VACUUM is measured: it deletes the files of main's own folder that only older
commits, tags and branches use (never files under ``_branches/``, which Delta readers skip), and
the refs that needed them then fail to read with a StorageError, never wrong rows.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from deltalake import DeltaTable

import lake
from lake.maintain.stored import list_stored

YEAR_MS = 400 * 24 * 3600 * 1000


def rows(ids: list[int]) -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.int64())})


def ids(repo: lake.Repository, ref: str) -> list[int]:
    return sorted(repo.read("orders", ref).column("id").to_pylist())


def history(repo: lake.Repository) -> dict[str, list[int]]:
    """main removes a file that a tag and a branch still read, and a merged branch file that the
    branch still reads; returns what each ref reads."""
    main = repo.branch("main")
    main.write("orders", rows([1, 2, 3]))
    repo.create_tag("v1")
    repo.create_branch("b").write("orders", rows([10]))  # b stacks main's table at version 0
    etl = repo.create_branch("etl")
    etl.write("orders", rows([4, 5]))
    repo.merge("etl", into="main")  # main's table adds _branches/<etl>/part-... by path
    main.delete("orders", "id = 4")  # removes that merged file from main's table
    main.delete("orders", "id = 1")  # removes main's first file, which v1 and b read
    return {ref: ids(repo, ref) for ref in ("main", "v1", "b", "etl")}


def age_removals(repo: lake.Repository) -> None:
    """Make every remove in main's log a year old: what a weekly VACUUM would see a year on."""
    fs = repo.config.arrow_filesystem()
    for s in list_stored(repo.config, "orders/_delta_log"):
        if not s.key.endswith(".json") or "/." in s.key:
            continue
        path = repo.config.arrow_path(repo.config.join(s.key))
        with fs.open_input_stream(path) as fh:
            lines = [json.loads(line) for line in fh.read().decode().splitlines() if line.strip()]
        for action in lines:
            if "remove" in action:
                action["remove"]["deletionTimestamp"] -= YEAR_MS
            if "commitInfo" in action:
                action["commitInfo"]["timestamp"] -= YEAR_MS
        with fs.open_output_stream(path) as out:
            out.write("".join(json.dumps(a) + "\n" for a in lines).encode())


def table(repo: lake.Repository) -> DeltaTable:
    return DeltaTable(repo.table_uri("orders"), storage_options=repo.config.delta_options())


def test_every_layer_sets_the_vacuum_retention(repo: lake.Repository) -> None:
    history(repo)
    branch = next(x for x in repo.fsck().layers if x.branch == "b")
    for uri in (repo.table_uri("orders"), f"{repo.table_uri('orders')}/{branch.layer}"):
        config = DeltaTable(uri, storage_options=repo.config.delta_options()).metadata().configuration
        assert config["delta.deletedFileRetentionDuration"] == "interval 36500 days"
        assert config["delta.logRetentionDuration"] == "interval 36500 days"
        assert config["delta.enableExpiredLogCleanup"] == "false"


@pytest.mark.parametrize("full", [False, True], ids=["lite", "full"])
def test_a_default_vacuum_a_year_later_deletes_nothing_a_ref_needs(repo: lake.Repository, full: bool) -> None:
    before = history(repo)
    age_removals(repo)
    dt = table(repo)
    # what the old 7-day default would have taken a year on: main's first file
    assert len(dt.vacuum(retention_hours=168, enforce_retention_duration=False, dry_run=True, full=full)) == 1

    assert dt.vacuum(dry_run=True, full=full) == []
    assert table(repo).vacuum(dry_run=False, full=full) == []

    assert {ref: ids(repo, ref) for ref in before} == before
    assert repo.fsck().clean
    # Spark's and delta-rs's check refuses an explicit shorter retention unless forced
    with pytest.raises(Exception, match="minimum retention for vacuum"):
        table(repo).vacuum(retention_hours=168, dry_run=True)


def test_a_forced_zero_retention_vacuum_breaks_the_refs_that_needed_its_files(repo: lake.Repository) -> None:
    """Measured for the docs: what ``vacuum(retention_hours=0, enforce_retention_duration=False)``
    does to a lake's main table."""
    before = history(repo)
    assert before == {"main": [2, 3, 5], "v1": [1, 2, 3], "b": [1, 2, 3, 10], "etl": [1, 2, 3, 4, 5]}
    listed = table(repo).vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=True)
    # main's first file only: the merged branch file main removed lives under _branches/, which
    # Delta's vacuum never lists
    assert len(listed) == 1 and not listed[0].startswith("_branches/")
    deleted = table(repo).vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    assert deleted == listed

    assert ids(repo, "main") == before["main"]
    for ref in ("v1", "b", "etl"):  # every one reads main's table at version 0
        with pytest.raises(lake.StorageError):
            repo.read("orders", ref)
    found = repo.fsck()
    assert found.problems and all(p.kind == "file" and listed[0] in p.message for p in found.problems)
