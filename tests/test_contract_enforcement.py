"""Every write is checked against the branch's contract: each check kind passes good data and
refuses bad data (committing nothing), on both storage backends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lake
from lake.contracts import Contract

NOW = dt.datetime.now(dt.UTC)
TS = pa.timestamp("us", "UTC")


def contract(columns: dict[str, Any], checks: list[dict[str, Any]] | None = None, **extra: Any) -> Contract:
    return Contract.model_validate({"dataset": "t", "columns": columns, "checks": checks or [], **extra})


ID = {"id": {"type": "int64", "nullable": False}}

# id, contract, good rows, bad rows, the check that must fail
CASES: list[tuple[str, Contract, pa.Table, pa.Table, str]] = [
    (
        "not_null",
        contract({"id": {"type": "int64", "nullable": False}}),
        pa.table({"id": [1, 2]}),
        pa.table({"id": [1, None]}),
        "id.not_null",
    ),
    (
        "unique",
        contract({**ID, "k": {"type": "string", "unique": True}}),
        pa.table({"id": [1, 2], "k": ["a", "b"]}),
        pa.table({"id": [1, 2], "k": ["a", "a"]}),
        "k.unique",
    ),
    (
        "min",
        contract({**ID, "x": {"type": "float64", "min": 0}}),
        pa.table({"id": [1], "x": [0.0]}),
        pa.table({"id": [1], "x": [-0.5]}),
        "x.min",
    ),
    (
        "max",
        contract({**ID, "x": {"type": "int64", "max": 10}}),
        pa.table({"id": [1], "x": [10]}),
        pa.table({"id": [1], "x": [11]}),
        "x.max",
    ),
    (
        "in",
        contract({**ID, "c": {"type": "string", "in": ["EUR", "USD"]}}),
        pa.table({"id": [1, 2], "c": ["EUR", None]}),
        pa.table({"id": [1], "c": ["XXX"]}),
        "c.in",
    ),
    (
        "not_in",
        contract({**ID, "c": {"type": "string", "not_in": ["N/A"]}}),
        pa.table({"id": [1], "c": ["ok"]}),
        pa.table({"id": [1], "c": ["N/A"]}),
        "c.not_in",
    ),
    (
        "pattern",
        contract({**ID, "e": {"type": "string", "pattern": r"^[^@\s]+@[^@\s]+$"}}),
        pa.table({"id": [1], "e": ["a@b.c"]}),
        pa.table({"id": [1], "e": ["nope"]}),
        "e.pattern",
    ),
    (
        "min_length",
        contract({**ID, "s": {"type": "string", "min_length": 2}}),
        pa.table({"id": [1], "s": ["ab"]}),
        pa.table({"id": [1], "s": ["a"]}),
        "s.min_length",
    ),
    (
        "max_length",
        contract({**ID, "s": {"type": "string", "max_length": 3}}),
        pa.table({"id": [1], "s": ["abc"]}),
        pa.table({"id": [1], "s": ["abcd"]}),
        "s.max_length",
    ),
    (
        "column sql check",
        contract({**ID, "x": {"type": "int64", "checks": ["x % 2 = 0"]}}),
        pa.table({"id": [1], "x": [4]}),
        pa.table({"id": [1], "x": [3]}),
        "x.check1",
    ),
    (
        "dataset sql check",
        contract(
            {**ID, "a": {"type": "int64"}, "b": {"type": "int64"}}, [{"name": "a_below_b", "sql": "a < b"}]
        ),
        pa.table({"id": [1], "a": [1], "b": [2]}),
        pa.table({"id": [1], "a": [3], "b": [2]}),
        "a_below_b",
    ),
    (
        "row_count",
        contract(ID, [{"name": "two_or_more", "row_count": {"min": 2}}]),
        pa.table({"id": [1, 2]}),
        pa.table({"id": [1]}),
        "two_or_more",
    ),
    (
        "compound unique",
        contract(
            {**ID, "a": {"type": "int64"}, "b": {"type": "string"}}, [{"name": "a_b", "unique": ["a", "b"]}]
        ),
        pa.table({"id": [1, 2], "a": [1, 1], "b": ["x", "y"]}),
        pa.table({"id": [1, 2], "a": [1, 1], "b": ["x", "x"]}),
        "a_b",
    ),
    (
        "freshness",
        contract(
            {**ID, "at": {"type": "timestamp[us, UTC]"}},
            [{"name": "fresh", "freshness": {"column": "at", "max_age": "1h"}}],
        ),
        pa.table({"id": [1], "at": pa.array([NOW], TS)}),
        pa.table({"id": [1], "at": pa.array([NOW - dt.timedelta(days=2)], TS)}),
        "fresh",
    ),
    (
        "mostly",
        contract({**ID, "e": {"type": "string"}}, [{"name": "has_e", "sql": "e IS NOT NULL", "mostly": 0.5}]),
        pa.table({"id": [1, 2], "e": ["x", None]}),
        pa.table({"id": [1, 2, 3], "e": ["x", None, None]}),
        "has_e",
    ),
    (
        "primary key",
        contract({"id": {"type": "int64"}}, primary_key=["id"]),
        pa.table({"id": [1, 2]}),
        pa.table({"id": [1, 1]}),
        "primary_key",
    ),
    (
        "type",
        contract({**ID, "n": {"type": "int64"}}),
        pa.table({"id": [1], "n": pa.array([5], pa.int32())}),
        pa.table({"id": [1], "n": [1.5]}),
        "n.type",
    ),
    (
        "extra columns",
        contract(ID),
        pa.table({"id": [1]}),
        pa.table({"id": [1], "surprise": [1]}),
        "schema.extra_columns",
    ),
    (
        "missing column",
        contract({**ID, "need": {"type": "string", "nullable": False}}),
        pa.table({"id": [1], "need": ["x"]}),
        pa.table({"id": [1]}),
        "need.present",
    ),
]


@pytest.mark.parametrize(("kind", "spec", "good", "bad", "check"), CASES, ids=[c[0] for c in CASES])
def test_each_check_kind_admits_good_data(
    repo: lake.Repository, kind: str, spec: Contract, good: pa.Table, bad: pa.Table, check: str
) -> None:
    main = repo.branch("main")
    main.set_contract("t", spec)
    result = main.write("t", good)
    assert result.changed and result.validation["t"].ok
    recorded = repo.commit("main").commit.metadata["lake.validation"]["t"]
    assert recorded["contract"] == spec.hash
    assert recorded["checks"][check]["status"] == "pass"


@pytest.mark.parametrize(("kind", "spec", "good", "bad", "check"), CASES, ids=[c[0] for c in CASES])
def test_each_check_kind_refuses_bad_data_and_commits_nothing(
    repo: lake.Repository, kind: str, spec: Contract, good: pa.Table, bad: pa.Table, check: str
) -> None:
    main = repo.branch("main")
    main.set_contract("t", spec)
    head = main.head
    with pytest.raises(lake.ContractViolationError) as info:
        main.write("t", bad)
    assert main.head == head
    assert [d.name for d in repo.datasets()] == []
    [report] = info.value.reports
    failed = {r.name: r for r in report.failures}
    assert check in failed, report.to_text()
    assert check in info.value.message


def test_the_report_gives_counts_fractions_and_samples_with_the_primary_key(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.set_contract(
        "t", contract({"id": {"type": "int64"}, "x": {"type": "int64", "min": 0}}, primary_key=["id"])
    )
    bad = pa.table({"id": list(range(20)), "x": [-1] * 15 + [1] * 5})
    with pytest.raises(lake.ContractViolationError) as info:
        main.write("t", bad)
    [r] = info.value.reports[0].failures
    assert (r.name, r.column, r.failed_rows, r.rows) == ("x.min", "x", 15, 20)
    assert r.fraction == 0.75
    assert len(r.samples) == 10 and r.samples[0] == {"id": 0, "x": -1}


def test_warnings_are_committed_and_recorded(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.set_contract(
        "t",
        contract(
            ID | {"e": {"type": "string"}}, [{"name": "has_e", "sql": "e IS NOT NULL", "severity": "warn"}]
        ),
    )
    result = main.write("t", pa.table({"id": [1, 2], "e": ["x", None]}))
    assert result.changed
    [warn] = result.validation["t"].warnings
    assert warn.name == "has_e" and warn.failed_rows == 1
    assert repo.commit("main").commit.metadata["lake.validation"]["t"]["checks"]["has_e"] == {
        "status": "warn",
        "failed": 1,
    }


def test_uniqueness_holds_across_the_whole_dataset_not_just_the_batch(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.set_contract("t", contract({"id": {"type": "int64"}}, primary_key=["id"]))
    main.write("t", pa.table({"id": [1, 2, 3]}))
    main.write("t", pa.table({"id": [10, 11]}))
    with pytest.raises(lake.ContractViolationError, match="primary_key") as info:
        main.write("t", pa.table({"id": [4, 2]}))
    assert "1 already in the dataset" in info.value.reports[0].failures[0].message
    # an upsert replaces the matching row, so its key does not clash with itself
    main.upsert("t", pa.table({"id": [2, 5]}), key=["id"])
    assert sorted(repo.read("t").column("id").to_pylist()) == [1, 2, 3, 5, 10, 11]


def test_row_count_applies_to_the_dataset_after_a_delete(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.set_contract("t", contract(ID, [{"name": "at_least_two", "row_count": {"min": 2}}]))
    main.write("t", pa.table({"id": [1, 2, 3]}))
    main.delete("t", "id = 3")
    with pytest.raises(lake.ContractViolationError, match="at_least_two"):
        main.delete("t", "id = 2")
    assert sorted(repo.read("t").column("id").to_pylist()) == [1, 2]


def test_quarantine_commits_valid_rows_and_sets_the_rest_aside(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.set_contract(
        "t",
        contract({"id": {"type": "int64"}, "x": {"type": "int64", "min": 0, "max": 9}}, primary_key=["id"]),
    )
    main.write("t", pa.table({"id": [1], "x": [1]}))
    result = main.write("t", pa.table({"id": [2, 3, 4, 1], "x": [5, -1, 50, 2]}), on_violation="quarantine")
    assert result.validation["t"].quarantined == 3
    assert sorted(repo.read("t").column("id").to_pylist()) == [1, 2]
    aside = pl.from_arrow(repo.read("t__quarantine")).sort("id")
    assert aside["id"].to_list() == ["1", "3", "4"]
    assert aside["_lake_violations"].to_list() == [["primary_key"], ["x.min"], ["x.max"]]
    assert result.datasets["t__quarantine"].rows_added == 3


def test_quarantine_cannot_hide_dataset_level_failures(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.set_contract("t", contract(ID, [{"name": "many", "row_count": {"min": 5}}]))
    with pytest.raises(lake.ContractViolationError, match="many"):
        main.write("t", pa.table({"id": [1]}), on_violation="quarantine")


def test_a_transaction_is_checked_per_dataset_and_commits_nothing_on_a_violation(
    repo: lake.Repository,
) -> None:
    main = repo.branch("main")
    main.set_contract("t", contract({"id": {"type": "int64", "min": 0}}))
    head = main.head
    with pytest.raises(lake.ContractViolationError), main.transaction(message="two") as tx:
        tx.write("free", pa.table({"a": [1]}))
        tx.write("t", pa.table({"id": [-1]}))
    assert main.head == head and repo.datasets() == []


def test_contracts_are_per_branch_and_versioned_with_the_data(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("t", pa.table({"id": [-5]}))
    dev = repo.create_branch("dev")
    # a contract the branch's rows break is refused when it is set (issue 7, point 14)
    with pytest.raises(lake.ContractViolationError) as refused:
        dev.set_contract("t", contract({"id": {"type": "int64", "min": 0}}))
    assert refused.value.reports[0].failures[0].failed_rows == 1
    dev.delete("t", where="id < 0")
    dev.set_contract("t", contract({"id": {"type": "int64", "min": 0}}))
    main.write("t", pa.table({"id": [-6]}))  # main has no contract yet
    with pytest.raises(lake.ContractViolationError):
        dev.write("t", pa.table({"id": [-7]}))
    assert repo.contract("t", "main") is None
    assert repo.contract("t", "dev") is not None
    # rows that break it can still arrive by an overridden gate; check_contract finds them
    repo.merge("main", into="dev", force=True, reason="test: bring main's rows in")
    report = repo.check_contract("t", "dev")
    assert not report.ok and report.failures[0].samples == ({"id": -6},)  # dev deleted -5


def test_a_protected_branch_requires_contracts(repo: lake.Repository) -> None:
    repo.protect("main", require_contracts=True)
    main = repo.branch("main")
    with pytest.raises(lake.RefusedError, match="requires a contract"):
        main.write("t", pa.table({"id": [1]}))
    main.set_contract("t", contract(ID))
    main.write("t", pa.table({"id": [1]}))
    repo.create_branch("scratch").write("free", pa.table({"a": [1]}))  # other branches are free
    repo.protect("main", require_contracts=False)
    main.write("free", pa.table({"a": [1]}))


def test_set_contract_refuses_a_contract_for_another_dataset(repo: lake.Repository) -> None:
    with pytest.raises(lake.InvalidInputError, match="'t', not 'u'"):
        repo.branch("main").set_contract("u", contract(ID))


def test_infer_drafts_a_contract_the_data_satisfies(repo: lake.Repository) -> None:
    main = repo.branch("main")
    main.write("t", pa.table({"id": [1, 2, 3], "c": ["EUR", "EUR", "USD"], "x": [0.5, None, 2.0]}))
    drafted = repo.infer_contract("t")
    assert drafted.primary_key == ["id"]
    assert drafted.columns["c"].in_ == ["EUR", "USD"] and not drafted.columns["c"].nullable
    assert drafted.columns["x"].nullable and drafted.columns["x"].min == 0.5
    main.set_contract("t", drafted)
    assert repo.check_contract("t").ok


def test_violation_report_golden(local_repo: lake.Repository, golden: Callable[[str, str], None]) -> None:
    main = local_repo.branch("main")
    main.set_contract("orders", Contract.from_yaml(Path(__file__).parent / "fixtures" / "orders.yaml"))
    at = pa.array([dt.datetime(2026, 1, 1, tzinfo=dt.UTC)] * 4, TS)
    bad = pa.table(
        {
            "order_id": [1, 2, 2, 4],
            "customer_id": [10, 11, 12, 13],
            "amount": [5.0, -1.0, 3.0, 1e6],
            "currency": ["EUR", "XXX", "USD", None],
            "email": ["a@b.c", "nope", None, "x@y.z"],
            "created_at": at,
            "shipped_at": pa.array([None, dt.datetime(2025, 1, 1, tzinfo=dt.UTC), None, None], TS),
        }
    )
    with pytest.raises(lake.ContractViolationError) as info:
        main.write("orders", bad)
    golden(
        "violation_report.txt",
        info.value.reports[0].to_text().replace(info.value.reports[0].contract[:12], "<hash>"),
    )


# -- properties ------------------------------------------------------------------------------
PROPERTY_CONTRACT = contract(
    {
        "id": {"type": "int64", "nullable": False},
        "amount": {"type": "float64", "min": 0, "max": 1000},
        "cur": {"type": "string", "in": ["EUR", "USD"]},
    },
    primary_key=["id"],
)
rows = st.lists(
    st.tuples(st.floats(0, 1000, allow_nan=False), st.sampled_from(["EUR", "USD", None])),
    min_size=1,
    max_size=40,
)
SETTINGS = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _frame(values: list[tuple[float, str | None]]) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(len(values)), pa.int64()),
            "amount": pa.array([v[0] for v in values], pa.float64()),
            "cur": pa.array([v[1] for v in values], pa.string()),
        }
    )


@SETTINGS
@given(values=rows)
def test_a_frame_that_satisfies_the_contract_is_accepted(
    tmp_path: Path, values: list[tuple[float, str | None]]
) -> None:
    import uuid

    repo = lake.Repository.init(str(tmp_path / uuid.uuid4().hex))
    repo.branch("main").set_contract("t", PROPERTY_CONTRACT)
    assert repo.branch("main").write("t", _frame(values)).validation["t"].ok
    assert repo.read("t").num_rows == len(values)


@SETTINGS
@given(
    values=rows,
    where=st.integers(0, 39),
    how=st.sampled_from(["negative", "too_big", "currency", "dup", "null_id"]),
)
def test_one_injected_violation_is_rejected_and_nothing_is_committed(
    tmp_path: Path, values: list[tuple[float, str | None]], where: int, how: str
) -> None:
    import uuid

    repo = lake.Repository.init(str(tmp_path / uuid.uuid4().hex))
    main = repo.branch("main")
    main.set_contract("t", PROPERTY_CONTRACT)
    table = _frame(values).to_pylist()
    i = where % len(table)
    if how == "negative":
        table[i]["amount"] = -1.0
    elif how == "too_big":
        table[i]["amount"] = 1000.5
    elif how == "currency":
        table[i]["cur"] = "GBP"
    elif how == "dup":
        table.append(dict(table[i]))
    else:
        table[i]["id"] = None
    head = main.head
    with pytest.raises(lake.ContractViolationError):
        main.write("t", pa.Table.from_pylist(table, schema=_frame(values).schema))
    assert main.head == head and repo.datasets() == []


@settings(max_examples=40, deadline=None)
@given(
    amounts=st.lists(st.one_of(st.none(), st.floats(-10, 1010, allow_nan=False)), min_size=1, max_size=30),
    currencies=st.lists(st.sampled_from(["EUR", "USD", "GBP", None]), min_size=30, max_size=30),
)
def test_pandera_and_the_lake_agree_on_every_row_rule(
    amounts: list[float | None], currencies: list[str | None]
) -> None:
    """The write path counts failures in one polars pass and has pandera report them; the
    schema users get from to_pandera() must reach the same verdict on the same rows."""
    import pandera.errors

    from lake.validation.engine import cast_to_contract, validate

    spec = contract(
        {
            "id": {"type": "int64", "nullable": False},
            "amount": {"type": "float64", "nullable": False, "min": 0, "max": 1000},
            "cur": {"type": "string", "in": ["EUR", "USD"]},
        },
        [{"name": "cheap_in_eur", "sql": "cur <> 'EUR' OR amount < 500"}],
    )
    n = len(amounts)
    table = pa.table({"id": list(range(n)), "amount": pa.array(amounts, pa.float64()), "cur": currencies[:n]})
    typed = cast_to_contract(spec, table)
    report, _ = validate(spec, typed.table)
    frame = pl.from_arrow(typed.table)
    try:
        spec.to_pandera().validate(frame, lazy=True)
        pandera_ok = True
    except pandera.errors.SchemaErrors:
        pandera_ok = False
    assert report.ok == pandera_ok, report.to_text()


@pytest.mark.parametrize(
    ("type_", "good", "bad"),
    [
        ("date", "2026-11-01", "not a day"),
        ("timestamp", "2026-11-01T10:00:00", "soon"),
        ("time", "10:30:00", "noon"),
    ],
)
def test_strings_that_are_not_dates_or_times_fail_the_type_check(
    local_repo: lake.Repository, type_: str, good: str, bad: str
) -> None:
    """Polars 2 no longer casts strings to temporal types: such a column was an internal error."""
    main = local_repo.branch("main")
    main.set_contract(
        "t", Contract.from_text(f"dataset: t\ncolumns:\n  id: {{type: int64}}\n  at: {{type: {type_}}}\n")
    )
    rows = pa.table({"id": [1, 2, 3], "at": [good, bad, None]})
    with pytest.raises(lake.ContractViolationError, match=r"at\.type") as err:
        main.write("t", rows)
    failed = next(r for r in err.value.reports[0].results if r.name == "at.type")
    assert failed.failed_rows == 1 and failed.samples[0]["at"] == bad
    main.write("t", rows, on_violation="quarantine")
    assert local_repo.read("t")["id"].to_pylist() == [1, 3]
    assert local_repo.read("t__quarantine")["at"].to_pylist() == [bad]


def test_a_number_the_cast_would_change_is_a_failing_row_named_and_set_aside(repo: lake.Repository) -> None:
    """Found through the Spark conformance suite: 1.5 written to an int64 column failed its type
    check with 0 failing rows (polars truncated it to 1), so no row was named or could be set
    aside. It is a failing row of the type check, with its value in the samples."""
    main = repo.branch("main")
    main.set_contract("t", contract({**ID, "n": {"type": "int64"}}))
    rows = pa.table({"id": [1, 2, 3], "n": [1.5, 2.0, None]})
    with pytest.raises(lake.ContractViolationError) as info:
        main.write("t", rows)
    [failed] = info.value.reports[0].failures
    assert (failed.name, failed.failed_rows, failed.samples) == ("n.type", 1, ({"n": "1.5"},))
    result = main.write("t", rows, on_violation="quarantine")
    assert result.validation["t"].quarantined == 1
    assert repo.read("t").to_pylist() == [{"id": 2, "n": 2}, {"id": 3, "n": None}]
    assert repo.read("t__quarantine").column("n").to_pylist() == ["1.5"]
