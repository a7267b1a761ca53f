"""ODCS v3 import and export, over a corpus of contracts written in the shapes of the standard's own
examples and datacontract-cli's (tests/fixtures/odcs): no internal error, no silent loss (every rule
is translated, refused by name and line, or named in a warning), and exact round trips."""

from __future__ import annotations

import copy
import json
import string
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import lake
from lake.cli.app import main
from lake.contracts import Contract, ContractError
from lake.contracts.odcs import OdcsImport, from_odcs, import_odcs, to_odcs, to_odcs_yaml

CORPUS = Path(__file__).parent / "fixtures" / "odcs"
FILES = sorted(CORPUS.glob("*.yaml"))
REFUSED = {"dialect-sql-refused.odcs.yaml", "malformed.odcs.yaml", "no-schema.odcs.yaml"}


def load(name: str) -> str:
    return (CORPUS / name).read_text()


def outcome(text: str) -> OdcsImport | list[str]:
    try:
        return import_odcs(text, label="doc.yaml")
    except ContractError as exc:
        return [str(p) for p in exc.problems]


def imported(name: str, **kw: Any) -> dict[str, Contract]:
    return {c.dataset: c for c in import_odcs(load(name), label=name, **kw).contracts}


def doc(quality: list[dict[str, Any]], props: list[dict[str, Any]] | None = None, **top: Any) -> str:
    body: dict[str, Any] = {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": "t",
        "name": "t",
        "version": "1.0.0",
        "status": "active",
        **top,
        "schema": [
            {
                "name": "t",
                "properties": props
                or [
                    {"name": "id", "logicalType": "integer", "required": True},
                    {"name": "status", "logicalType": "string"},
                    {"name": "tags", "logicalType": "array", "items": {"logicalType": "string"}},
                ],
                "quality": quality,
            }
        ],
    }
    return yaml.safe_dump(body, sort_keys=False)


# -- the corpus: no internal error, no silent loss, exact round trips ---------------------------
@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_file_imports_or_is_refused_with_lines(path: Path) -> None:
    result = outcome(path.read_text())
    if path.name in REFUSED:
        assert isinstance(result, list) and result
        assert all(p.startswith("doc.yaml:") and p.split(":")[1].isdigit() for p in result), result
    else:
        assert isinstance(result, OdcsImport), result
        assert result.contracts and all(w.line for w in result.warnings)


def _items(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    """Every part of the document a rule can hide in: rules, flags, type options, relationships."""
    out: list[tuple[tuple[Any, ...], str]] = []

    def prop(p: dict[str, Any], here: tuple[Any, ...]) -> None:
        for key in ("required", "unique", "primaryKey"):
            if p.get(key):
                out.append(((*here, key), key))
        for key in p.get("logicalTypeOptions") or {}:
            out.append(((*here, "logicalTypeOptions", key), key))
        for k, _ in enumerate(p.get("quality") or []):
            out.append(((*here, "quality", k), "rule"))
        for k, _ in enumerate(p.get("relationships") or []):
            out.append(((*here, "relationships", k), "relationship"))
        for j, sub in enumerate(p.get("properties") or []):
            prop(sub, (*here, "properties", j))
        if isinstance(p.get("items"), dict):
            prop(p["items"], (*here, "items"))

    for i, obj in enumerate(data.get("schema") or []):
        for j, p in enumerate(obj.get("properties") or []):
            prop(p, ("schema", i, "properties", j))
        for k, _ in enumerate(obj.get("quality") or []):
            out.append((("schema", i, "quality", k), "rule"))
    return out


def _without(data: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    copied = copy.deepcopy(data)
    node: Any = copied
    for part in path[:-1]:
        node = node[part]
    node.pop(path[-1])
    return copied


def _key(path: tuple[Any, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


@pytest.mark.parametrize("path", [p for p in FILES if p.name not in REFUSED], ids=lambda p: p.name)
def test_no_rule_is_lost_silently(path: Path) -> None:
    """Each rule, flag and type option either shapes the contracts (removing it changes them) or is
    named in a warning: none is dropped without a word."""
    data = yaml.safe_load(path.read_text())
    whole = outcome(path.read_text())
    assert isinstance(whole, OdcsImport)
    items = _items(data)
    assert items
    for at, what in items:
        key = _key(at)
        if any(w.key.startswith(key) or key in w.message for w in whole.warnings):
            continue
        less = outcome(yaml.safe_dump(_without(data, at), sort_keys=False))
        assert not (isinstance(less, OdcsImport) and less.contracts == whole.contracts), (
            f"{path.name}: {what} at {key} changes nothing and no warning names it"
        )


@pytest.mark.parametrize("path", [p for p in FILES if p.name not in REFUSED], ids=lambda p: p.name)
def test_what_imports_exports_and_imports_back_exactly(path: Path) -> None:
    for contract in import_odcs(path.read_text()).contracts:
        again = import_odcs(to_odcs_yaml(contract))
        assert again.version == "v3.1.0" and again.warnings == ()
        assert again.contracts == (contract,)


names = st.text(string.ascii_lowercase, min_size=1, max_size=6)
TYPES = [
    "int64",
    "float64",
    "string",
    "bool",
    "date32",
    "timestamp[us, UTC]",
    "decimal(10, 2)",
    "time",
    "list<string>",
    "struct<a: int64, b: string>",
]


@st.composite
def contracts(draw: st.DrawFn) -> Contract:
    cols: dict[str, dict[str, Any]] = {}
    for name in draw(st.lists(names, min_size=1, max_size=5, unique=True)):
        t = draw(st.sampled_from(TYPES))
        spec: dict[str, Any] = {"type": t}
        if draw(st.booleans()):
            spec["nullable"] = False
        if draw(st.booleans()):
            spec["unique"] = True
        if t == "int64":
            if draw(st.booleans()):
                spec["min"] = draw(st.integers(-100, 0))
                spec["max"] = draw(st.integers(1, 100))
            if draw(st.booleans()):
                spec["metrics"] = {
                    "mean": {"max": draw(st.floats(0, 10, allow_nan=False)), "severity": "warn"}
                }
        if t == "string":
            if draw(st.booleans()):
                spec["in"] = draw(st.lists(names, min_size=1, max_size=3, unique=True))
            if draw(st.booleans()):
                spec["not_in"] = ["x"]
            if draw(st.booleans()):
                spec["pattern"] = "^[a-z]+$"
                spec["max_length"] = draw(st.integers(1, 50))
        if t == "date32" and draw(st.booleans()):
            spec["min"] = "2020-01-01"
        if draw(st.booleans()):
            spec["checks"] = [f"{name} IS NOT NULL"]
        if draw(st.booleans()):
            spec["description"] = draw(st.text(string.ascii_letters + " ", min_size=1, max_size=12))
        cols[name] = spec
    first = next(iter(cols))
    checks: list[dict[str, Any]] = []
    for i, kind in enumerate(
        draw(st.lists(st.sampled_from(["sql", "unique", "rows", "warn", "where"]), max_size=4))
    ):
        name = f"c{i}"
        if kind == "sql":
            checks.append({"name": name, "sql": f"{first} IS NOT NULL"})
        elif kind == "unique":
            checks.append({"name": name, "unique": [first]})
        elif kind == "rows":
            checks.append({"name": name, "row_count": {"min": draw(st.integers(0, 5)), "max": 10}})
        elif kind == "warn":
            checks.append({"name": name, "sql": f"{first} IS NULL", "mostly": 0.5, "severity": "warn"})
        else:
            checks.append({"name": name, "row_count": {"max": 3}, "where": f"{first} IS NULL"})
    raw: dict[str, Any] = {"dataset": draw(names), "columns": cols, "checks": checks}
    if draw(st.booleans()):
        raw["owner"] = "team@acme.test"
        raw["description"] = "what it holds"
    if draw(st.booleans()):
        raw["primary_key"] = [first]
    raw["schema_evolution"] = draw(st.sampled_from(["strict", "additive", "any"]))
    if draw(st.booleans()):
        raw["drift"] = {"default": {"method": "psi", "threshold": 0.2}}
    contract = Contract.model_validate(raw)
    assume(not contract.semantic_problems())  # e.g. a column named like a SQL keyword
    return contract


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(contract=contracts())
def test_export_is_valid_odcs_and_imports_back_exactly(contract: Contract) -> None:
    again = import_odcs(to_odcs_yaml(contract))
    assert again.version == "v3.1.0" and again.warnings == ()  # valid against the v3.1.0 schema
    assert again.contracts == (contract,)
    assert from_odcs(to_odcs(contract)) == contract


# -- the bugs of the issue, each as it was reported -------------------------------------------
def test_a_team_mapping_imports_with_its_owner() -> None:
    """Was: internal error, AttributeError 'str' object has no attribute 'get'."""
    payments = imported("payments-v310.odcs.yaml")["payments"]
    assert payments.owner == "ana@acme.test"
    assert imported("orders-v302.odcs.yaml")["orders"].owner == "dora"  # the v3.0 list


def test_every_table_imports_and_dataset_picks_one() -> None:
    assert set(imported("payments-v310.odcs.yaml")) == {"payments", "merchants"}
    assert set(imported("payments-v310.odcs.yaml", dataset="merchants")) == {"merchants"}
    assert set(imported("payments-v310.odcs.yaml", dataset="payments_v2")) == {"payments"}  # physicalName
    with pytest.raises(
        ContractError, match="no table named 'nope'; the document's tables: payments, merchants"
    ):
        import_odcs(load("payments-v310.odcs.yaml"), dataset="nope")


def test_nested_objects_and_arrays_are_structs_and_lists_and_their_rules_are_named() -> None:
    result = import_odcs(load("catalog-nested.odcs.yaml"))
    products = result.contracts[0]
    item = products.columns["item"].arrow_type
    assert item == pa.struct(
        [
            ("title", pa.string()),
            ("price", pa.decimal128(8, 2)),
            ("dims", pa.struct([("width_mm", pa.int64()), ("height_mm", pa.int64())])),
        ]
    )
    assert not products.columns["item"].nullable
    assert products.columns["images"].arrow_type == pa.list_(
        pa.struct([("url", pa.string()), ("primary", pa.bool_())])
    )
    nested = [w for w in result.warnings if "nested" in w.message]
    assert any("schema[0].properties[1].properties[0].required" in w.message for w in nested)
    assert any("schema[0].properties[2].items.properties[0]" in w.message for w in nested)


def test_decimals_times_and_warehouse_types_keep_their_type() -> None:
    payments = imported("payments-v310.odcs.yaml")["payments"]
    assert payments.columns["amount"].arrow_type == pa.decimal128(12, 2)
    assert payments.columns["fee"].arrow_type == pa.decimal128(18, 3)  # duckdb's NUMERIC
    assert payments.columns["cutoff"].arrow_type == pa.time64("us")
    assert payments.columns["tags"].arrow_type == pa.list_(pa.string())
    orders = imported("orders-v302.odcs.yaml")["orders"]
    assert orders.columns["order_id"].arrow_type == pa.int32()  # postgres serial
    assert orders.columns["total"].arrow_type == pa.decimal128(10, 2)
    bignumeric = doc([], [{"name": "x", "logicalType": "number", "physicalType": "BIGNUMERIC"}])
    assert import_odcs(bignumeric).contracts[0].columns["x"].arrow_type == pa.decimal256(76, 38)


def test_thresholds_and_units_are_kept() -> None:
    payments = imported("payments-v310.odcs.yaml")
    checks = {c.name: c for c in payments["payments"].checks}
    assert checks["status.invalidValues"].mostly == pytest.approx(0.95)  # <= 5 percent, not a hard `in`
    assert checks["status.invalidValues"].sql == "status IN ('settled', 'pending', 'refunded')"
    assert checks["payer_email.nullValues"].mostly == pytest.approx(0.9)
    rows = {c.name: c for c in payments["merchants"].checks}["merchants.rowCount"].row_count
    assert rows is not None and (rows.min, rows.max) == (3, 3)  # mustBe: 3, not a check with no bounds
    assert checks["three_rows_at_least"].row_count is not None
    assert checks["three_rows_at_least"].row_count.min == 3  # mustBeGreaterThan: 2
    email = payments["payments"].columns["payer_email"]
    assert email.pattern is not None and email.max_length == 254  # format: email
    assert payments["payments"].columns["payment_id"].pattern is not None  # format: uuid


def test_common_sql_forms_become_row_rules_counts_metrics_and_freshness() -> None:
    payments = imported("payments-v310.odcs.yaml")["payments"]
    checks = {c.name: c for c in payments.checks}
    assert checks["no_negative_fees"].sql == "NOT (fee < 0)"  # COUNT(*) WHERE bad, mustBe 0
    pii = checks["pii_tagged"]  # duckdb's list_contains, read in the server's dialect
    assert (pii.sql, pii.mostly, pii.severity) == ("ARRAY_CONTAINS(tags, 'pii')", pytest.approx(0.9), "warn")
    assert checks["recent_payments"].freshness is not None
    assert checks["recent_payments"].freshness.max_age == "2 days"
    settled = checks["settled_rows"]
    assert (
        settled.row_count is not None and settled.row_count.min == 1 and settled.where == "status = 'settled'"
    )
    [p95] = payments.columns["amount"].metrics["quantile"]
    assert p95.p == 0.95 and p95.max is not None and p95.max < 50000


@pytest.mark.parametrize(
    ("query", "bound", "expected"),
    [
        (
            "SELECT COUNT(*) FROM ${object} WHERE status IS NULL",
            {"mustBe": 0},
            {"sql": "NOT (status IS NULL)"},
        ),
        ("SELECT count(*) FROM {model} WHERE id < 0", {"mustBeLessThan": 1}, {"sql": "NOT (id < 0)"}),
        ("SELECT COUNT(*) FROM t", {"mustBeGreaterThan": 10}, {"row_count": {"min": 11}}),
        ("SELECT COUNT(1) FROM ${table}", {"mustBeGreaterOrEqualTo": 5}, {"row_count": {"min": 5}}),
        ("SELECT count_if(id < 0) FROM t", {"mustBe": 0}, {"sql": "NOT (id < 0)"}),
        ("SELECT COUNT(*) FROM t WHERE id < 0", {"mustBeLessOrEqualTo": 3}, {"row_count": {"max": 3}}),
        ("SELECT COUNT(*) FROM t WHERE id < 0", {"mustBeLessThan": 2, "unit": "percent"}, {"mostly": 0.98}),
    ],
)
def test_sql_rule_forms(query: str, bound: dict[str, Any], expected: dict[str, Any]) -> None:
    [check] = import_odcs(doc([{"name": "r", "type": "sql", "query": query, **bound}])).contracts[0].checks
    got = check.model_dump(exclude_defaults=True)
    for key, value in expected.items():
        assert got[key] == (pytest.approx(value) if isinstance(value, float) else value), got


def test_iso_date_and_timestamp_bounds_import() -> None:
    """Was: 14 pydantic lines about integers."""
    payments = imported("payments-v310.odcs.yaml")["payments"]
    import datetime as dt

    assert payments.columns["paid_on"].min == dt.date(2020, 1, 1)
    assert payments.columns["paid_on"].max == dt.date(2099, 12, 31)  # exclusiveMaximum 2100-01-01


def test_untranslatable_rules_are_refused_all_at_once_by_name_at_their_line() -> None:
    with pytest.raises(ContractError) as info:
        import_odcs(load("dialect-sql-refused.odcs.yaml"), label="events.odcs.yaml")
    problems = [str(p) for p in info.value.problems]
    assert len(problems) == 4, problems
    text = load("dialect-sql-refused.odcs.yaml").splitlines()
    for name, needle in [
        ("one_row_per_event", "QUALIFY"),
        ("had_rows_yesterday", "time travel"),
        ("users_exist", "JOIN"),
        ("schema[0].properties[1].quality[0]", "engine 'soda'"),
    ]:
        [hit] = [p for p in problems if f"rule {name!r}" in p]
        assert needle in hit
        line = int(hit.split(":")[1])
        assert name in text[line - 1] or "type: custom" in text[line - 1], (line, text[line - 1])


def test_a_malformed_document_gets_the_schema_errors_at_their_lines() -> None:
    with pytest.raises(ContractError) as info:
        import_odcs(load("malformed.odcs.yaml"), label="m.yaml")
    problems = [str(p) for p in info.value.problems]
    assert any("'status' is a required property" in p for p in problems)
    assert any(p.startswith("m.yaml:9:") and "'blob'" in p for p in problems)
    assert any(p.startswith("m.yaml:13:") and "not of type 'boolean'" in p for p in problems)


def test_a_document_labelled_older_but_written_in_310_imports_with_a_warning() -> None:
    result = import_odcs(load("labelled-v302-written-v310.odcs.yaml"))
    assert result.version == "v3.1.0"
    assert any("says v3.0.2 but follows ODCS v3.1.0" in w.message for w in result.warnings)
    readings = result.contracts[0]
    assert readings.owner == "fay"
    assert readings.columns["sensor_id"].metrics["duplicate_percent"][0].max is not None
    [missing] = readings.checks
    assert missing.row_count is not None and missing.row_count.max == 50


def test_text_rules_are_imported_with_a_warning_not_dropped() -> None:
    result = import_odcs(doc([{"type": "text", "description": "be nice"}]))
    assert not result.contracts[0].checks
    assert any("text rule" in w.message and w.key == "schema[0].quality[0]" for w in result.warnings)


def test_severity_warning_and_info_become_warn() -> None:
    rules = [
        {"name": "a", "metric": "rowCount", "mustBeGreaterThan": 0, "severity": "warning"},
        {"name": "b", "metric": "rowCount", "mustBeGreaterThan": 0, "severity": "info"},
    ]
    checks = import_odcs(doc(rules)).contracts[0].checks
    assert [c.severity for c in checks] == ["warn", "warn"]


# -- the imported contract enforces what the ODCS said, on both backends ------------------------
def test_a_percent_tolerance_is_enforced_on_write(repo: lake.Repository) -> None:
    rule = {
        "metric": "invalidValues",
        "arguments": {"validValues": ["ok"]},
        "mustBeLessOrEqualTo": 5,
        "unit": "percent",
    }
    props = [
        {"name": "id", "logicalType": "integer"},
        {"name": "status", "logicalType": "string", "quality": [rule]},
    ]
    contract = import_odcs(doc([], props)).contracts[0]
    main_ = repo.branch("main")
    main_.set_contract("t", contract)
    ok = pa.table({"id": list(range(100)), "status": ["ok"] * 97 + ["bad"] * 3})
    main_.write("t", ok)
    bad = pa.table({"id": list(range(100)), "status": ["ok"] * 90 + ["bad"] * 10})
    with pytest.raises(lake.ContractViolationError, match=r"status\.invalidValues"):
        main_.write("t", bad)
    assert repo.read("t").num_rows == 100


# -- the CLI -----------------------------------------------------------------------------------
def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out, out.err


def test_cli_imports_every_table_as_a_multi_document_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "contract", "import-odcs", str(CORPUS / "payments-v310.odcs.yaml"))
    assert code == 0
    assert [c.dataset for c in map(Contract.from_text, out.split("---\n"))] == ["payments", "merchants"]
    assert "warning:" in err and "text rule" in err


def test_cli_writes_one_file_per_table(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, _ = run(
        capsys,
        "contract",
        "import-odcs",
        str(CORPUS / "payments-v310.odcs.yaml"),
        "--output-dir",
        str(tmp_path),
    )
    assert code == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["merchants.yaml", "payments.yaml"]
    assert Contract.from_yaml(tmp_path / "merchants.yaml").dataset == "merchants"


def test_cli_json_carries_the_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "contract", "import-odcs", str(CORPUS / "catalog-nested.odcs.yaml"), "--json"
    )
    payload = json.loads(out)
    assert code == 0 and payload["version"] == "v3.1.0" and payload["tables"] == ["products"]
    assert any("nested" in w["message"] and w["line"] for w in payload["warnings"])
    assert "nested" in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["payments-v310.odcs.yaml", "--dataset", "nope"], "the document's tables: payments, merchants"),
        (["malformed.odcs.yaml"], "not valid ODCS v3.1.0"),
        (["dialect-sql-refused.odcs.yaml"], "one_row_per_event"),
        (["no-schema.odcs.yaml"], "no table"),
    ],
)
def test_cli_refusals_exit_2_with_the_reason(
    capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    code, _, err = run(capsys, "contract", "import-odcs", str(CORPUS / args[0]), *args[1:])
    assert code == 2 and needle in err


# -- found by review: each translated faithfully, or refused; never an internal error ------------
def one_column(rule: dict[str, Any], prop: dict[str, Any] | None = None) -> str:
    column = prop or {"name": "a", "logicalType": "string"}
    return doc([], [{**column, "quality": [rule]}, {"name": "ts", "logicalType": "timestamp"}])


def sql(query: str, **bound: Any) -> str:
    return doc(
        [{"name": "r", "type": "sql", "query": query, **bound}],
        [
            {"name": "a", "logicalType": "integer"},
            {"name": "b", "logicalType": "integer"},
            {"name": "zip", "logicalType": "string"},
            {"name": "ts", "logicalType": "timestamp"},
        ],
    )


def test_braces_inside_string_literals_are_not_placeholders() -> None:
    contract = import_odcs(
        sql("SELECT COUNT(*) FROM {model} WHERE NOT REGEXP_LIKE(zip, '^[0-9]{5}$')", mustBe=0)
    )
    assert contract.contracts[0].checks[0].sql == "REGEXP_LIKE(zip, '^[0-9]{5}$')"


def test_columns_named_like_sql_literals_are_quoted() -> None:
    rule = {"metric": "nullValues", "mustBe": 0}
    got = import_odcs(one_column(rule, {"name": "null", "logicalType": "integer"})).contracts[0]
    assert got.columns["null"].checks == ['"null" IS NOT NULL']


@pytest.mark.parametrize(
    ("query", "bound", "kind"),
    [
        ("SELECT COUNT(*) FROM t WHERE ts > now() - INTERVAL '1 day'", {"mustBeGreaterThan": 0}, "freshness"),
        (
            "SELECT COUNT(*) FROM t WHERE ts > now() - INTERVAL '1 day'",
            {"mustBeGreaterOrEqualTo": 1000},
            None,
        ),
        (
            "SELECT COUNT(*) FROM t WHERE ts > now() - INTERVAL '-1 day'",
            {"mustBeGreaterThan": 0},
            None,
        ),
    ],
)
def test_freshness_only_where_it_is_exactly_at_least_one_fresh_row(
    query: str, bound: dict[str, Any], kind: str | None
) -> None:
    result = outcome(sql(query, **bound))
    if kind is None:  # not freshness, and now() has no row rule: refused, not weakened
        assert isinstance(result, list) and "NOW()" in result[0]
        return
    assert isinstance(result, OdcsImport)
    [check] = result.contracts[0].checks
    assert check.kind == kind


def test_a_bound_and_its_exclusive_twin_keep_the_tighter() -> None:
    opts = {"minimum": 10, "exclusiveMinimum": 0, "maximum": 50, "exclusiveMaximum": 100}
    got = import_odcs(doc([], [{"name": "a", "logicalType": "integer", "logicalTypeOptions": opts}]))
    spec = got.contracts[0].columns["a"]
    assert (spec.min, spec.max) == (10, 50)


def test_an_exclusive_decimal_bound_is_the_next_value_on_the_scale() -> None:
    prop = {
        "name": "a",
        "logicalType": "number",
        "physicalType": "decimal(10,1)",
        "logicalTypeOptions": {"exclusiveMinimum": 1.25},
    }
    assert import_odcs(doc([], [prop])).contracts[0].columns["a"].min == 1.3


def test_a_strict_percent_stays_strict() -> None:
    rule = {"metric": "nullValues", "mustBeLessThan": 5, "unit": "percent"}
    [check] = import_odcs(one_column(rule)).contracts[0].checks
    assert check.mostly > 0.95


def test_count_if_with_a_where_keeps_its_share_of_those_rows() -> None:
    [check] = (
        import_odcs(sql("SELECT count_if(a < 0) FROM t WHERE b > 0", mustBeLessThan=10, unit="percent"))
        .contracts[0]
        .checks
    )
    assert (check.sql, check.where) == ("NOT (a < 0)", "b > 0")


def test_a_lakegate_custom_rule_adds_to_the_columns_other_rules() -> None:
    rules = [
        {"type": "sql", "query": "SELECT COUNT(*) FROM t WHERE a < 0", "mustBe": 0},
        {"type": "custom", "engine": "lakegate", "implementation": "checks: [a < 100]"},
    ]
    props = [{"name": "a", "logicalType": "integer", "quality": rules}]
    assert import_odcs(doc([], props)).contracts[0].columns["a"].checks == ["NOT (a < 0)", "a < 100"]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            one_column(
                {
                    "metric": "invalidValues",
                    "arguments": {"validValues": ["x"], "pattern": "^x$"},
                    "mustBe": 0,
                }
            ),
            id="validValues-and-pattern",
        ),
        pytest.param(sql("SELECT COUNT(*) FROM t WHERE a < 0 LIMIT 1 OFFSET 1", mustBe=0), id="offset"),
        pytest.param(
            doc([], [{"name": "a", "logicalType": "integer"}]).replace(
                "name: t\n    properties", "name: ''\n    properties"
            ),
            id="no-table-name",
        ),
        pytest.param(doc([{"metric": "rowCount", "mustBeLessOrEqualTo": float("inf")}]), id="inf"),
        pytest.param(doc([{"metric": "rowCount", "mustBe": float("nan")}]), id="nan"),
        pytest.param(doc([{"metric": "rowCount", "mustBeGreaterThan": 10**400}]), id="huge"),
        pytest.param(sql("SELECT COUNT(*) FROM t LIMIT 1e400", mustBeGreaterThan=0), id="limit-huge"),
        pytest.param(
            doc([], [{"name": "a", "logicalType": "integer", "physicalType": "INT; DROP TABLE x"}]),
            id="physical-injection",
        ),
        pytest.param(
            doc(
                [],
                [
                    {
                        "name": "a",
                        "logicalType": "integer",
                        "logicalTypeOptions": {"exclusiveMinimum": 10**400, "multipleOf": 10**400},
                    }
                ],
            ),
            id="huge-options",
        ),
        pytest.param(
            doc(
                [
                    {"type": "custom", "engine": "lakegate", "implementation": "sql: a > 0"},
                    {"metric": "rowCount", "mustBeGreaterThan": 0},
                ],
                [{"name": "a", "logicalType": "integer"}],
            ),
            id="custom-without-name",
        ),
        pytest.param(
            doc(
                [{"type": "custom", "engine": "lakegate", "implementation": {"name": "c", "sql": "a > 0"}}],
                [{"name": "a", "logicalType": "integer"}],
            ),
            id="implementation-mapping",
        ),
        pytest.param(
            doc([{"type": "custom", "engine": "lakegate", "implementation": "a: [unclosed"}]),
            id="implementation-bad-yaml",
        ),
        pytest.param(
            doc(
                [],
                [
                    {
                        "name": "a",
                        "properties": [{"name": "b", "logicalType": "string"}],
                        "items": {"logicalType": "string"},
                    }
                ],
            ),
            id="properties-and-items",
        ),
    ],
)
def test_odd_documents_import_or_are_refused_never_crash(text: str) -> None:
    result = outcome(text)
    assert isinstance(result, OdcsImport | list)


def test_a_30_date_bound_with_the_exclusive_flag() -> None:
    text = doc(
        [],
        [
            {
                "name": "d",
                "logicalType": "date",
                "logicalTypeOptions": {"minimum": "2024-01-01", "exclusiveMinimum": True},
            }
        ],
    )
    text = text.replace("apiVersion: v3.1.0", "apiVersion: v3.0.2").replace("'2024-01-01'", "2024-01-01")
    result = outcome(text)
    if isinstance(result, OdcsImport):
        import datetime as dt

        assert result.contracts[0].columns["d"].min == dt.date(2024, 1, 2)
