"""Input that used to hang or crash (issue 7): each is refused with a LakeError that says what
failed, where and what to do, or is read as it should be."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import lake
from lake.cli.app import main
from lake.contracts import Contract, ContractError

MIB = 1 << 20


def lake_cli(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> str:
    """Runs `lake ARGS` in-process; returns what it printed, with no traceback."""
    capsys.readouterr()
    rc = main(list(args))
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert rc == code, f"lake {' '.join(args)} -> {rc}\n{out}"
    assert "Traceback" not in out
    return out


# -- 10: YAML aliases that expand without bound -------------------------------------------------
def billion_laughs(levels: int = 9, width: int = 9) -> str:
    """A contract whose ``lol`` key holds ``width ** levels`` strings written as nested aliases."""
    lines = ["dataset: orders", "columns:", "  id: {type: int64}", "lol:"]
    lines.append("  a0: &a0 [" + ", ".join(['"lol"'] * width) + "]")
    for i in range(1, levels):
        lines.append(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_a_billion_laughs_contract_is_refused_at_the_alias_that_crosses_the_bound(tmp_path: Path) -> None:
    # a0 is 10 nodes, a1 91, a2 820, a3 7381: aliases have brought in 8289 nodes by the end of
    # line 8, and the first *a3 of line 9 brings 7381 more, past the bound of 10000.
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(billion_laughs())
    assert len(bomb.read_bytes()) < 1024
    with pytest.raises(ContractError) as info:
        Contract.from_yaml(bomb)
    assert isinstance(info.value, lake.UsageError)
    [problem] = info.value.problems
    assert (problem.source, problem.line, problem.key) == (str(bomb), 9, "lol.a4.0")
    assert "alias *a3" in problem.message
    assert "at most 10000 nodes" in problem.message  # the rule, stated


def test_lake_contract_set_refuses_a_billion_laughs_file(
    local_repo: lake.Repository, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(billion_laughs())
    out = lake_cli(capsys, "contract", "set", "orders", str(bomb), "--repo", local_repo.uri, code=2)
    assert f"{bomb}:9: lol.a4.0:" in out
    assert local_repo.contract("orders") is None


def test_lake_contract_import_odcs_refuses_a_billion_laughs_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bomb = tmp_path / "bomb.odcs.yaml"
    bomb.write_text(billion_laughs())  # ODCS files are read by the same bounded reader
    out = lake_cli(capsys, "contract", "import-odcs", str(bomb), code=2)
    assert f"{bomb}:9: lol.a4.0:" in out and "at most 10000 nodes" in out


def test_an_exponential_merge_key_chain_is_refused_before_it_is_flattened() -> None:
    # `<<` merges copy the merged keys into the mapping: 30 levels of 2 would be 2**30 pairs.
    lines = ["dataset: orders", "columns:", "  id: &m0 {type: int64}"]
    for i in range(1, 31):
        lines.append(f"  c{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], description: level {i}}}")
    with pytest.raises(ContractError) as info:
        Contract.from_text("\n".join(lines) + "\n", "merges.yaml")
    [problem] = info.value.problems
    assert problem.line is not None and 4 < problem.line < 34
    assert problem.key.startswith("columns.c") and "aliases" in problem.message


def test_a_recursive_alias_is_refused_with_its_line() -> None:
    text = "dataset: orders\ncolumns: &cols\n  id: {type: int64}\n  again: *cols\n"
    with pytest.raises(ContractError) as info:
        Contract.from_text(text, "loop.yaml")
    [problem] = info.value.problems
    assert (problem.line, problem.key) == (4, "columns.again")
    assert "*cols" in problem.message and "inside" in problem.message


def test_nesting_too_deep_is_refused_with_its_line() -> None:
    depth = 100_000
    text = "dataset: orders\ncolumns:\n  id: {type: int64, in: " + "[" * depth + "]" * depth + "}\n"
    with pytest.raises(ContractError) as info:
        Contract.from_text(text, "deep.yaml")
    [problem] = info.value.problems
    assert problem.line == 3 and "nested more than" in problem.message


def test_aliases_for_small_reuse_still_load() -> None:
    text = (
        "dataset: orders\n"
        "columns:\n"
        "  id: {type: int64, nullable: false}\n"
        "  email: &text {type: string, nullable: false, max_length: 200}\n"
        "  name: *text\n"
        "  note: {<<: *text, nullable: true}\n"
        "  country: {type: string, in: &countries [DE, FR, NL]}\n"
        "  billed_in: {type: string, in: *countries}\n"
    )
    c = Contract.from_text(text)
    assert c.columns["name"] == c.columns["email"]
    assert c.columns["note"].max_length == 200 and c.columns["note"].nullable
    assert c.columns["billed_in"].in_ == ["DE", "FR", "NL"]


def test_a_problem_after_a_merge_key_names_the_line_of_the_key_in_force() -> None:
    text = (
        "dataset: orders\n"
        "columns:\n"
        "  id: &base {type: int64, min: 0}\n"
        "  n:\n"
        "    <<: *base\n"
        "    type: string\n"
    )
    with pytest.raises(ContractError) as info:
        Contract.from_text(text, "c.yaml")
    assert [(p.line, p.key) for p in info.value.problems] == [(5, "columns.n.min")]


def test_a_contract_of_more_nodes_than_the_bound_is_refused_where_it_crosses_it() -> None:
    items = ", ".join(["1"] * 150_000)  # 300 kB
    text = f"dataset: orders\ncolumns:\n  id: {{type: int64, in: [{items}]}}\n  note: {{type: string}}\n"
    with pytest.raises(ContractError) as info:
        Contract.from_text(text, "long.yaml")
    [problem] = info.value.problems
    # 11 nodes come before the list items: the item at index 99989 is node 100001
    assert (problem.line, problem.key) == (3, "columns.id.in.99989")
    assert "more than 100000 YAML nodes" in problem.message


def test_a_wide_contract_loads() -> None:
    columns = "".join(f"  c{i}: {{type: string, nullable: false, max_length: 20}}\n" for i in range(5000))
    assert len(Contract.from_text(f"dataset: wide\ncolumns:\n{columns}").columns) == 5000


# -- 11: Python inputs that raised raw errors ---------------------------------------------------
def test_a_pandas_frame_with_duplicate_column_names_is_refused(local_repo: lake.Repository) -> None:
    frame = pd.DataFrame([[1, 2, 3]], columns=["id", "amount", "amount"])
    with pytest.raises(lake.InvalidInputError, match="'amount'") as info:
        local_repo.branch("main").write("orders", frame)
    assert info.value.hint and "rename" in info.value.hint
    assert local_repo.datasets() == []


def test_a_pandas_object_column_of_mixed_types_is_refused_naming_it(local_repo: lake.Repository) -> None:
    frame = pd.DataFrame({"id": [1, 2], "note": [1, "x"]})
    with pytest.raises(lake.InvalidInputError, match="column 'note'") as info:
        local_repo.branch("main").write("orders", frame)
    assert "'x'" in str(info.value)  # the value that does not fit
    assert info.value.hint and "astype" in info.value.hint
    assert local_repo.datasets() == []


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(iter([1, 2]), id="iterable-of-ints"),
        pytest.param([], id="empty-list"),
        pytest.param(object(), id="object"),
        pytest.param({"id": [1, 2]}, id="dict"),
    ],
)
def test_an_unsupported_input_is_refused_naming_the_accepted_types(
    local_repo: lake.Repository, data: object
) -> None:
    with pytest.raises(lake.InvalidInputError) as info:
        local_repo.branch("main").write("orders", data)
    text = str(info.value)
    assert "LazyFrame" in text and "polars DataFrame" in text and "iterable of record batches" in text
    assert local_repo.datasets() == []


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(pl.Series("id", [1, 2]), id="polars-series"),
        pytest.param(pd.Series([1, 2], name="id"), id="pandas-series"),
    ],
)
def test_a_series_is_refused_naming_the_accepted_types(local_repo: lake.Repository, data: object) -> None:
    with pytest.raises(lake.InvalidInputError, match="Series") as info:
        local_repo.branch("main").write("orders", data)
    assert "polars DataFrame" in str(info.value)


# -- 13: one field larger than a read block -----------------------------------------------------
def _big_field_file(path: Path, kind: str, size: int) -> None:
    """Writes two rows whose first ``blob`` is ``size`` bytes, a MiB at a time."""
    with path.open("w") as f:
        f.write("id,blob\n1," if kind == "csv" else '{"id": 1, "blob": "')
        for _ in range(size // MIB):
            f.write("x" * MIB)
        f.write("\n2,y\n" if kind == "csv" else '"}\n{"id": 2, "blob": "y"}\n')


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_lake_write_reads_a_file_with_a_50_mib_field(
    repo: lake.Repository, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    path = tmp_path / f"big.{kind}"
    _big_field_file(path, kind, 50 * MIB)
    out = lake_cli(capsys, "write", "blobs", str(path), "--repo", repo.uri, "--json")
    assert json.loads(out)["datasets"]["blobs"]["rows_added"] == 2
    del out
    lengths = repo.read("blobs").sort_by("id").column("blob")
    assert pa.compute.utf8_length(lengths).to_pylist() == [50 * MIB, 1]


def test_a_row_longer_than_the_largest_block_says_which_limit(
    local_repo: lake.Repository,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lake.cli import inputs

    monkeypatch.setattr(inputs, "MAX_BLOCK_SIZE", 2 * MIB)  # pyarrow's own limit is 2 GiB
    path = tmp_path / "long.csv"
    _big_field_file(path, "csv", 5 * MIB)  # a row fits in two blocks: 2 MiB ones are too small
    out = lake_cli(capsys, "write", "blobs", str(path), "--repo", local_repo.uri, code=2)
    assert f"a row is too long for the largest block pyarrow reads ({2 * MIB} bytes)" in out
    assert "parquet" in out


# -- 14: the column mismatch, worded the right way round ---------------------------------------
def test_a_contract_naming_a_column_the_dataset_lacks_is_not_blamed_on_the_data(
    repo: lake.Repository,
) -> None:
    main_ = repo.branch("main")
    main_.write("t", pa.table({"id": [1], "x": [1.0]}))
    with pytest.raises(lake.LakeError) as info:
        # `contract set` may itself refuse this contract; if it does not, the next write must
        main_.set_contract(
            "t", "dataset: t\ncolumns:\n  id: {type: int64}\n  x: {type: float64}\n  ghost: {type: string}\n"
        )
        main_.write("t", pa.table({"id": [2], "x": [2.0]}))
    message = str(info.value)
    assert "ghost" in message and "contract" in message
    assert "the data has" not in message
    assert repo.read("t").num_rows == 1


def test_a_data_column_the_dataset_lacks_is_named_as_the_datas(repo: lake.Repository) -> None:
    main_ = repo.branch("main")
    main_.write("t", pa.table({"id": [1]}))
    with pytest.raises(lake.SchemaMismatchError) as info:
        main_.write("t", pa.table({"id": [2], "extra": ["a"]}))
    assert "the dataset lacks column 'extra', which the data to write has" in str(info.value)
    assert info.value.hint and "schema_mode='merge'" in info.value.hint
