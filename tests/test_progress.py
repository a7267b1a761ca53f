"""Progress (issue 13, part 3): a ``progress=`` callback in Python hears the steps of writes,
reads, exports, gates, merges and gc; the CLI draws rich bars on stderr, on a terminal only."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console

import lake
import lake.cli.bars
import lake.write.stream
from lake.cli.app import main
from lake.progress import Progress


@pytest.fixture(autouse=True)
def small_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lake.write.stream, "SLICE_BYTES", 8 * 1024)


def _batches() -> Iterator[pa.RecordBatch]:
    for start in range(0, 3000, 500):
        yield pa.record_batch({"id": pa.array(range(start, start + 500), pa.int64())})


def test_a_callback_hears_every_kind_of_long_operation(repo: lake.Repository, tmp_path: Path) -> None:
    heard: list[Progress] = []
    main_branch = repo.branch("main")
    main_branch.write("t", _batches(), progress=heard.append)
    writes = [e for e in heard if e.operation == "write"]
    assert writes and writes[-1].done == 3000 and writes[-1].unit == "rows" and writes[-1].detail == "t"
    assert [e.done for e in writes] == sorted(e.done for e in writes)

    heard.clear()
    repo.create_branch("b").write("t", pa.table({"id": [9000]}))
    repo.gate("b", progress=heard.append)
    gated = [e for e in heard if e.operation == "gate"]  # after planning the merge it judges
    assert [(e.done, e.total, e.detail) for e in gated] == [(1, 1, "t")]
    heard.clear()
    repo.merge("b", progress=heard.append)
    assert {e.operation for e in heard} >= {"merge", "gate"}

    heard.clear()
    repo.read("t", progress=heard.append)
    assert heard and heard[-1].operation == "read" and heard[-1].done == heard[-1].total

    heard.clear()
    target = f"{repo.uri}-export" if repo.config.scheme == "s3" else str(tmp_path / "export")
    repo.export("t", target, progress=heard.append)
    exports = [e for e in heard if e.operation == "export"]
    assert exports[-1].done == exports[-1].total >= 1

    heard.clear()
    repo.delete_branch("b")
    repo.gc(older_than="0s", grace="0s", progress=heard.append)
    assert all(e.operation == "gc" for e in heard)


def test_a_callback_that_fails_does_not_fail_the_write(repo: lake.Repository) -> None:
    calls = []

    def broken(event: Progress) -> None:
        calls.append(event)
        raise RuntimeError("the display broke")

    result = repo.branch("main").write("t", _batches(), progress=broken)
    assert result.datasets["t"].rows_added == 3000 and len(calls) == 1  # not called again


def test_the_cli_draws_bars_on_a_terminal_after_a_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = lake.Repository.init(str(tmp_path / "lake"))
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_batches(list(_batches())), path, row_group_size=500)
    screen = io.StringIO()
    monkeypatch.setattr(lake.cli.bars, "err", Console(file=screen, force_terminal=True, width=100))
    monkeypatch.setattr(lake.cli.bars, "DELAY", 0.0)
    assert main(["write", "t", str(path), "--repo", repo.uri]) == 0
    assert "write t" in screen.getvalue() and "rows" in screen.getvalue()
    quiet = io.StringIO()
    monkeypatch.setattr(lake.cli.bars, "err", Console(file=quiet, force_terminal=False))
    assert main(["write", "t", str(path), "--repo", repo.uri]) == 0
    assert quiet.getvalue() == ""  # not a terminal: no bars
    capsys.readouterr()
