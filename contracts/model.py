"""The contract model. The YAML file is the source of truth; this model validates it, and every
problem is reported with the file, the line and the key (a typo must never disable a check)."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, NamedTuple

import pandas as pd
import polars as pl
import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lake.errors import UsageError

from .sql import check_predicate
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


class ContractError(UsageError):
    """A contract file is not valid; ``problems`` lists each one with its line and key."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        head = f"the contract {problems[0].source} is not valid" if problems else "invalid contract"
        super().__init__(
            head + ":\n" + "\n".join(f"  {p}" for p in problems),
            hint="fix the lines named above; unknown keys are refused so that a typo never disables a check",
        )


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Number = int | float


class ColumnSpec(_Model):
    type: str
    nullable: bool = True
    unique: bool = False
    min: Number | None = None
    max: Number | None = None
    in_: list[Any] | None = Field(default=None, alias="in")
    not_in: list[Any] | None = None
    pattern: str | None = None
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=0)
    checks: list[str] = Field(default_factory=list)
    description: str | None = None

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
            raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
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
        return float(pd.Timedelta(self.max_age).total_seconds())


class CheckSpec(_Model):
    name: str = Field(min_length=1)
    sql: str | None = None
    row_count: RowCount | None = None
    unique: list[str] | None = None
    freshness: Freshness | None = None
    mostly: float = Field(default=1.0, gt=0, le=1)
    severity: Severity = "error"

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
    method: DriftStat = "auto"
    threshold: float | None = Field(default=None, gt=0)


class DriftSpec(_Model):
    default: DriftMethod = Field(default_factory=DriftMethod)
    columns: dict[str, DriftMethod] = Field(default_factory=dict)


class VolumeSpec(_Model):
    """Bounds on what one merge may change, checked by the merge gate."""

    max_rows_added: int | None = Field(default=None, ge=0)
    max_rows_removed: int | None = Field(default=None, ge=0)
    max_growth: float | None = Field(default=None, gt=0)  # rows added / target rows


class Contract(_Model):
    dataset: str
    description: str | None = None
    owner: str | None = None
    primary_key: list[str] = Field(default_factory=list)
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
                text = path.read_text()
            except OSError as exc:
                raise ContractError(
                    [Problem(str(path), None, "", f"cannot read the file: {exc.strerror}")]
                ) from exc
            label = name or str(path)
        else:
            text, label = str(source), name or "<contract>"
        return cls.from_text(text, label)

    @classmethod
    def from_text(cls, text: str, label: str = "<contract>") -> Contract:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            raise ContractError(
                [Problem(label, line, "", f"not valid YAML: {getattr(exc, 'problem', exc)}")]
            ) from None
        problems = _duplicate_keys(root, label)
        if not isinstance(data, dict):
            raise ContractError(
                [Problem(label, 1, "", "a contract is a YAML mapping with dataset and columns")]
            )
        try:
            contract = cls.model_validate(data)
        except ValidationError as exc:
            problems += [_problem(err, root, label) for err in exc.errors()]
            raise ContractError(problems) from None
        problems += [
            Problem(label, _line(root, loc), _key(loc), msg) for loc, msg in contract.semantic_problems()
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
        for name, spec in self.columns.items():
            numeric = (
                pa.types.is_integer(spec.arrow_type)
                or pa.types.is_floating(spec.arrow_type)
                or pa.types.is_decimal(spec.arrow_type)
            )
            for key in ("min", "max"):
                if getattr(spec, key) is not None and not numeric:
                    out.append(
                        (("columns", name, key), f"{key} applies to numeric columns; {name!r} is {spec.type}")
                    )
            stringy = pa.types.is_string(spec.arrow_type) or pa.types.is_large_string(spec.arrow_type)
            for key in ("pattern", "min_length", "max_length"):
                if getattr(spec, key) is not None and not stringy:
                    out.append(
                        (("columns", name, key), f"{key} applies to string columns; {name!r} is {spec.type}")
                    )
            if spec.min is not None and spec.max is not None and spec.min > spec.max:
                out.append((("columns", name, "min"), f"min {spec.min} is above max {spec.max}"))
            for j, sql in enumerate(spec.checks):
                try:
                    check_predicate(sql, cols)
                except ValueError as exc:
                    out.append((("columns", name, "checks", j), str(exc)))
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
        raw: dict[str, Any] = self.model_dump(by_alias=True, exclude_defaults=True, mode="json")
        raw.setdefault("columns", {})
        return raw

    def to_yaml(self) -> str:
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
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(n, c.arrow_type, c.nullable) for n, c in self.columns.items()])

    def with_dataset(self, dataset: str) -> Contract:
        return self.model_copy(update={"dataset": dataset})

    def to_pandera(self) -> Any:
        """This contract as a ``pandera.polars.DataFrameSchema`` (the same checks the lake runs)."""
        from .pandera_schema import to_pandera

        return to_pandera(self)

    @classmethod
    def from_pandera(cls, model: Any, *, dataset: str | None = None) -> Contract:
        """Import a ``pandera.polars.DataFrameModel`` (or its schema) as a contract."""
        from .pandera_schema import from_pandera

        return from_pandera(model, dataset=dataset)


# -- locating problems in the YAML -------------------------------------------------------------
def _key(loc: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in loc)


def _line(node: yaml.Node | None, loc: tuple[str | int, ...]) -> int | None:
    """The 1-based line of the YAML node at ``loc`` (or of its nearest ancestor that exists)."""
    best = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for k, v in node.value:
                if k.value == str(part) or (part == "in_" and k.value == "in"):
                    nxt = v
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


def _problem(err: Mapping[str, Any], root: yaml.Node | None, label: str) -> Problem:
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
    return Problem(label, _line(root, loc), _key(loc), msg)


def _known_keys(parent: tuple[str | int, ...]) -> list[str]:
    model: type[BaseModel] = Contract
    if parent[:1] == ("columns",) and len(parent) == 2:
        model = ColumnSpec
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


def _duplicate_keys(node: yaml.Node | None, label: str, path: tuple[str | int, ...] = ()) -> list[Problem]:
    out: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            if k.value in seen:
                out.append(Problem(label, k.start_mark.line + 1, _key((*path, k.value)), "key given twice"))
            seen.add(k.value)
            out += _duplicate_keys(v, label, (*path, k.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            out += _duplicate_keys(v, label, (*path, i))
    return out
