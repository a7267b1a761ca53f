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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from lakegate.contracts.compiled import CompiledCheck, compile_checks
from lakegate.contracts.model import Contract

from .report import MAX_SAMPLES, CheckResult, Status, ValidationReport

VIOLATIONS = "_lake_violations"


class OtherRows(Protocol):
    """The rows the dataset keeps besides the batch, as the lake exposes them to validation."""

    @property
    def rows(self) -> int: ...

    def candidates(self, columns: Sequence[str], low: Any, high: Any) -> pl.LazyFrame:
        """``columns`` of the kept rows in files whose statistics for ``columns[0]`` overlap
        ``[low, high]`` (files without statistics are always included)."""
        ...

    def column_max(self, column: str) -> Any: ...


@dataclass(frozen=True)
class Typed:
    """A batch cast to the contract's types, with the checks that casting already decided."""

    table: pa.Table
    results: tuple[CheckResult, ...]
    bad_rows: pl.Series | None  # True where a value could not be cast


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
    if failed == 0:
        return "pass"
    if check.mostly < 1.0 and rows and (1 - failed / rows) >= check.mostly:
        return "pass"
    return "fail" if check.severity == "error" else "warn"


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
    bad: pl.Series | None = None
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
                    cast = series.cast(want.dtype, strict=False)
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
                    bad = failing if bad is None else bad | failing
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
    return Typed(typed, tuple(results), bad)


def validate(
    contract: Contract,
    table: pa.Table,
    *,
    others: OtherRows | None = None,
    pre: Sequence[CheckResult] = (),
    now: dt.datetime | None = None,
) -> tuple[ValidationReport, pl.DataFrame | None]:
    """Check ``table`` (already cast by :func:`cast_to_contract`) and the dataset it will join.

    Returns the report and, when any row-attributable check failed, a frame with one column
    ``_lake_violations`` (the names of the checks each row breaks, empty for good rows)."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    rows = frame.height
    pk = list(contract.primary_key)
    checks = _compiled(contract)
    results: list[CheckResult] = list(pre)
    blame: list[pl.Expr] = []

    row_checks = [c for c in checks if c.passes is not None]
    if row_checks:
        counts = frame.select([(~c.passes).sum().alias(str(i)) for i, c in enumerate(row_checks)]).row(0)  # type: ignore[operator]
        for check, failed in zip(row_checks, counts, strict=True):
            failed = int(failed or 0)
            status = _status(failed, rows, check)
            samples: tuple[dict[str, Any], ...] = ()
            if failed:
                assert check.passes is not None
                cols = [*pk, *(check.passes.meta.root_names())]
                samples = _samples(frame.filter(~check.passes), cols)
                if status == "fail":
                    blame.append(pl.when(~check.passes).then(pl.lit(check.name)))
            results.append(
                CheckResult(
                    check.name,
                    check.kind,
                    check.column,
                    status,
                    check.severity,
                    check.threshold,
                    failed,
                    rows,
                    check.mostly,
                    samples=samples,
                )
            )

    for check in checks:
        if check.kind == "unique":
            results.append(_unique(check, frame, others, pk, blame))
        elif check.kind == "row_count":
            assert check.row_count is not None
            after = rows + (others.rows if others is not None else 0)
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
                    message=f"{after} rows after the write",
                )
            )
        elif check.kind == "freshness":
            results.append(_freshness(check, frame, others, now))

    violations = None
    if blame:
        violations = frame.select(pl.concat_list(blame).list.drop_nulls().alias(VIOLATIONS))
    report = ValidationReport(
        dataset=contract.dataset, contract=contract.hash, rows=rows, results=tuple(results)
    )
    return report, violations


def _unique(
    check: CompiledCheck, frame: pl.DataFrame, others: OtherRows | None, pk: list[str], blame: list[pl.Expr]
) -> CheckResult:
    cols = list(check.unique_on)
    rows = frame.height
    keys = frame.select(cols).with_row_index("__row").drop_nulls(cols)
    dup = pl.Series("__row", [], dtype=pl.UInt32)
    if not _distinct(keys, cols):
        dup = keys.filter(pl.struct(cols).is_duplicated())["__row"]
    clash = pl.Series("__row", [], dtype=pl.UInt32)
    if others is not None and others.rows and keys.height:
        low, high = keys[cols[0]].min(), keys[cols[0]].max()
        existing = others.candidates(cols, low, high).unique()
        clash = keys.lazy().join(existing, on=cols, how="semi").collect()["__row"]
    bad_rows = pl.concat([dup, clash]).unique()
    failed = bad_rows.len()
    status = _status(failed, rows, check)
    samples: tuple[dict[str, Any], ...] = ()
    if failed:
        mask = pl.int_range(0, pl.len(), dtype=pl.UInt32).is_in(bad_rows.implode())
        samples = _samples(frame.filter(mask), [*pk, *cols])
        if status == "fail":
            blame.append(pl.when(mask).then(pl.lit(check.name)))
    message = ""
    if failed:
        message = f"{dup.len()} repeated within the batch, {clash.len()} already in the dataset"
    return CheckResult(
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


def _distinct(keys: pl.DataFrame, cols: list[str]) -> bool:
    """True when no two rows share a key. A cheap count decides it in the common case: one
    column's distinct count (fast on sorted ids), or for several columns the distinct count of
    a 64-bit row hash (distinct hashes prove distinct rows; equal hashes send us to the exact
    check, so a collision can cost time but never a wrong verdict)."""
    if keys.height < 2:
        return True
    if len(cols) == 1:
        return bool(keys[cols[0]].n_unique() == keys.height)
    return bool(keys.select(pl.struct(cols).hash().n_unique()).item() == keys.height)


def _freshness(
    check: CompiledCheck, frame: pl.DataFrame, others: OtherRows | None, now: dt.datetime | None
) -> CheckResult:
    assert check.freshness is not None and check.column is not None
    now = now or dt.datetime.now(dt.UTC)
    oldest_ok = now - dt.timedelta(seconds=check.freshness.seconds)
    latest = frame[check.column].max() if frame.height else None
    if not _fresh(latest, oldest_ok) and others is not None and others.rows:
        older = others.column_max(check.column)
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
        frame.height,
        message=f"latest {check.column} is {latest!s}",
    )


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
