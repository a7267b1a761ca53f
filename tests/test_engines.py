"""Any engine reads any ref (issue 13, part 1), on both backends: a branch read through
`lake export` (Delta and parquet), `lake files` (a file list, and a symlink manifest), a pyarrow
dataset and DuckDB holds exactly the rows `lake read --ref` prints.

The bug report: opening a branch's own folder (``<dataset>/_branches/<id>``) with deltalake gave
fewer rows than the branch holds, a trap; the folder's table now says what it is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from conftest import Lake
from deltalake import DeltaTable

import lake
from lake.cli.app import main

ROWS = 1000


def _setup(repo: lake.Repository) -> None:
    """main holds ids 0..999 (plain) and events over three days (partitioned); the branch
    deletes some of main's rows (shadowing main's files) and appends its own."""
    main = repo.branch("main")
    main.write("orders", pa.table({"id": list(range(ROWS)), "amount": [i / 4 for i in range(ROWS)]}))
    days = [f"2026-11-0{1 + i % 3}" for i in range(ROWS)]
    events = pa.table({"id": list(range(ROWS)), "day": pa.array(days).cast(pa.date32())})
    main.write("events", events, partition_by=["day"])
    b = repo.create_branch("feature")
    b.delete("orders", "id < 100")
    b.write("orders", pa.table({"id": [5000, 5001], "amount": [1.0, 2.0]}))
    b.delete("events", "day = '2026-11-02'")
    b.write("events", pa.table({"id": [7000], "day": pa.array(["2026-11-09"]).cast(pa.date32())}))


def _lake_read(cli: Lake, dataset: str, ref: str) -> list[dict[str, Any]]:
    out = cli("read", dataset, "--ref", ref, "--format", "json")
    return sorted((json.loads(line) for line in out.splitlines() if line.strip()), key=lambda r: r["id"])


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    rows = table.to_pylist()
    for r in rows:
        if "day" in r and r["day"] is not None:
            r["day"] = r["day"].isoformat()
    return sorted(rows, key=lambda r: r["id"])


def _target(repo: lake.Repository, tmp_path: Path, name: str) -> str:
    return f"{repo.uri}-exports/{name}" if repo.config.scheme == "s3" else str(tmp_path / name)


@pytest.fixture
def setup(cli: Lake) -> lake.Repository:
    repo = lake.Repository.open(cli.uri)
    _setup(repo)
    return repo


def test_a_branch_s_own_folder_says_it_is_not_the_branch(setup: lake.Repository, cli: Lake) -> None:
    """The reported trap, reproduced: the folder's Delta table holds only the branch's own
    files. Its metadata now names it and points to the ways that read the branch."""
    repo = setup
    repo.create_branch("appends").write("orders", pa.table({"id": [9000, 9001], "amount": [1.0, 2.0]}))
    snapshot = repo.snapshot("orders", "appends")
    own = [layer.path for layer in snapshot.layers if layer.path]
    assert own, "the branch has a layer of its own"
    table = DeltaTable(f"{repo.table_uri('orders')}/{own[-1]}", storage_options=repo.config.delta_options())
    plain = table.to_pyarrow_dataset().to_table(use_threads=False)
    assert (plain.num_rows, len(_lake_read(cli, "orders", "appends"))) == (2, ROWS + 2)  # the trap itself
    description = table.metadata().description or ""
    assert "NOT the branch's rows" in description and "lake export orders" in description
    main = DeltaTable(repo.table_uri("orders"), storage_options=repo.config.delta_options())
    assert "main's rows" in (main.metadata().description or "")


@pytest.mark.parametrize("dataset", ["orders", "events"])
def test_an_exported_branch_is_a_plain_delta_table_of_its_rows(
    setup: lake.Repository, cli: Lake, tmp_path: Path, dataset: str
) -> None:
    repo = setup
    target = _target(repo, tmp_path, f"{dataset}-feature")
    got = cli.json("export", dataset, "--ref", "feature", "--to", target)
    assert isinstance(got, dict) and got["rows"] == len(_lake_read(cli, dataset, "feature"))
    table = DeltaTable(target, storage_options=repo.config.delta_options())
    assert _rows(table.to_pyarrow_dataset().to_table(use_threads=False)) == _lake_read(
        cli, dataset, "feature"
    )
    if dataset == "events":
        assert table.metadata().partition_columns == ["day"]
    out = cli("export", dataset, "--ref", "feature", "--to", target, code=2)
    assert "holds files already" in out and "--overwrite" in out
    cli("export", dataset, "--ref", "main", "--to", target, "--overwrite")
    again = DeltaTable(target, storage_options=repo.config.delta_options())
    assert _rows(again.to_pyarrow_dataset().to_table(use_threads=False)) == _lake_read(cli, dataset, "main")


@pytest.mark.parametrize("dataset", ["orders", "events"])
def test_an_exported_branch_as_parquet_files(
    setup: lake.Repository, cli: Lake, tmp_path: Path, dataset: str
) -> None:
    repo = setup
    target = _target(repo, tmp_path, f"{dataset}-parquet")
    cli("export", dataset, "--ref", "feature", "--to", target, "--format", "parquet")
    fs = repo.config.arrow_filesystem()
    path = target.removeprefix("s3://")
    read = pads.dataset(
        path, filesystem=fs, format="parquet", partitioning="hive" if dataset == "events" else None
    )
    table = read.to_table(use_threads=False)
    if dataset == "events":
        table = table.set_column(table.schema.get_field_index("day"), "day", table["day"].cast(pa.date32()))
    assert _rows(table) == _lake_read(cli, dataset, "feature")


@pytest.mark.parametrize("dataset", ["orders", "events"])
def test_the_file_list_of_a_branch_reads_as_its_rows(setup: lake.Repository, cli: Lake, dataset: str) -> None:
    """What an engine that reads a file list does: read each listed file with the listed schema,
    partition values from the listing."""
    repo = setup
    listed = cli.json("files", dataset, "--ref", "feature")
    assert isinstance(listed, dict)
    assert listed["rows"] == len(_lake_read(cli, dataset, "feature"))
    fs = repo.config.arrow_filesystem()
    parts = []
    for f in listed["files"]:
        data = pq.read_table(f["uri"].removeprefix("s3://"), filesystem=fs)
        for name, value in f["partition"].items():
            data = data.append_column(name, pa.array([value] * data.num_rows).cast(pa.date32()))
        parts.append(data)
    assert _rows(pa.concat_tables(parts)) == _lake_read(cli, dataset, "feature")
    names = [c["name"] for c in listed["schema"]]
    assert set(names) == set(parts[0].column_names)
    assert listed["partition_by"] == (["day"] if dataset == "events" else [])


@pytest.mark.parametrize("dataset", ["orders", "events"])
def test_a_symlink_manifest_lists_the_branch_s_files(
    setup: lake.Repository, cli: Lake, tmp_path: Path, dataset: str
) -> None:
    repo = setup
    target = _target(repo, tmp_path, f"{dataset}-manifest")
    listed = cli.json("files", dataset, "--ref", "feature", "--manifest", target)
    assert isinstance(listed, dict)
    fs = repo.config.arrow_filesystem()
    base = target.removeprefix("s3://") + "/_symlink_format_manifest"
    found = [i.path for i in fs.get_file_info(pafs.FileSelector(base, recursive=True)) if i.is_file]
    lines = []
    for path in found:
        with fs.open_input_stream(path) as stream:
            lines += stream.read().decode().split()
        if dataset == "events":
            assert "/day=2026-11-" in path  # one manifest a partition, as Delta writes them
    expected = {f["uri"] if f["uri"].startswith("s3://") else f"file://{f['uri']}" for f in listed["files"]}
    assert set(lines) == expected and len(lines) == len(expected)
    rows = sum(
        pq.read_metadata(u.removeprefix("s3://").removeprefix("file://"), filesystem=fs).num_rows
        for u in lines
    )
    assert rows == len(_lake_read(cli, dataset, "feature"))


@pytest.mark.parametrize("dataset", ["orders", "events"])
def test_duckdb_reads_a_branch(setup: lake.Repository, cli: Lake, dataset: str) -> None:
    repo = setup
    relation = repo.to_duckdb(dataset, "feature")
    assert _rows(relation.to_arrow_table()) == _lake_read(cli, dataset, "feature")
    con = duckdb.connect()
    rel = repo.to_duckdb(dataset, "feature", connection=con)
    if dataset == "events":
        assert rel.filter("day = DATE '2026-11-09'").aggregate("count(*)").fetchall() == [(1,)]
    else:
        assert rel.filter("id >= 5000").aggregate("count(*)").fetchall() == [(2,)]
    assert repo.to_duckdb(dataset, "main").aggregate("count(*)").fetchall() == [(ROWS,)]


def test_reading_a_ref_that_is_not_there_is_bad_input(
    setup: lake.Repository, cli: Lake, tmp_path: Path
) -> None:
    cli("files", "orders", "--ref", "nope", code=2)
    cli("export", "nothing", "--to", str(tmp_path / "x"), code=2)
    out = cli("export", "orders", "--to", f"{cli.uri}/inside", code=2)
    assert "inside the repository" in out


def test_a_parquet_export_overwritten_holds_exactly_the_new_ref_s_rows(
    setup: lake.Repository, cli: Lake, tmp_path: Path
) -> None:
    """Partitions the new ref lacks go, and an empty ref leaves no row behind."""
    repo = setup
    target = _target(repo, tmp_path, "events-again")
    cli("export", "events", "--to", target, "--format", "parquet")  # three days
    one_day = repo.create_branch("one-day")
    one_day.delete("events", "day <> '2026-11-01'")
    cli("export", "events", "--ref", "one-day", "--to", target, "--format", "parquet", "--overwrite")
    fs = repo.config.arrow_filesystem()
    path = target.removeprefix("s3://")
    read = pads.dataset(path, filesystem=fs, format="parquet", partitioning="hive").to_table(
        use_threads=False
    )
    assert read.num_rows == len(_lake_read(cli, "events", "one-day"))
    one_day.delete("events", "id >= 0")
    cli("export", "events", "--ref", "one-day", "--to", target, "--format", "parquet", "--overwrite")
    assert pads.dataset(path, filesystem=fs, format="parquet").count_rows() == 0


def test_an_export_never_overwrites_what_is_not_an_export(
    setup: lake.Repository, cli: Lake, tmp_path: Path
) -> None:
    repo = setup
    if repo.config.scheme == "file":  # a folder that holds the repository
        parent = str(Path(repo.uri).parent)
        out = cli("export", "orders", "--to", parent, "--format", "parquet", "--overwrite", code=2)
        assert "holds the repository" in out
        assert repo.read("orders").num_rows == ROWS
    target = _target(repo, tmp_path, "someone-else")
    fs = repo.config.arrow_filesystem()
    path = target.removeprefix("s3://")
    fs.create_dir(path, recursive=True)
    with fs.open_output_stream(f"{path}/notes.txt") as stream:
        stream.write(b"keep me")
    for fmt in ("parquet", "delta"):
        out = cli("export", "orders", "--to", target, "--format", fmt, "--overwrite", code=2)
        assert "not an earlier" in out
    assert fs.get_file_info(f"{path}/notes.txt").type == pafs.FileType.File


def test_a_local_repository_exports_to_s3_with_the_environment_s_credentials(
    local_repo: lake.Repository, s3_env: dict[str, str], bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _setup(local_repo)
    target = f"s3://{bucket}/exports/orders-feature"
    assert main(["export", "orders", "--ref", "feature", "--to", target, "--repo", local_repo.uri]) == 0
    table = DeltaTable(
        target, storage_options=lake.Repository.init(f"s3://{bucket}/lake").config.delta_options()
    )
    assert table.to_pyarrow_dataset().count_rows() == local_repo.snapshot("orders", "feature").rows
    capsys.readouterr()
