"""The contract file: loading, line-accurate errors, round trips, compatibility, ODCS, pandera."""

from __future__ import annotations

import string
from collections.abc import Callable
from pathlib import Path

import pandera.polars as pap
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lake
from lake.contracts import Contract, ContractError, diff_contracts
from lake.contracts.odcs import from_odcs, to_odcs_yaml

FIXTURES = Path(__file__).parent / "fixtures"
ORDERS = FIXTURES / "orders.yaml"


def test_the_issue_example_loads() -> None:
    c = Contract.from_yaml(ORDERS)
    assert c.dataset == "orders" and c.primary_key == ["order_id"]
    assert c.columns["email"].pattern == r"^[^@\s]+@[^@\s]+$"
    assert [ch.name for ch in c.checks] == [
        "shipped_after_created",
        "some_rows",
        "emails_mostly_present",
        "one_order_per_customer_and_time",
    ]
    assert c.drift is not None and c.drift.columns["amount"].method == "psi"
    assert lake.Contract is Contract


def _problems(text: str) -> list[str]:
    with pytest.raises(ContractError) as info:
        Contract.from_text(text, "orders.yaml")
    return [str(p) for p in info.value.problems]


BASE = ORDERS.read_text()


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "min: 0, max",
            "mni: 0, max",
            "orders.yaml:9: columns.amount.mni: unknown key 'mni' (did you mean 'min'?)",
        ),
        (
            "nullable: false, unique: true}",
            "nullable: maybe, unique: true}",
            "orders.yaml:7: columns.order_id.nullable",
        ),
        (
            "{type: int64, nullable: false}",
            "{type: int46, nullable: false}",
            "orders.yaml:8: columns.customer_id.type: unknown type 'int46'",
        ),
        (
            "'^[^@\\s]+@[^@\\s]+$'",
            "'^[unclosed'",
            "orders.yaml:11: columns.email.pattern: invalid regular expression",
        ),
        (
            'sql: "email IS NOT NULL"',
            'sql: "emial IS NOT NULL"',
            "orders.yaml:20: checks.2.sql: 'emial IS NOT NULL' names an unknown column 'emial'",
        ),
        ('sql: "email IS NOT NULL"', 'sql: "DROP TABLE orders"', "orders.yaml:20: checks.2.sql"),
        ('sql: "email IS NOT NULL"', 'sql: "amount > (SELECT max(amount) FROM orders)"', "holds a subquery"),
        ('sql: "email IS NOT NULL"', 'sql: "exec_cmd(email) = 1"', "calls exec_cmd(), which is not allowed"),
        ("mostly: 0.95", "mostly: 1.5", "orders.yaml:21: checks.2.mostly"),
        ("severity: warn", "severity: panic", "orders.yaml:22: checks.2.severity"),
        (
            "primary_key: [order_id]",
            "primary_key: [order]",
            "orders.yaml:4: primary_key.0: primary key column 'order' is not among the columns",
        ),
        (
            "row_count: {min: 1}",
            "row_count: {min: 1, maxx: 3}",
            "orders.yaml:18: checks.1.row_count.maxx: unknown key 'maxx' (did you mean 'max'?)",
        ),
        (
            "unique: [customer_id, created_at]",
            "unique: [customer_id, created]",
            "checks.3.unique.1: unknown column 'created'",
        ),
        ("schema_evolution: additive", "schema_evolution: whatever", "orders.yaml:5: schema_evolution"),
        (
            "  amount:      {",
            "  amount:      {min_length: 2, ",
            "columns.amount.min_length: min_length applies to string columns",
        ),
        ("owner: sales-data@example.com", "owner: a\nowner: b", "orders.yaml:4: owner: key given twice"),
    ],
)
def test_every_problem_names_the_file_the_line_and_the_key(old: str, new: str, expected: str) -> None:
    assert old in BASE
    problems = _problems(BASE.replace(old, new, 1))
    assert any(expected in p for p in problems), problems


def test_not_yaml_at_all_gives_the_line() -> None:
    assert _problems("dataset: x\ncolumns: [unclosed\n")[0].startswith("orders.yaml:3: not valid YAML")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="cannot read"):
        Contract.from_yaml(tmp_path / "nope.yaml")


names = st.text(string.ascii_lowercase, min_size=1, max_size=8)
column_specs = st.fixed_dictionaries(
    {"type": st.sampled_from(["int64", "float64", "string", "bool"])},
    optional={"nullable": st.booleans(), "unique": st.booleans(), "description": st.text(max_size=20)},
)


@settings(max_examples=50, deadline=None)
@given(
    cols=st.dictionaries(names, column_specs, min_size=1, max_size=6),
    evolution=st.sampled_from(["strict", "additive", "any"]),
    rows=st.one_of(st.none(), st.integers(0, 10**6)),
)
def test_yaml_model_yaml_round_trips(
    cols: dict[str, dict[str, object]], evolution: str, rows: int | None
) -> None:
    raw: dict[str, object] = {"dataset": "d", "schema_evolution": evolution, "columns": cols}
    if rows is not None:
        raw["checks"] = [{"name": "enough", "row_count": {"min": rows}}]
    contract = Contract.model_validate(raw)
    again = Contract.from_text(contract.to_yaml())
    assert again == contract and again.hash == contract.hash
    assert Contract.from_text(again.to_yaml()).to_yaml() == contract.to_yaml()


def test_odcs_round_trip_loses_nothing() -> None:
    c = Contract.from_yaml(ORDERS)
    text = to_odcs_yaml(c)
    assert "apiVersion: v3" in text and "kind: DataContract" in text
    assert from_odcs(text) == c


def test_odcs_rules_without_an_equivalent_are_refused_not_dropped() -> None:
    doc = {
        "apiVersion": "v3.0.2",
        "kind": "DataContract",
        "id": "x",
        "name": "t",
        "version": "1",
        "status": "active",
        "schema": [
            {
                "name": "t",
                "properties": [{"name": "a", "logicalType": "integer"}],
                "quality": [{"type": "custom", "engine": "soda", "implementation": "x > 0"}],
            }
        ],
    }
    with pytest.raises(ContractError, match="engine 'soda', which lakegate does not run"):
        from_odcs(doc)


def test_to_pandera_runs_the_same_rules() -> None:
    c = Contract.from_yaml(ORDERS)
    schema = c.to_pandera()
    assert isinstance(schema, pap.DataFrameSchema)
    good = pl.DataFrame(
        {
            "order_id": [1],
            "customer_id": [1],
            "amount": [5.0],
            "currency": ["EUR"],
            "email": ["a@b.c"],
            "created_at": [None],
            "shipped_at": [None],
        },
        schema_overrides={"created_at": pl.Datetime("us", "UTC"), "shipped_at": pl.Datetime("us", "UTC")},
    ).with_columns(
        pl.lit("2026-01-01T00:00:00Z").str.to_datetime(time_unit="us", time_zone="UTC").alias("created_at")
    )
    schema.validate(good, lazy=True)
    bad = good.with_columns(pl.lit(-1.0).alias("amount"))
    with pytest.raises(Exception, match=r"amount\.min"):
        schema.validate(bad, lazy=True)


def test_import_from_a_pandera_model() -> None:
    class Orders(pap.DataFrameModel):
        order_id: int = pap.Field(unique=True, ge=0)
        currency: str = pap.Field(isin=["EUR", "USD"], nullable=True)

        class Config:
            strict = True

    c = Contract.from_pandera(Orders, dataset="orders")
    assert c.columns["order_id"].type == "int64" and c.columns["order_id"].unique
    assert c.columns["order_id"].min == 0
    assert c.columns["currency"].in_ == ["EUR", "USD"] and c.columns["currency"].nullable
    assert c.extra_columns == "forbid"


def test_contract_diff_golden(golden: Callable[[str, str], None]) -> None:
    d = diff_contracts(Contract.from_yaml(ORDERS), Contract.from_yaml(FIXTURES / "orders_v2.yaml"))
    assert d.breaking
    golden("contract_diff.txt", d.to_text())


@pytest.mark.parametrize(
    ("old", "new", "level"),
    [
        (
            "amount:      {type: float64, nullable: false, min: 0, max: 100000}",
            "amount:      {type: float64, nullable: false, min: 0, max: 500000}",
            "compatible",
        ),
        (
            "amount:      {type: float64, nullable: false, min: 0, max: 100000}",
            "amount:      {type: float64, nullable: false, min: 5, max: 100000}",
            "breaking",
        ),
        (
            "customer_id: {type: int64, nullable: false}",
            "customer_id: {type: int32, nullable: false}",
            "breaking",
        ),
        (
            'shipped_at:  {type: "timestamp[us, UTC]"}',
            'shipped_at:  {type: "timestamp[us, UTC]", nullable: false}',
            "breaking",
        ),
        (
            "currency:    {type: string, in: [EUR, USD, GBP]}",
            "currency:    {type: string, in: [EUR, USD]}",
            "breaking",
        ),
        (
            "currency:    {type: string, in: [EUR, USD, GBP]}",
            "currency:    {type: string, in: [EUR, USD, GBP, CHF]}",
            "warning",
        ),
        (
            "customer_id: {type: int64, nullable: false}",
            "customer_id: {type: int64, nullable: false, unique: true}",
            "breaking",
        ),
        (
            '  shipped_at:  {type: "timestamp[us, UTC]"}\n',
            '  shipped_at:  {type: "timestamp[us, UTC]"}\n  note: {type: string}\n',
            "compatible",
        ),
        ("  currency:    {type: string, in: [EUR, USD, GBP]}\n", "", "breaking"),
    ],
)
def test_contract_diff_classifies_each_change(old: str, new: str, level: str) -> None:
    assert old in BASE
    d = diff_contracts(Contract.from_text(BASE), Contract.from_text(BASE.replace(old, new, 1)))
    assert [c.level for c in d.changes] == [level], d.to_text()
