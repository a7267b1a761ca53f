"""Streamed writes (issue 12, part 1), on both backends: a RecordBatchReader, an iterable of record
batches, a polars LazyFrame, a pyarrow Dataset or Scanner, and the CLI's files are written slice by
slice, each slice checked with the rows kept and the slices before it, and nothing is committed
unless every slice and the dataset-wide checks pass.

Slices are made small here (a few KiB) so that a stream of a few thousand rows has many; the
memory bound itself is measured by bench/streaming_memory.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from conftest import Lake
from deltalake import DeltaTable
from test_delta_stats import check_add_actions, logged_stats, main_table

import lake
import lake.table.rolling
import lake.write.stream
from lake.contracts import Contract

SCHEMA = pa.schema([("id", pa.int64()), ("amount", pa.float64()), ("label", pa.string())])


@pytest.fixture(autouse=True)
def small_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lake.write.stream, "SLICE_BYTES", 8 * 1024)  # ~400 rows a slice
    monkeypatch.setattr(lake.write.stream, "ROLL_BYTES", 24 * 1024)  # three slices a file


def batch(start: int, n: int = 250, amount: float = 1.0) -> pa.RecordBatch:
    ids = list(range(start, start + n))
    return pa.record_batch(
        [pa.array(ids, pa.int64()), pa.array([amount] * n), pa.array([f"l{i}" for i in ids])], schema=SCHEMA
    )


def batches(starts: list[int], **kw: float) -> Iterator[pa.RecordBatch]:
    for s in starts:
        yield batch(s, **kw)


def reader(starts: list[int], **kw: float) -> pa.RecordBatchReader:
    return pa.RecordBatchReader.from_batches(SCHEMA, batches(starts, **kw))


CONTRACT = """
dataset: t
primary_key: [id]
columns:
  id: {type: int64, nullable: false}
  amount: {type: float64, min: 0}
  label: {type: string}
"""


def with_contract(repo: lake.Repository, extra: str = "") -> lake.Branch:
    main = repo.branch("main")
    main.set_contract("t", Contract.from_text(CONTRACT + extra))
    return main


def ids(repo: lake.Repository, dataset: str = "t") -> list[int]:
    return sorted(repo.read(dataset)["id"].to_pylist())


def plain_rows(repo: lake.Repository) -> int:
    table = DeltaTable(repo.table_uri("t"), storage_options=repo.config.delta_options())
    return table.to_pyarrow_dataset().to_table(use_threads=False).num_rows  # threaded scans abort at exit


STARTS = [0, 250, 500, 750, 1000, 1250, 1500, 1750]  # 2,000 rows: five slices


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: reader(STARTS), id="RecordBatchReader"),
        pytest.param(lambda: batches(STARTS), id="generator"),
        pytest.param(lambda: [batch(s) for s in STARTS], id="list"),
        pytest.param(
            lambda: pl.from_arrow(pa.Table.from_batches(list(batches(STARTS)))).lazy(), id="LazyFrame"
        ),
        pytest.param(lambda: pads.dataset(pa.Table.from_batches(list(batches(STARTS)))), id="Dataset"),
        pytest.param(
            lambda: pads.dataset(pa.Table.from_batches(list(batches(STARTS)))).scanner(), id="Scanner"
        ),
    ],
)
def test_every_stream_input_is_written_slice_by_slice(repo: lake.Repository, make: object) -> None:
    main = with_contract(repo)
    result = main.write("t", make())  # type: ignore[operator]
    assert result.datasets["t"].rows_added == 2000
    assert 2 <= result.datasets["t"].files_added <= 3  # five slices, in files of three slices
    assert ids(repo) == list(range(2000))
    assert plain_rows(repo) == 2000
    assert result.validation["t"].ok and result.validation["t"].rows == 2000


def test_a_key_repeated_across_slices_commits_nothing(repo: lake.Repository) -> None:
    main = with_contract(repo)
    main.write("t", reader([0]))
    head = repo.resolve("main")
    with pytest.raises(lake.ContractViolationError, match="primary_key") as err:
        main.write("t", reader([1000, 1250, 1500, 1100]))  # the last batch repeats 1100..1349
    report = err.value.reports[0]
    unique = next(r for r in report.results if r.name == "primary_key")
    assert unique.failed_rows == 250  # 1100..1349 are all in the slices before
    assert repo.resolve("main") == head and ids(repo) == list(range(250)) and plain_rows(repo) == 250
    with pytest.raises(lake.ContractViolationError, match="primary_key"):
        main.write("t", reader([5000, 200]))  # a key the dataset keeps already, in the second slice
    assert repo.resolve("main") == head


def test_row_rules_add_up_over_the_slices(repo: lake.Repository) -> None:
    main = with_contract(
        repo, "  - {name: mostly_positive, sql: 'amount > 0', mostly: 0.8}\n".join(["checks:\n", ""])
    )
    good = list(batches([0, 250, 500, 750, 1000]))
    bad = batch(1250, amount=0.0)  # 250 of 1,500 rows (16.7%) break the rule: mostly 0.8 holds
    assert main.write("t", iter([*good, bad])).validation["t"].ok
    worse = [batch(5000 + 250 * i, amount=0.0) for i in range(2)]  # 500 of 1,000 more: 25% of all
    with pytest.raises(lake.ContractViolationError, match="mostly_positive") as err:
        main.write("t", iter([batch(4000), *worse, batch(4250)]))
    result = next(r for r in err.value.reports[0].results if r.name == "mostly_positive")
    assert (result.failed_rows, result.rows) == (500, 1000)
    assert len(result.samples) > 0


def test_dataset_wide_checks_are_judged_once_over_everything(repo: lake.Repository) -> None:
    main = with_contract(
        repo,
        "checks:\n  - {name: at_least, row_count: {min: 1500}}\n"
        "  - {name: at_most, row_count: {max: 2500}}\n",
    )
    # no slice alone holds 1,500 rows, the write does: it passes
    assert main.write("t", reader(STARTS[:6])).validation["t"].ok
    with pytest.raises(lake.ContractViolationError, match="at_most"):
        main.write("t", reader([3000, 3250, 3500, 3750, 4000]))  # 1,500 + 1,250 > 2,500
    assert ids(repo) == list(range(1500))


def test_metrics_over_a_stream_see_the_whole_stream(repo: lake.Repository) -> None:
    metrics = (
        "  amount:\n    type: float64\n    metrics:\n"
        "      mean: {min: 1.5, max: 2.5}\n"
        "      max: {max: 5, scope: batch}\n"
    )
    text = CONTRACT.replace("  amount: {type: float64, min: 0}\n", metrics)
    main = repo.branch("main")
    main.set_contract("t", Contract.from_text(text))
    parts = [*batches([0, 250], amount=1.0), *batches([500, 750], amount=3.0)]  # mean 2.0 over all
    assert main.write("t", iter(parts)).validation["t"].ok
    with pytest.raises(lake.ContractViolationError, match="mean"):
        main.write("t", batches([2000, 2250, 2500, 2750], amount=4.0))  # mean of the dataset 3.0
    with pytest.raises(lake.ContractViolationError, match="max"):
        main.write("t", iter([batch(3000, amount=2.0), batch(3250, amount=6.0), batch(3500, amount=0.0)]))
    assert len(ids(repo)) == 1000


def test_quarantine_streams_the_bad_rows_aside(repo: lake.Repository) -> None:
    main = with_contract(repo)
    parts = [batch(0), batch(250, amount=-1.0), batch(500), batch(750, amount=-1.0), batch(100)]
    result = main.write("t", iter(parts), on_violation="quarantine")
    # 500 negative amounts, and 150 keys of the last batch kept already (100..249; its 250..349
    # are new: their first rows went aside)
    assert result.validation["t"].quarantined == 650
    assert ids(repo) == list(range(350)) + list(range(500, 750))
    aside = repo.read("t__quarantine")
    assert aside.num_rows == 650
    assert {n for names in aside["_lake_violations"].to_pylist() for n in names} == {
        "amount.min",
        "primary_key",
    }


def test_quarantined_rows_are_written_aside_as_the_stream_goes(repo: lake.Repository) -> None:
    """Bad rows go to files of the quarantine dataset slice by slice (rolling like the kept
    rows'), which the write's commit takes in: none is held until the end."""
    main = with_contract(repo)
    result = main.write("t", reader(STARTS * 2, amount=-1.0), on_violation="quarantine")
    assert result.validation["t"].quarantined == 4000
    assert result.datasets["t__quarantine"].files_added >= 2
    aside = repo.read("t__quarantine")
    assert aside.num_rows == 4000 and len(set(aside["_lake_txn"].to_pylist())) == 1
    assert sorted(int(i) for i in aside["id"].to_pylist()) == sorted(list(range(2000)) * 2)


def _varied(start: int, nan: bool = False, nulls: bool = False) -> pa.RecordBatch:
    """Rows of every kind of bound: NaN in one slice, a column all null in another, a struct."""
    n = 300
    ids = list(range(start, start + n))
    floats = [float("nan") if nan and i == start else i / 7 for i in ids]
    return pa.record_batch(
        {
            "id": pa.array(ids, pa.int64()),
            "x": pa.array(floats, pa.float64()),
            "y": pa.array([None if nulls else i * 2.5 for i in ids], pa.float64()),
            "s": pa.array([f"s{i:05}" for i in reversed(ids)]),
            "ts": pa.array([i * 1_000_123 for i in ids], pa.timestamp("us", "UTC")),
            "d": pa.array(ids, pa.date32()),
            "st": pa.array(
                [{"a": -i, "b": None if nulls else f"b{i}"} for i in ids],
                pa.struct([("a", pa.int64()), ("b", pa.string())]),
            ),
        }
    )


@pytest.mark.parametrize(
    "parts",
    [
        pytest.param(lambda: [_varied(0), _varied(300), _varied(600), _varied(900)], id="plain"),
        pytest.param(lambda: [_varied(0), _varied(300, nan=True), _varied(600)], id="nan"),
        pytest.param(lambda: [_varied(0, nulls=True), _varied(300), _varied(600, nulls=True)], id="nulls"),
        pytest.param(lambda: [_varied(0, nulls=True), _varied(300, nulls=True)], id="all-null"),
    ],
)
def test_a_rolled_file_logs_the_stats_of_its_rows_written_at_once(
    repo: lake.Repository, monkeypatch: pytest.MonkeyPatch, parts: Callable[[], list[pa.RecordBatch]]
) -> None:
    """Every slice of the stream goes into one rolling file; its logged statistics are those
    of the same rows written as one table (counts summed, bounds merged, none where a slice has
    NaN), and true bounds for delta-rs."""
    monkeypatch.setattr(lake.write.stream, "ROLL_BYTES", 1 << 30)
    main = repo.branch("main")
    rows = parts()
    main.write("streamed", iter(rows))
    main.write("whole", pa.Table.from_batches(rows))
    assert main_table(repo, "streamed").get_add_actions().num_rows == 1
    (streamed,) = logged_stats(repo, "streamed")
    (whole,) = logged_stats(repo, "whole")
    assert streamed == whole
    assert check_add_actions(repo, "streamed") == sum(b.num_rows for b in rows)


def test_a_partitioned_stream_rolls_a_file_per_partition(
    repo: lake.Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slices spread over more partitions than files are kept open: the fullest closes first;
    every partition's rows are all there, in files far fewer than slices times partitions."""
    monkeypatch.setattr(lake.table.rolling, "MAX_OPEN", 3)

    def days() -> Iterator[pa.RecordBatch]:
        for start in range(0, 4000, 250):
            t = batch(start)
            yield t.append_column("day", pa.array([f"d{i % 5}" for i in range(start, start + 250)]))

    result = repo.branch("main").write("p", days(), partition_by=["day"])
    assert result.datasets["p"].rows_added == 4000
    for day in range(5):
        got = repo.read("p", where=f"day = 'd{day}'")["id"].to_pylist()
        assert sorted(got) == [i for i in range(4000) if i % 5 == day]
    assert 5 <= result.datasets["p"].files_added < 20  # ten slices over five partitions
    assert check_add_actions(repo, "p") == 4000


def test_an_overwrite_streams_and_replaces_everything(repo: lake.Repository) -> None:
    main = with_contract(repo)
    main.write("t", reader([0, 250]))
    result = main.write("t", reader([9000, 9250, 9500]), mode="overwrite")
    assert result.datasets["t"].rows_removed == 500
    assert ids(repo) == list(range(9000, 9750)) and plain_rows(repo) == 750


def test_a_partitioned_stream_writes_each_partition_by_slice(repo: lake.Repository) -> None:
    def days() -> Iterator[pa.RecordBatch]:
        for start in range(0, 2000, 250):
            t = batch(start)
            yield t.append_column("day", pa.array([f"d{start // 1000}"] * t.num_rows))

    repo.branch("main").write("p", days(), partition_by=["day"])
    table = DeltaTable(repo.table_uri("p"), storage_options=repo.config.delta_options())
    assert table.metadata().partition_columns == ["day"]
    assert repo.read("p", where="day = 'd1'").num_rows == 1000


def test_a_stream_is_checked_again_when_another_writer_won_the_race(repo: lake.Repository) -> None:
    """Another writer appends keys the stream also holds after the stream was checked and written:
    the commit loop starts over, checks the written files again, and refuses."""
    main = with_contract(repo)
    main.write("t", reader([0]))
    other = repo.branch("main")

    def racing() -> Iterator[pa.RecordBatch]:
        yield batch(1000)
        yield batch(1250)
        other.write("t", reader([1200]))  # lands while the stream is still being written

    with pytest.raises(lake.ContractViolationError, match="primary_key"):
        main.write("t", racing())
    assert ids(repo) == sorted([*range(250), *range(1200, 1450)])


def test_a_stream_that_still_passes_after_a_race_commits_each_file_once(repo: lake.Repository) -> None:
    main = with_contract(repo)
    main.write("t", reader([0]))
    other = repo.branch("main")

    def racing() -> Iterator[pa.RecordBatch]:
        yield batch(1000)
        yield batch(1250)
        other.write("t", reader([5000]))

    result = main.write("t", racing())
    assert result.attempts == 2 and result.datasets["t"].rows_added == 500
    assert ids(repo) == [*range(250), *range(1000, 1500), *range(5000, 5250)]
    assert plain_rows(repo) == 1000


def test_a_quarantining_stream_sets_aside_the_keys_another_writer_won(repo: lake.Repository) -> None:
    """The same race with quarantine: the check made again sets aside the rows whose keys the
    other writer committed first, and the commit goes through with the rest."""
    main = with_contract(repo)
    main.write("t", reader([0]))
    other = repo.branch("main")

    def racing() -> Iterator[pa.RecordBatch]:
        yield batch(1000)
        yield batch(1250)
        other.write("t", reader([1200]))

    result = main.write("t", racing(), on_violation="quarantine")
    assert result.attempts == 2 and result.validation["t"].quarantined == 250
    assert ids(repo) == [*range(250), *range(1000, 1500)]  # 1200..1449: the other writer's
    aside = repo.read("t__quarantine")
    assert sorted(int(i) for i in aside["id"].to_pylist()) == list(range(1200, 1450))
    assert plain_rows(repo) == 750


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (lambda: iter([batch(0), pa.record_batch({"id": [1]})]), "another schema"),
        (lambda: iter([batch(0), "rows"]), "not a record batch"),
        (lambda: iter([]), "holds no record batch"),
        (lambda: 42, "cannot write a int"),
    ],
)
def test_a_bad_stream_is_refused_by_name(
    repo: lake.Repository, data: Callable[[], object], message: str
) -> None:
    with pytest.raises(lake.InvalidInputError, match=message) as err:
        repo.branch("main").write("t", data())
    assert "RecordBatchReader" in str(err.value) or message in ("another schema",)
    assert "t" not in [d.name for d in repo.datasets()]


def test_the_cli_streams_a_parquet_file(cli: Lake, tmp_path: Path) -> None:
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_batches(list(batches(STARTS))), path, row_group_size=300)
    out = cli("write", "t", str(path), "--json")
    assert '"rows_added": 2000' in out
    repo = lake.Repository.open(cli.uri)
    assert ids(repo) == list(range(2000))
    assert (
        len(DeltaTable(repo.table_uri("t"), storage_options=repo.config.delta_options()).file_uris()) == 2
    )  # five slices, rolled


def test_the_cli_streams_a_csv_file_typed_by_its_contract(cli: Lake, tmp_path: Path) -> None:
    """A CSV file for a dataset with a contract streams at any size: its columns are read as
    text and typed by the contract, so a value that does not fit is quarantined like any other
    violation, and empty or NULL-like values of a typed column are nulls."""
    repo = lake.Repository.open(cli.uri)
    with_contract(repo)
    lines = ["id,amount,label", *(f"{i},{i % 7},l{i}" for i in range(2000)), "oops,NA,", "2001,,x"]
    path = tmp_path / "rows.csv"
    path.write_text("\n".join(lines) + "\n")
    out = cli("write", "t", str(path), "--quarantine", "--json")
    assert '"rows_added": 2001' in out
    assert ids(repo) == [*range(2000), 2001]
    last = repo.read("t", where="id = 2001").to_pylist()
    assert last == [{"id": 2001, "amount": None, "label": "x"}]
    aside = repo.read("t__quarantine").to_pylist()
    assert [(r["id"], r["label"], r["_lake_violations"]) for r in aside] == [
        ("oops", "", ["id.not_null", "id.type"])
    ]
    files = DeltaTable(repo.table_uri("t"), storage_options=repo.config.delta_options()).file_uris()
    assert len(files) >= 2  # read by blocks, written slice by slice into rolled files
