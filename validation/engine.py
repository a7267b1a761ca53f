"""Running a contract's checks on the rows a write brings, and on the dataset as it will be after
the write (uniqueness across all rows, row counts, freshness).

Row rules are the contract's compiled polars expressions, counted in one pass over the batch.
Table-level rules look at the dataset's other rows only where they can collide: a unique key is
checked against the files whose min/max statistics overlap the batch's keys, so appending new
order ids never re-reads the old ones.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import operator
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from lake.contracts.model import Contract

from .compiled import CompiledCheck, compile_checks
from .others import OtherRows
from .report import MAX_SAMPLES, CheckResult, Status, ValidationReport

VIOLATIONS = "_lake_violations"


@dataclass(frozen=True)
class Typed:
    """A batch cast to the contract's types, with the checks that casting already decided."""

    table: pa.Table
    results: tuple[CheckResult, ...]
    failing: Mapping[str, pl.Series] = field(default_factory=dict)  # per failed type check: its rows

    @property
    def bad_rows(self) -> pl.Series | None:
        """True where a value could not be cast (to any column's type); None when none failed."""
        masks = list(self.failing.values())
        return functools.reduce(operator.or_, masks) if masks else None


_COMPILED: dict[str, tuple[CompiledCheck, ...]] = {}


def _compiled(contract: Contract) -> tuple[CompiledCheck, ...]:
    key = contract.hash
    if key not in _COMPILED:
        if len(_COMPILED) > 64:
            _COMPILED.clear()
        _COMPILED[key] = tuple(compile_checks(contract))
    return _COMPILED[key]


def _json(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time | decimal.Decimal | dt.timedelta):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def _samples(frame: pl.DataFrame, columns: Sequence[str]) -> tuple[dict[str, Any], ...]:
    cols = [c for c in dict.fromkeys(columns) if c in frame.columns]
    return tuple(
        {k: _json(v) for k, v in row.items()} for row in frame.select(cols).head(MAX_SAMPLES).to_dicts()
    )


def _status(failed: int, rows: int, check: CompiledCheck) -> Status:
    if failed == 0 or holds_mostly(rows - failed, rows, check.mostly):
        return "pass"
    return "fail" if check.severity == "error" else "warn"


def _lenient_cast(series: pl.Series, dtype: pl.DataType) -> pl.Series:
    """``series`` cast to ``dtype``, a value that does not fit becoming null. Polars no longer
    casts strings to temporal types: those are parsed (dates as ISO ``YYYY-MM-DD``, as Arrow's cast
    reads them), and a column that cannot be read at all is all null, every value failing."""
    try:
        cast = series.cast(dtype, strict=False)
        if series.dtype.is_numeric() and dtype.is_numeric():
            # a number the cast changes (1.5 as an int64 is 1) does not fit: it fails, as null
            lossy = (cast.cast(series.dtype, strict=False) != series).fill_null(False)
            cast = pl.select(pl.when(lossy).then(None).otherwise(cast)).to_series().alias(series.name)
        return cast
    except pl.exceptions.PolarsError:
        if series.dtype != pl.String:
            return pl.Series(series.name, [None] * series.len(), dtype=dtype)
    try:
        if dtype == pl.Date:
            return series.str.to_date("%Y-%m-%d", strict=False)
        if isinstance(dtype, pl.Datetime):
            parsed = series.str.to_datetime(
                strict=False, time_unit=dtype.time_unit, time_zone=dtype.time_zone
            )
            return parsed.cast(dtype)
        if dtype == pl.Time:
            return series.str.to_time(strict=False)
    except pl.exceptions.PolarsError:
        pass
    return pl.Series(series.name, [None] * series.len(), dtype=dtype)


def holds_mostly(passed: int, rows: int, mostly: float) -> bool:
    """Whether ``passed`` of ``rows`` rows is at least the share ``mostly``, decided exactly:
    ``mostly`` is the decimal the contract wrote (0.2 is 1/5, not the float just above it),
    and the comparison is of integers, so 1 passing row in 5 holds ``mostly: 0.2``."""
    if rows == 0 or passed >= rows:
        return True
    share = Fraction(repr(mostly))  # the shortest repr is the decimal the YAML held
    return passed * share.denominator >= share.numerator * rows


def cast_to_contract(contract: Contract, table: pa.Table) -> Typed:
    """Cast ``table`` to the contract's column types without loss; report what cannot be cast,
    which columns are missing, and which the contract does not allow."""
    results: list[CheckResult] = []
    rows = table.num_rows
    pk = list(contract.primary_key)
    extra = [c for c in table.column_names if c not in contract.columns]
    if contract.extra_columns == "forbid":
        broken = bool(extra)
        results.append(
            CheckResult(
                "schema.extra_columns",
                "schema",
                ",".join(extra) or None,
                "fail" if broken else "pass",
                "error",
                "only the contract's columns",
                rows if broken else 0,
                rows,
                message=f"columns not in the contract: {', '.join(extra)}" if broken else "",
            )
        )
    failing_by: dict[str, pl.Series] = {}
    arrays: list[pa.ChunkedArray] = []
    fields: list[pa.Field] = []
    for name, spec in contract.columns.items():
        target = spec.arrow_type
        if name not in table.column_names:
            if not spec.nullable:  # a nullable column the data lacks reads as nulls
                results.append(
                    CheckResult(
                        f"{name}.present",
                        "schema",
                        name,
                        "fail",
                        "error",
                        "column present",
                        rows,
                        rows,
                        message=f"the data lacks column {name!r}",
                    )
                )
            else:
                results.append(
                    CheckResult(f"{name}.present", "schema", name, "pass", "error", "column present")
                )
            arrays.append(pa.chunked_array([pa.nulls(rows, target)]))
        else:
            if not spec.nullable:
                results.append(
                    CheckResult(f"{name}.present", "schema", name, "pass", "error", "column present")
                )
            col = table.column(name)
            if col.type != target:
                try:
                    col = pc.cast(col, target, safe=True)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    series = pl.from_arrow(col)
                    assert isinstance(series, pl.Series)
                    want = pl.from_arrow(pa.nulls(0, target))
                    assert isinstance(want, pl.Series)
                    cast = _lenient_cast(series, want.dtype)
                    failing = cast.is_null() & series.is_not_null()
                    frame = pl.DataFrame(
                        {
                            **{k: pl.from_arrow(table.column(k)) for k in pk if k in table.column_names},
                            name: series.cast(pl.String, strict=False),
                        }
                    )
                    results.append(
                        CheckResult(
                            f"{name}.type",
                            "type",
                            name,
                            "fail",
                            "error",
                            spec.type,
                            int(failing.sum()),
                            rows,
                            message=f"{col.type} values that do not fit {spec.type}",
                            samples=_samples(frame.filter(failing), [*pk, name]),
                        )
                    )
                    failing_by[f"{name}.type"] = failing
                    col = cast.to_arrow()
                    col = pa.chunked_array([col]) if isinstance(col, pa.Array) else col
            if not results or results[-1].name != f"{name}.type":
                results.append(CheckResult(f"{name}.type", "type", name, "pass", "error", spec.type, 0, rows))
            arrays.append(col)
        fields.append(pa.field(name, target, True))
    if contract.extra_columns == "allow":
        for name in extra:
            arrays.append(table.column(name))
            fields.append(table.schema.field(name))
    typed = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    return Typed(typed, tuple(results), failing_by)


CHUNK_ROWS = 1_000_000  # row rules run over slices this long, bounding conversion memory


def validate(
    contract: Contract,
    table: pa.Table,
    *,
    others: OtherRows | None = None,
    pre: Sequence[CheckResult] = (),
    now: dt.datetime | None = None,
    blame: bool = False,
    rows_only: bool = False,
) -> tuple[ValidationReport, pl.DataFrame | None]:
    """Check ``table`` (already cast by :func:`cast_to_contract`) and the dataset it will join.
    ``rows_only``: run the row rules alone (no uniqueness, row count, freshness or metric), as a
    part of a write checked where its rows are (the other checks are made over all its parts).

    Returns the report and, with ``blame`` and when any row-attributable check failed, a frame
    with one column ``_lake_violations`` (the names of the checks each row breaks)."""
    rows = table.num_rows
    pk = [c for c in contract.primary_key if c in table.column_names]
    checks = _compiled(contract)
    results: list[CheckResult] = list(pre)

    row_checks = [c for c in checks if c.passes is not None]
    failing_rules: list[CompiledCheck] = []
    if row_checks:
        exprs = [c.passes for c in row_checks if c.passes is not None]
        needed = list(dict.fromkeys([*pk, *(n for e in exprs for n in e.meta.root_names())]))
        # (a where: is part of its check's expression, so its columns are among these)
        counts = [0] * len(row_checks)
        selected = [0] * len(row_checks)  # the rows each check runs on (its where: selects)
        samples: list[list[dict[str, Any]]] = [[] for _ in row_checks]
        chosen = [(i, c.selects) for i, c in enumerate(row_checks) if c.where is not None]
        for part in _slices(table, needed):
            got = part.select(
                [(~e).sum().alias(str(i)) for i, e in enumerate(exprs)]
                + [w.sum().alias(f"w{i}") for i, w in chosen]
            ).row(0)
            for k, (i, _) in enumerate(chosen):
                selected[i] += int(got[len(exprs) + k] or 0)
            got = got[: len(exprs)]
            for i, n in enumerate(got):
                if n and len(samples[i]) < MAX_SAMPLES:
                    cols = [*pk, *exprs[i].meta.root_names()]
                    samples[i] += _samples(part.filter(~exprs[i]), cols)[: MAX_SAMPLES - len(samples[i])]
                counts[i] += int(n or 0)
        if any(counts):
            # pandera is the engine of record for every failure: it re-runs the same rules
            # (lazily, collecting all failures) and its failure cases give the counts and rows.
            counts, samples = _pandera_failures(contract, table, row_checks, pk)
        for i, check in enumerate(row_checks):
            runs_on = selected[i] if check.where is not None else rows
            status = _status(counts[i], runs_on, check)
            if status == "fail":
                failing_rules.append(check)
            results.append(
                CheckResult(
                    check.name,
                    check.kind,
                    check.column,
                    status,
                    check.severity,
                    check.threshold,
                    counts[i],
                    runs_on,
                    check.mostly,
                    samples=tuple(samples[i]),
                )
            )

    bad_keys: list[tuple[str, pl.Series]] = []
    for check in () if rows_only else checks:
        if check.kind == "unique":
            result, bad = _unique(check, table, others, pk)
            results.append(result)
            if result.status == "fail":
                bad_keys.append((check.name, bad))
        elif check.kind == "row_count":
            assert check.row_count is not None
            after = count_selected(table, check) + _count_kept(others, check)
            rc = check.row_count
            broken = (rc.min is not None and after < rc.min) or (rc.max is not None and after > rc.max)
            results.append(
                CheckResult(
                    check.name,
                    "row_count",
                    None,
                    _verdict(broken, check),
                    check.severity,
                    check.threshold,
                    0,
                    rows,
                    message=f"{after} rows after the write"
                    + (f" where {check.where_sql}" if check.where_sql else ""),
                )
            )
        elif check.kind == "freshness":
            results.append(_freshness(check, table, others, now))
        elif check.kind == "metric":
            from .metric_check import measure_check  # sketches load only for contracts with metrics

            results.append(measure_check(check, table, others))

    violations = (
        _violations(table, failing_rules, bad_keys) if blame and (failing_rules or bad_keys) else None
    )
    report = ValidationReport(
        dataset=contract.dataset, contract=contract.hash, rows=rows, results=tuple(results)
    )
    return report, violations


_PANDERA: dict[str, Any] = {}


def _pandera_failures(
    contract: Contract, table: pa.Table, row_checks: Sequence[CompiledCheck], pk: list[str]
) -> tuple[list[int], list[list[dict[str, Any]]]]:
    """Run the contract's pandera schema (row rules) lazily and read its failure cases."""
    import pandera.errors

    from .pandera_schema import PANDERA_NAMES, to_pandera

    schema = _PANDERA.get(contract.hash)
    if schema is None:
        schema = _PANDERA[contract.hash] = to_pandera(contract, row_rules_only=True)
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    counts = [0] * len(row_checks)
    samples: list[list[dict[str, Any]]] = [[] for _ in row_checks]
    try:
        schema.validate(frame, lazy=True)
        return counts, samples
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    named = cases
    for pandera_name, pattern in PANDERA_NAMES.items():
        before, after = pattern.split("{column}")
        named = named.with_columns(
            pl.when(pl.col("check") == pandera_name)
            .then(pl.lit(before) + pl.col("column") + pl.lit(after))
            .otherwise(pl.col("check"))
            .alias("check")
        )
    rows_by_check = named.drop_nulls("index").group_by("check").agg(pl.col("index").unique().sort())
    lookup = dict(zip(rows_by_check["check"].to_list(), rows_by_check["index"].to_list(), strict=True))
    for i, check in enumerate(row_checks):
        hit = lookup.get(check.name, [])
        counts[i] = len(hit)
        if hit:
            assert check.passes is not None
            cols = list(dict.fromkeys([*pk, *check.passes.meta.root_names()]))
            taken = pl.from_arrow(table.select(cols).take(pa.array(hit[:MAX_SAMPLES], pa.int64())))
            assert isinstance(taken, pl.DataFrame)
            samples[i] = list(_samples(taken, cols))
    return counts, samples


def _slices(table: pa.Table, columns: Sequence[str]) -> Iterator[pl.DataFrame]:
    narrow = table.select(list(columns))
    for offset in range(0, max(table.num_rows, 1), CHUNK_ROWS):
        part = pl.from_arrow(narrow.slice(offset, CHUNK_ROWS))
        assert isinstance(part, pl.DataFrame)
        yield part


def _violations(
    table: pa.Table, rules: Sequence[CompiledCheck], keys: Sequence[tuple[str, pl.Series]]
) -> pl.DataFrame:
    """Per row, the names of the failing checks it breaks (a second pass, only on failure)."""
    parts: list[pl.Series] = []
    exprs = [pl.when(~c.passes).then(pl.lit(c.name)) for c in rules if c.passes is not None]
    needed = list(dict.fromkeys(n for c in rules if c.passes is not None for n in c.passes.meta.root_names()))
    for part in _slices(table, needed or table.column_names[:1]):
        if exprs:
            parts.append(part.select(pl.concat_list(exprs).list.drop_nulls().alias(VIOLATIONS)).to_series())
        else:
            parts.append(
                pl.repeat(pl.lit([], dtype=pl.List(pl.String)), part.height, eager=True).alias(VIOLATIONS)
            )
    names = pl.concat(parts).slice(0, table.num_rows)
    frame = pl.DataFrame({VIOLATIONS: names}).with_row_index("__row")
    for name, bad in keys:
        hit = pl.col("__row").is_in(bad.implode())
        frame = frame.with_columns(
            pl.when(hit).then(pl.col(VIOLATIONS).list.concat(pl.lit([name]))).otherwise(pl.col(VIOLATIONS))
        )
    return frame.select(VIOLATIONS)


def _unique(
    check: CompiledCheck, table: pa.Table, others: OtherRows | None, pk: list[str]
) -> tuple[CheckResult, pl.Series]:
    cols = list(check.unique_on)
    rows = table.num_rows
    scope = list(dict.fromkeys([*cols, *(check.where.meta.root_names() if check.where is not None else [])]))
    keys = pl.from_arrow(table.select(scope))
    assert isinstance(keys, pl.DataFrame)
    keys = keys.with_row_index("__row").drop_nulls(cols)
    if check.where is not None:
        keys = keys.filter(check.selects)
        rows = count_selected(table, check)
    keys = keys.select(["__row", *cols])
    dup = pl.Series("__row", [], dtype=pl.UInt32)
    if not _distinct(keys, cols):
        dup = keys.filter(pl.struct(cols).is_duplicated())["__row"]
    clash = pl.Series("__row", [], dtype=pl.UInt32)
    if others is not None and others.rows and keys.height:
        low, high = keys[cols[0]].min(), keys[cols[0]].max()
        existing = others.candidates(cols, low, high, check.where).unique()
        clash = keys.lazy().join(existing, on=cols, how="semi").collect()["__row"]
    bad_rows = pl.concat([dup, clash]).unique().sort()
    failed = bad_rows.len()
    status = _status(failed, rows, check)
    samples: tuple[dict[str, Any], ...] = ()
    message = ""
    if failed:
        sample = pl.from_arrow(
            table.select(list(dict.fromkeys([*pk, *cols]))).take(bad_rows.head(MAX_SAMPLES).to_arrow())
        )
        assert isinstance(sample, pl.DataFrame)
        samples = _samples(sample, [*pk, *cols])
        message = f"{dup.len()} repeated within the batch, {clash.len()} already in the dataset"
    result = CheckResult(
        check.name,
        "unique",
        check.column,
        status,
        check.severity,
        check.threshold,
        failed,
        rows,
        check.mostly,
        message=message,
        samples=samples,
    )
    return result, bad_rows


def _distinct(keys: pl.DataFrame, cols: list[str]) -> bool:
    """True when no two rows share a key. A cheap test decides it in the common case: a key
    column sorted without repeats, one column's distinct count, or for several columns the distinct count of
    a 64-bit row hash (distinct hashes prove distinct rows; equal hashes send us to the exact
    check, so a collision can cost time but never a wrong verdict)."""
    if keys.height < 2:
        return True
    if any(_sorted_distinct(keys[c]) for c in cols):  # one column distinct: so is the key
        return True
    if len(cols) == 1:
        return bool(keys[cols[0]].n_unique() == keys.height)
    return bool(keys.select(pl.struct(cols).hash().n_unique()).item() == keys.height)


def _sorted_distinct(column: pl.Series) -> bool:
    """True when ``column`` is sorted with no value twice: one comparison of neighbours, where a
    distinct count would hash every value (ids and event times usually arrive in order)."""
    if column.null_count() or column.dtype.is_nested() or not column.is_sorted():
        return False
    return not bool((column.head(-1) == column.tail(-1)).any())


def _freshness(
    check: CompiledCheck, table: pa.Table, others: OtherRows | None, now: dt.datetime | None
) -> CheckResult:
    assert check.freshness is not None and check.column is not None
    now = now or dt.datetime.now(dt.UTC)
    oldest_ok = now - dt.timedelta(seconds=check.freshness.seconds)
    latest = _batch_max(table, check) if table.num_rows else None
    if not _fresh(latest, oldest_ok) and others is not None and others.rows:
        older = others.column_max(check.column, check.where)
        latest = older if latest is None else (max(latest, older) if older is not None else latest)
    ok = _fresh(latest, oldest_ok)
    return CheckResult(
        check.name,
        "freshness",
        check.column,
        _verdict(not ok, check),
        check.severity,
        check.threshold,
        0,
        table.num_rows,
        message=f"latest {check.column} is {latest!s}",
    )


def _batch_max(table: pa.Table, check: CompiledCheck) -> Any:
    assert check.column is not None
    if check.where is None:
        return pc.max(table.column(check.column)).as_py()
    frame = _frame(table, [check.column, *check.where.meta.root_names()])
    return frame.filter(check.selects)[check.column].max()


def add_name(names: pl.Series, mask: pl.Series, name: str) -> pl.Series:
    """``names`` (per row, the checks it breaks) with ``name`` added where ``mask`` is true."""
    frame = pl.DataFrame({"n": names, "b": mask})
    return frame.select(
        pl.when("b").then(pl.col("n").list.concat(pl.lit([name]))).otherwise("n").alias(VIOLATIONS)
    ).to_series()


def count_selected(table: pa.Table, check: CompiledCheck) -> int:
    """The rows of ``table`` that ``check`` runs on (its where: selects)."""
    if check.where is None:
        return int(table.num_rows)
    frame = _frame(table, check.where.meta.root_names())
    return int(frame.select(check.selects.sum()).item() or 0)


def _count_kept(others: OtherRows | None, check: CompiledCheck) -> int:
    if others is None or not others.rows:
        return 0
    return others.rows if check.where is None else others.count(check.selects)


def _frame(table: pa.Table, columns: Sequence[str]) -> pl.DataFrame:
    frame = pl.from_arrow(table.select(list(dict.fromkeys(columns))))
    assert isinstance(frame, pl.DataFrame)
    return frame


def _fresh(latest: Any, oldest_ok: dt.datetime) -> bool:
    if latest is None:
        return False
    if isinstance(latest, dt.datetime) and latest.tzinfo is None:
        latest = latest.replace(tzinfo=dt.UTC)
    return bool(latest >= oldest_ok)


def _verdict(broken: bool, check: CompiledCheck) -> Status:
    if not broken:
        return "pass"
    return "fail" if check.severity == "error" else "warn"
