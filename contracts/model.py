"""The contract model. The YAML file is the source of truth; this model validates it, and every
problem is reported with the file, the line and the key (a typo must never disable a check)."""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, NamedTuple

import polars as pl
import pyarrow as pa
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)
from yaml.composer import ComposerError

from lake.errors import ContractError as ContractError  # its home is lake.errors

from .pandera_model import read_pandera
from .sql import check_predicate, regex_error
from .types import parse_type

Severity = Literal["error", "warn"]


class Problem(NamedTuple):
    source: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.key or '(top)'}: {self.message}" if self.key else f"{where}: {self.message}"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Number = int | float
Bound = int | float | dt.datetime | dt.date
"""A bound: a number, or for date and timestamp columns an ISO date or datetime (in the YAML
``2024-01-31`` or ``2024-01-31T08:00:00+01:00``; quoted strings are parsed the same way)."""


def _iso_bound(value: Any) -> Any:
    """A quoted ISO date or datetime as a date or datetime; anything else as it is."""
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return dt.date.fromisoformat(text)
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"{value!r} is not a number, an ISO date (2024-01-31) or an ISO datetime "
                "(2024-01-31T08:00:00+01:00)"
            ) from None
    return value


MetricName = Literal[
    "mean",
    "stddev",
    "min",
    "max",
    "sum",
    "quantile",
    "distinct_count",
    "unique_ratio",
    "missing_count",
    "missing_percent",
    "duplicate_count",
    "duplicate_percent",
    "avg_length",
]
METRICS: tuple[str, ...] = MetricName.__args__  # type: ignore[attr-defined]
NUMERIC_METRICS = frozenset({"mean", "stddev", "sum", "quantile"})
"""Metrics of numbers only (``min`` and ``max`` take dates and timestamps too)."""
STRING_METRICS = frozenset({"avg_length"})


class MetricBound(_Model):
    """Bounds on one statistic of a column, over the dataset after the write (``scope: dataset``)
    or over the rows one write or merge brings (``scope: batch``)."""

    min: Bound | None = None
    max: Bound | None = None
    p: float | None = Field(default=None, ge=0, le=1)  # quantile: which one
    scope: Literal["dataset", "batch"] = "dataset"
    severity: Severity = "error"
    where: str | None = None

    _iso = field_validator("min", "max", mode="before")(_iso_bound)

    @model_validator(mode="after")
    def _some_bound(self) -> MetricBound:
        if self.min is None and self.max is None:
            raise ValueError("a metric needs min, max or both")
        return self


class Reference(_Model):
    """Every non-null value of the column exists in ``dataset``'s ``column``, at the same commit."""

    dataset: str = Field(min_length=1)
    column: str = Field(min_length=1)
    severity: Severity = "error"


class ColumnSpec(_Model):
    type: str
    nullable: bool = True
    unique: bool = False
    min: Bound | None = None
    max: Bound | None = None
    in_: list[Any] | None = Field(default=None, alias="in")
    not_in: list[Any] | None = None
    pattern: str | None = None
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=0)
    checks: list[str] = Field(default_factory=list)
    metrics: dict[MetricName, list[MetricBound]] = Field(default_factory=dict)
    references: Reference | None = None
    where: str | None = None  # the column's checks run on the rows this selects
    description: str | None = None

    _iso = field_validator("min", "max", mode="before")(_iso_bound)

    @field_validator("metrics", mode="before")
    @classmethod
    def _metric_lists(cls, value: Any) -> Any:
        """``quantile: {p: 0.99, max: 5}`` and ``quantile: [{p: 0.5, ...}, {p: 0.99, ...}]`` alike."""
        if isinstance(value, dict):
            return {k: v if isinstance(v, list) else [v] for k, v in value.items()}
        return value

    @field_serializer("metrics")
    def _metric_forms(self, value: dict[str, list[MetricBound]]) -> dict[str, Any]:
        return {k: v[0] if len(v) == 1 else v for k, v in value.items()}

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        parse_type(value)
        return value

    @field_validator("pattern")
    @classmethod
    def _valid_regex(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            re.compile(value)
            pl.Series([""], dtype=pl.String).str.contains(value)
        except (re.error, pl.exceptions.ComputeError) as exc:
            raise ValueError(f"invalid regular expression {value!r}: {regex_error(exc)}") from None
        return value

    @property
    def arrow_type(self) -> pa.DataType:
        return parse_type(self.type)


class RowCount(_Model):
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)


class Freshness(_Model):
    column: str
    max_age: str

    @field_validator("max_age")
    @classmethod
    def _duration(cls, value: str) -> str:
        import pandas as pd  # a quarter second to import: only for contracts with freshness

        try:
            if pd.Timedelta(value) <= pd.Timedelta(0):
                raise ValueError
        except ValueError:
            raise ValueError(
                f"max_age {value!r} is not a positive duration such as '24h' or '2 days'"
            ) from None
        return value

    @property
    def seconds(self) -> float:
        import pandas as pd

        return float(pd.Timedelta(self.max_age).total_seconds())


class CheckSpec(_Model):
    name: str = Field(min_length=1)
    sql: str | None = None
    row_count: RowCount | None = None
    unique: list[str] | None = None
    freshness: Freshness | None = None
    mostly: float = Field(default=1.0, gt=0, le=1)
    severity: Severity = "error"
    where: str | None = None  # the check runs on the rows this selects

    @model_validator(mode="after")
    def _one_kind(self) -> CheckSpec:
        kinds = [k for k in ("sql", "row_count", "unique", "freshness") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                f"check {self.name!r} must have exactly one of sql, row_count, unique, freshness"
                + (f" (it has {', '.join(kinds)})" if kinds else "")
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("sql", "row_count", "unique", "freshness") if getattr(self, k) is not None)


DriftStat = Literal["auto", "wasserstein", "jensenshannon", "psi", "ks", "chisquare", "none"]


class DriftMethod(_Model):
    """How one column's drift is judged: a statistic with its threshold, and the material
    shifts that fail the gate whatever the statistic says (``severity: warn`` demotes all)."""

    method: DriftStat = "auto"
    threshold: float | None = Field(default=None, gt=0)
    share_floor: float = Field(default=0.05, ge=0, le=1)
    """A category holding at least this share of the reference's rows ..."""
    share_factor: float = Field(default=2.0, gt=1)
    """... fails when its share grows or shrinks by this factor (2: doubles or halves)."""
    null_rate_rise: float = Field(default=0.05, gt=0, le=1)
    """The null rate fails when it rises by this much (0.05: five points) ..."""
    null_rate_factor: float = Field(default=2.0, gt=1)
    """... or grows by this factor from a reference rate of at least ``null_rate_floor``."""
    null_rate_floor: float = Field(default=0.01, ge=0, le=1)
    severity: Severity = "error"


class DriftSpec(_Model):
    default: DriftMethod = Field(default_factory=DriftMethod)
    columns: dict[str, DriftMethod] = Field(default_factory=dict)


class VolumeSpec(_Model):
    """Bounds on what one merge may change, checked by the merge gate."""

    max_rows_added: int | None = Field(default=None, ge=0)
    max_rows_removed: int | None = Field(default=None, ge=0)
    max_growth: float | None = Field(default=None, gt=0)  # rows added / target rows


class Contract(_Model):
    """A data contract for one dataset: its columns (type, nullability and the checks of each),
    primary key, partition columns, how its schema may evolve, whether columns outside it are
    allowed, checks across rows, and the drift and volume the merge gate compares. Load one with
    :meth:`from_yaml`: the YAML file is the source of truth."""

    dataset: str
    description: str | None = None
    owner: str | None = None
    primary_key: list[str] = Field(default_factory=list)
    partition_by: list[str] = Field(default_factory=list)  # the dataset's partition columns, in order
    schema_evolution: Literal["strict", "additive", "any"] = "additive"
    extra_columns: Literal["allow", "forbid"] = "forbid"
    columns: dict[str, ColumnSpec]
    checks: list[CheckSpec] = Field(default_factory=list)
    drift: DriftSpec | None = None
    volume: VolumeSpec | None = None

    # -- loading ---------------------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, source: str | Path, *, name: str | None = None) -> Contract:
        """Load a contract from a YAML file path or YAML text, reporting every problem found."""
        if isinstance(source, Path) or (
            isinstance(source, str) and "\n" not in source and source.endswith((".yaml", ".yml"))
        ):
            path = Path(source)
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ContractError(
                    [Problem(str(path), None, "", f"cannot read the file: {exc.strerror}")]
                ) from exc
            except UnicodeDecodeError as exc:
                raise ContractError(
                    [
                        Problem(
                            str(path),
                            None,
                            "",
                            f"the file is not UTF-8 text (byte {exc.start}): {exc.reason}",
                        )
                    ]
                ) from None
            label = name or str(path)
        else:
            text, label = str(source), name or "<contract>"
        return cls.from_text(text, label)

    @classmethod
    def from_text(cls, text: str, label: str = "<contract>") -> Contract:
        """Load a contract from YAML ``text``; ``label`` names it in problems. Raises
        :class:`ContractError` listing every problem with its line and key: YAML that does not
        parse, a key given twice, an unknown key, a bad value, a column named but not defined."""
        root, data, duplicates = read_yaml(text, label)
        problems = [Problem(label, line, _key(path), "key given twice") for line, path in duplicates]
        if not isinstance(data, dict):
            raise ContractError(
                [Problem(label, 1, "", "a contract is a YAML mapping with dataset and columns")]
            )
        try:
            contract = cls.model_validate(data)
        except ValidationError as exc:
            problems += [validation_problem(err, root, label) for err in exc.errors()]
            raise ContractError(problems) from None
        problems += [
            Problem(label, line_of(root, loc), _key(loc), msg) for loc, msg in contract.semantic_problems()
        ]
        if problems:
            raise ContractError(problems)
        return contract

    def semantic_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Problems that need the whole contract: unknown columns named by keys, checks and SQL."""
        out: list[tuple[tuple[str | int, ...], str]] = []
        cols = set(self.columns)
        for i, c in enumerate(self.primary_key):
            if c not in cols:
                out.append((("primary_key", i), f"primary key column {c!r} is not among the columns"))
        for i, c in enumerate(self.partition_by):
            if c not in cols:
                out.append((("partition_by", i), f"partition column {c!r} is not among the columns"))
            elif self.partition_by.index(c) != i:
                out.append((("partition_by", i), f"partition column {c!r} is named twice"))
            elif not _partitionable(self.columns[c].arrow_type):
                out.append(
                    (
                        ("partition_by", i),
                        f"partition column {c!r} is {self.columns[c].type}; a dataset is partitioned "
                        "by string, integer, date or boolean columns",
                    )
                )
        for name, spec in self.columns.items():
            at = ("columns", name)
            numeric = _numeric(spec.arrow_type)
            stringy = pa.types.is_string(spec.arrow_type) or pa.types.is_large_string(spec.arrow_type)
            for key in ("min", "max"):
                why = _bound_problem(name, spec, key, getattr(spec, key))
                if why:
                    out.append(((*at, key), why))
            for key in ("pattern", "min_length", "max_length"):
                if getattr(spec, key) is not None and not stringy:
                    out.append(((*at, key), f"{key} applies to string columns; {name!r} is {spec.type}"))
            if _above(spec.min, spec.max):
                out.append(((*at, "min"), f"min {spec.min} is above max {spec.max}"))
            for j, sql in enumerate(spec.checks):
                try:
                    check_predicate(sql, cols)
                except ValueError as exc:
                    out.append(((*at, "checks", j), str(exc)))
            if spec.where is not None:
                out += _where_problem((*at, "where"), spec.where, cols)
            for metric, bounds in spec.metrics.items():
                for j, bound in enumerate(bounds):
                    here = (*at, "metrics", metric) if len(bounds) == 1 else (*at, "metrics", metric, j)
                    if metric in NUMERIC_METRICS and not numeric:
                        out.append((here, f"{metric} applies to numeric columns; {name!r} is {spec.type}"))
                    elif metric in STRING_METRICS and not stringy:
                        out.append((here, f"{metric} applies to string columns; {name!r} is {spec.type}"))
                    if metric == "quantile" and bound.p is None:
                        out.append(((*here, "p"), "a quantile metric needs p, the quantile (0.99 for p99)"))
                    if metric != "quantile" and bound.p is not None:
                        out.append(((*here, "p"), f"p applies to the quantile metric only, not {metric}"))
                    if metric in ("min", "max"):
                        for key in ("min", "max"):
                            why = _bound_problem(name, spec, key, getattr(bound, key))
                            if why:
                                out.append(((*here, key), why))
                    elif any(isinstance(getattr(bound, k), dt.date) for k in ("min", "max")):
                        out.append((here, f"{metric} takes numeric bounds"))
                    if _above(bound.min, bound.max):
                        out.append(((*here, "min"), f"min {bound.min} is above max {bound.max}"))
                    if bound.where is not None:
                        out += _where_problem((*here, "where"), bound.where, cols)
        seen: set[str] = set()
        for i, check in enumerate(self.checks):
            if check.name in seen:
                out.append((("checks", i, "name"), f"check name {check.name!r} is used twice"))
            seen.add(check.name)
            if check.sql is not None:
                try:
                    check_predicate(check.sql, cols)
                except ValueError as exc:
                    out.append((("checks", i, "sql"), str(exc)))
            if check.where is not None:
                out += _where_problem(("checks", i, "where"), check.where, cols)
            for j, c in enumerate(check.unique or []):
                if c not in cols:
                    out.append((("checks", i, "unique", j), f"unknown column {c!r}"))
            if check.freshness is not None:
                col = self.columns.get(check.freshness.column)
                if col is None:
                    out.append(
                        (("checks", i, "freshness", "column"), f"unknown column {check.freshness.column!r}")
                    )
                elif not pa.types.is_timestamp(col.arrow_type):
                    out.append(
                        (
                            ("checks", i, "freshness", "column"),
                            f"{check.freshness.column!r} is not a timestamp",
                        )
                    )
            if (
                check.row_count is not None
                and check.row_count.min is not None
                and check.row_count.max is not None
            ):
                if check.row_count.min > check.row_count.max:
                    out.append((("checks", i, "row_count", "min"), "min is above max"))
        for c in self.drift.columns if self.drift else {}:
            if c not in cols:
                out.append((("drift", "columns", c), f"unknown column {c!r}"))
        return out

    # -- writing ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The contract as JSON-ready data, keyed as the YAML is (``in``, not ``in_``), defaults
        left out."""
        raw: dict[str, Any] = self.model_dump(by_alias=True, exclude_defaults=True, mode="json")
        raw.setdefault("columns", {})
        for spec in raw["columns"].values():
            if not spec.get("metrics", True):  # its serializer keeps an empty mapping: drop it
                del spec["metrics"]
        return raw

    def to_yaml(self) -> str:
        """The contract as YAML text: the dataset's keys, then columns, checks, drift and volume.
        It is what the lake stores, and :meth:`from_text` reads it back."""
        ordered = {
            k: v for k, v in self.to_dict().items() if k != "columns" and k != "checks" and k != "drift"
        }
        ordered["columns"] = self.to_dict()["columns"]
        for k in ("checks", "drift", "volume"):
            if k in self.to_dict():
                ordered[k] = self.to_dict()[k]
        return yaml.safe_dump(
            ordered, sort_keys=False, allow_unicode=False, default_flow_style=None, width=100
        )

    @property
    def hash(self) -> str:
        """The contract's identity: the SHA-256 (hex) of :meth:`to_dict` as canonical JSON.
        Commits name the contract in force by it."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def arrow_schema(self) -> pa.Schema:
        """The contract's columns as a pyarrow schema, in order, with their types and nullability."""
        return pa.schema([pa.field(n, c.arrow_type, c.nullable) for n, c in self.columns.items()])

    def with_dataset(self, dataset: str) -> Contract:
        """A copy of the contract for ``dataset``; nothing else changes."""
        return self.model_copy(update={"dataset": dataset})

    def to_pandera(self) -> Any:
        """This contract as a ``pandera.polars.DataFrameSchema`` (the same checks the lake runs),
        built by the validation layer. The spec's one upward edge, taken only when the method
        runs; pyproject.toml's import-linter contracts declare it as their one ignored import."""
        from lake.validation.pandera_schema import to_pandera

        return to_pandera(self)

    @classmethod
    def from_pandera(cls, model: Any, *, dataset: str | None = None) -> Contract:
        """Import a ``pandera.polars.DataFrameModel`` (or its schema) as a contract."""
        return cls.model_validate(read_pandera(model, dataset=dataset))


def _numeric(t: pa.DataType) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


def _bound_problem(name: str, spec: ColumnSpec, key: str, value: Any) -> str | None:
    """Why ``value`` cannot bound column ``name`` (a number for numbers, an ISO date for dates,
    a date or datetime for timestamps), or None."""
    if value is None:
        return None
    t = spec.arrow_type
    if _numeric(t):
        if isinstance(value, dt.date):
            return f"{key} of numeric column {name!r} must be a number, not {value.isoformat()}"
        return None
    if pa.types.is_date(t):
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            return f"{key} of date column {name!r} must be an ISO date such as 2024-01-31"
        return None
    if pa.types.is_timestamp(t):
        if not isinstance(value, dt.date):
            return (
                f"{key} of timestamp column {name!r} must be an ISO date or datetime "
                "such as 2024-01-31T08:00:00Z"
            )
        return None
    return f"{key} applies to numeric, date and timestamp columns; {name!r} is {spec.type}"


def _above(low: Any, high: Any) -> bool:
    """True when both bounds are given and ``low`` is above ``high`` (dates compare with dates)."""
    if low is None or high is None:
        return False
    try:
        return bool(instant(low) > instant(high))
    except TypeError:
        return False


def instant(value: Any) -> Any:
    """A bound on the one scale every comparison of bounds uses: dates and datetimes as aware
    datetimes (a naive datetime, or a date's midnight, read as UTC), anything else as it is."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return value


def _where_problem(
    at: tuple[str | int, ...], sql: str, cols: set[str]
) -> list[tuple[tuple[str | int, ...], str]]:
    try:
        check_predicate(sql, cols)
    except ValueError as exc:
        return [(at, f"where: {exc}")]
    return []


# -- reading the YAML ----------------------------------------------------------------------------
MAX_ALIAS_NODES = 10_000
"""Aliases (``*name``, also in ``<<`` merges) may stand for at most this many nodes in all: enough
for small reuse, and a bound on the work a short file can cause (a "billion laughs")."""
MAX_NODES = 100_000
"""A contract may hold at most this many YAML nodes, aliases counted as the nodes they stand for
(a thousand columns take about ten thousand): this bounds the time a load takes."""
MAX_DEPTH = 64
"""How deeply the YAML may nest; a contract needs five or six levels."""

_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE = "tag:yaml.org,2002:merge"

Path_ = tuple[str | int, ...]


class _Refusal(Exception):
    """The YAML is refused while it is composed: ``line`` (1-based) and ``path`` say where."""

    def __init__(self, line: int, path: Path_, message: str) -> None:
        super().__init__(message)
        self.line, self.path, self.message = line, path, message


class _Frame:
    """A sequence or mapping being composed."""

    __slots__ = ("anchor", "key", "keys", "merges", "node", "part", "start")

    def __init__(
        self, node: yaml.CollectionNode, part: str | int | None, start: int, anchor: str | None
    ) -> None:
        self.node, self.part, self.start, self.anchor = node, part, start, anchor
        self.key: yaml.Node | None = None  # a mapping's key whose value comes next
        self.keys: set[str] = set()
        self.merges = False


class _Composer:
    """PyYAML's composer redone as a loop over the events of the safe loader's parser (libyaml's
    when it is installed), with limits checked as each event arrives, before anything walks or
    expands the tree: an alias adds the nodes it stands for, so an alias bomb is refused at the
    alias that crosses :data:`MAX_ALIAS_NODES`; a loop of aliases, more than :data:`MAX_NODES`
    nodes and nesting deeper than :data:`MAX_DEPTH` are refused too. It also notes the keys given
    twice (with their line and path) and the mappings with ``<<`` merge keys."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader  # a yaml.SafeLoader or CSafeLoader; their stubs differ, hence Any
        self.stack: list[_Frame] = []
        self.anchors: dict[str, yaml.Node] = {}
        self.sizes: dict[str, int] = {}  # anchor -> the nodes its node stands for, once composed
        self.expanded = 0  # nodes so far, each alias counted as the nodes it stands for
        self.aliased = 0  # of those, the nodes aliases stand for
        self.root: yaml.Node | None = None
        self.duplicates: list[tuple[int, Path_]] = []
        self.merging: list[yaml.MappingNode] = []

    def compose(self) -> yaml.Node | None:
        get: Callable[[], Any] = self.loader.get_event
        get()  # stream start
        if isinstance(get(), yaml.StreamEndEvent):
            return None
        while True:  # the one document's events
            event = get()
            start: Any = event.start_mark  # a yaml.Mark, or libyaml's own Mark
            if isinstance(event, yaml.ScalarEvent):  # the most frequent first
                self.count(event, 1)
                tag = event.tag
                if tag is None or tag == "!":
                    tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
                end: Any = event.end_mark
                node = yaml.ScalarNode(tag, event.value, start, end, style=event.style)
                self.anchor(event, node)
                if event.anchor is not None:
                    self.sizes[event.anchor] = 1
                self.attach(node)
            elif isinstance(event, yaml.AliasEvent):
                self.alias(event)
            elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
                if len(self.stack) >= MAX_DEPTH:
                    raise _Refusal(
                        start.line + 1,
                        self.here()[:6],  # the start of the path is enough to find the place
                        f"the YAML is nested more than {MAX_DEPTH} levels deep; a contract needs a few",
                    )
                self.count(event, 1)
                kind = yaml.SequenceNode if isinstance(event, yaml.SequenceStartEvent) else yaml.MappingNode
                tag = event.tag
                if tag is None or tag == "!":
                    tag = self.loader.resolve(kind, None, event.implicit)
                collection = kind(tag, [], start, None, flow_style=event.flow_style)
                self.anchor(event, collection)
                part = self.part()
                self.stack.append(_Frame(collection, part, self.expanded - 1, event.anchor))
            elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
                frame = self.stack.pop()
                frame.node.end_mark = event.end_mark
                if frame.anchor is not None:
                    self.sizes[frame.anchor] = self.expanded - frame.start
                self.attach(frame.node)
            else:  # the document's end
                break
        event = get()
        if not isinstance(event, yaml.StreamEndEvent):
            raise ComposerError(
                "expected a single document in the stream",
                self.root.start_mark if self.root is not None else None,
                "but found another document",
                event.start_mark,
            )
        return self.root

    def part(self) -> str | int | None:
        """How the node about to be composed is named in its parent: an index, a key, or ``?``
        for a mapping key itself (or the value of a key that is not a string)."""
        if not self.stack:
            return None
        top = self.stack[-1]
        if isinstance(top.node, yaml.SequenceNode):
            return len(top.node.value)
        if top.key is not None and isinstance(top.key.value, str):
            return str(top.key.value)
        return "?"

    def within(self) -> Path_:
        """The path of the collection being composed."""
        return tuple(f.part for f in self.stack if f.part is not None)

    def here(self) -> Path_:
        """The path of the node about to be composed."""
        part = self.part()
        return (*self.within(), part) if part is not None else self.within()

    def count(self, event: Any, nodes: int) -> None:
        self.expanded += nodes
        if self.expanded > MAX_NODES:
            raise _Refusal(
                event.start_mark.line + 1,
                self.here(),
                f"the contract holds more than {MAX_NODES} YAML nodes (aliases counted as the nodes "
                "they stand for); no contract needs that many: shorten it",
            )

    def alias(self, event: Any) -> None:
        name = event.anchor
        node = self.anchors.get(name)
        if node is None:
            raise ComposerError(None, None, f"found undefined alias {name!r}", event.start_mark)
        size = self.sizes.get(name)
        if size is None:
            raise _Refusal(
                event.start_mark.line + 1,
                self.here(),
                f"alias *{name} is used inside the node it names (a loop)",
            )
        self.aliased += size
        if self.aliased > MAX_ALIAS_NODES:
            raise _Refusal(
                event.start_mark.line + 1,
                self.here(),
                f"alias *{name} ({size} nodes) brings the nodes that aliases stand for to "
                f"{self.aliased}; a contract may use aliases for small reuse only, at most "
                f"{MAX_ALIAS_NODES} nodes in all: write the repeated part out instead",
            )
        self.count(event, size)
        self.attach(node)

    def anchor(self, event: Any, node: yaml.Node) -> None:
        name = event.anchor
        if name is None:
            return
        if name in self.anchors:
            raise ComposerError(
                f"found duplicate anchor {name!r}; first occurrence",
                self.anchors[name].start_mark,
                "second occurrence",
                event.start_mark,
            )
        self.anchors[name] = node

    def attach(self, node: yaml.Node) -> None:
        if not self.stack:
            self.root = node
            return
        top = self.stack[-1]
        if isinstance(top.node, yaml.SequenceNode):
            top.node.value.append(node)
        elif top.key is None:
            top.key = node
            if isinstance(node.value, str):
                if node.value in top.keys:
                    self.duplicates.append((node.start_mark.line + 1, (*self.within(), node.value)))
                top.keys.add(node.value)
            if node.tag == _MERGE and not top.merges:
                top.merges = True
                assert isinstance(top.node, yaml.MappingNode)
                self.merging.append(top.node)
        else:
            top.node.value.append((top.key, node))
            top.key = None


def read_yaml(text: str, label: str) -> tuple[yaml.Node | None, Any, list[tuple[int, Path_]]]:
    """:func:`_load_yaml` with its refusals as a :class:`ContractError` naming ``label``'s line:
    the one way contract YAML (ours or ODCS) is read."""
    try:
        return _load_yaml(text)
    except _Refusal as exc:
        raise ContractError([Problem(label, exc.line, _key(exc.path), exc.message)]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        if "nesting depth" in str(getattr(exc, "problem", "")):  # PyYAML >= 6.0.3 stops first
            message = f"the YAML is nested more than {MAX_DEPTH} levels deep; a contract needs a few"
            raise ContractError([Problem(label, line, "", message)]) from None
        raise ContractError(
            [Problem(label, line, "", f"not valid YAML: {getattr(exc, 'problem', exc)}")]
        ) from None


def _load_yaml(text: str) -> tuple[yaml.Node | None, Any, list[tuple[int, Path_]]]:
    """The composed YAML (for line numbers, with ``<<`` merges as written), the data it holds,
    and the keys given twice."""
    loader = _YAML_LOADER(text)
    try:
        composer = _Composer(loader)
        root = composer.compose()
        if root is None:
            return None, None, composer.duplicates
        written = [(node, list(node.value)) for node in composer.merging]
        data: Any = loader.construct_document(root)
        for node, value in written:  # the constructor flattens merges in place: undo that
            node.value = value
        return root, data, composer.duplicates
    finally:
        loader.dispose()


# -- locating problems in the YAML -------------------------------------------------------------
def _key(loc: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in loc)


def line_of(node: yaml.Node | None, loc: tuple[str | int, ...]) -> int | None:
    """The 1-based line of the YAML node at ``loc`` (or of its nearest ancestor that exists); a key
    that a ``<<`` merge brings in is placed on the line of that merge."""
    best = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            name = "in" if part == "in_" else str(part)
            nxt = None
            for k, v in node.value:
                if k.value == name:
                    nxt = v
                    best = k.start_mark.line + 1
                    break
            else:
                for k, v in node.value:
                    if k.tag == _MERGE:
                        nxt = _merged(v, name, 0)
                        if nxt is not None:
                            best = k.start_mark.line + 1
                            break
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            best = node.start_mark.line + 1
        else:
            break
        if node is None:
            break
    return best


def _merged(source: yaml.Node, name: str, depth: int) -> yaml.Node | None:
    """The value a ``<<: source`` merge gives key ``name`` (the first merged mapping wins)."""
    if depth > MAX_DEPTH:
        return None
    for mapping in source.value if isinstance(source, yaml.SequenceNode) else [source]:
        if not isinstance(mapping, yaml.MappingNode):
            continue
        for k, v in mapping.value:
            if k.value == name:
                found: yaml.Node = v
                return found
        for k, v in mapping.value:
            if k.tag == _MERGE and (hit := _merged(v, name, depth + 1)) is not None:
                return hit
    return None


def validation_problem(err: Mapping[str, Any], root: yaml.Node | None, label: str) -> Problem:
    """One pydantic error as a Problem: the key as the YAML spells it, its line in ``root``, and a
    message a person can act on (unknown keys get the closest allowed one)."""
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    loc = tuple("in" if p == "in_" else p for p in loc)
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        parent = loc[:-1]
        known = _known_keys(parent)
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        msg = f"unknown key {loc[-1]!r}" + (
            f" (did you mean {close[0]!r}?)" if close else f"; allowed: {', '.join(known)}"
        )
    elif err["type"] == "missing":
        msg = f"required key {loc[-1]!r} is missing"
    return Problem(label, line_of(root, loc), _key(loc), msg)


def _known_keys(parent: tuple[str | int, ...]) -> list[str]:
    model: type[BaseModel] = Contract
    if parent[:1] == ("columns",) and len(parent) == 2:
        model = ColumnSpec
    elif parent[:1] == ("columns",) and len(parent) >= 4 and parent[2] == "metrics":
        model = MetricBound
    elif parent[:1] == ("columns",) and len(parent) == 3 and parent[2] == "references":
        model = Reference
    elif parent[:1] == ("checks",) and len(parent) == 2:
        model = CheckSpec
    elif parent[:1] == ("checks",) and len(parent) == 3:
        nested: dict[str, type[BaseModel]] = {"row_count": RowCount, "freshness": Freshness}
        model = nested.get(str(parent[2]), CheckSpec)
    elif parent[:1] == ("drift",):
        model = DriftSpec if len(parent) == 1 else DriftMethod
    elif parent[:1] == ("volume",):
        model = VolumeSpec
    return [f.alias or n for n, f in model.model_fields.items()]


def _partitionable(t: pa.DataType) -> bool:
    """Whether a column of type ``t`` may partition a dataset (as ``lake.table.partitions`` has
    it: the types whose partition values every Delta reader spells alike)."""
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t)) or bool(
        pa.types.is_date32(t) or pa.types.is_boolean(t)
    )
