"""Compatibility between two contract versions, in the spirit of datacontract-cli's `breaking`:
every change is classified as breaking, warning or compatible."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .model import ColumnSpec, Contract, MetricBound, instant
from .types import widens

Level = Literal["breaking", "warning", "compatible"]
_ORDER = {"breaking": 0, "warning": 1, "compatible": 2}


@dataclass(frozen=True)
class ContractChange:
    level: Level
    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"level": self.level, "path": self.path, "message": self.message}


@dataclass(frozen=True)
class ContractDiff:
    """What changed from one contract to another (``lake contract diff``), each change ranked
    ``breaking`` (data the old contract accepted may now fail, or readers lose something),
    ``warning`` or ``compatible``."""

    changes: tuple[ContractChange, ...]

    @property
    def breaking(self) -> bool:
        """Whether any change is breaking."""
        return any(c.level == "breaking" for c in self.changes)

    def count(self, level: Level) -> int:
        """How many changes are of ``level``."""
        return sum(c.level == level for c in self.changes)

    def to_dict(self) -> dict[str, Any]:
        """Whether it is breaking, the count of each level, and every change as a dict."""
        return {
            "breaking": self.breaking,
            "counts": {lvl: self.count(lvl) for lvl in ("breaking", "warning", "compatible")},
            "changes": [c.to_dict() for c in self.changes],
        }

    def to_text(self) -> str:
        """One line a change (level, path, what changed), then the counts."""
        if not self.changes:
            return "no changes\n"
        lines = [f"{c.level:<10} {c.path}: {c.message}" for c in self.changes]
        summary = ", ".join(f"{self.count(lvl)} {lvl}" for lvl in ("breaking", "warning", "compatible"))
        return "\n".join([*lines, summary]) + "\n"


def _bound(path: str, key: str, old: Any, new: Any, *, lower: bool) -> list[ContractChange]:
    if old == new:
        return []
    if old is None:
        return [ContractChange("breaking", path, f"{key} {new} added")]
    if new is None:
        return [ContractChange("compatible", path, f"{key} {old} removed")]
    tighter = instant(new) > instant(old) if lower else instant(new) < instant(old)
    return [
        ContractChange(
            "breaking" if tighter else "compatible",
            path,
            f"{key} {'tightened' if tighter else 'loosened'} from {old} to {new}",
        )
    ]


def _where(path: str, old: str | None, new: str | None) -> list[ContractChange]:
    """A ``where:`` narrows the rows a check runs on: adding one loosens it, removing or
    changing one may hold rows to it that were not."""
    if old == new:
        return []
    if old is None:
        return [ContractChange("compatible", path, f"now runs only where {new}")]
    if new is None:
        return [ContractChange("breaking", path, f"where {old} removed: the check runs on every row")]
    return [ContractChange("breaking", path, f"where changed from {old} to {new}")]


def _metric(path: str, old: MetricBound | None, new: MetricBound | None) -> list[ContractChange]:
    if old == new:
        return []
    if new is None:
        return [ContractChange("compatible", path, "metric removed")]
    if old is None:
        level: Level = "breaking" if new.severity == "error" else "warning"
        return [ContractChange(level, path, f"metric added ({new.scope} scope)")]
    out: list[ContractChange] = []
    if old.p != new.p:
        out.append(ContractChange("breaking", f"{path}.p", f"quantile changed from {old.p} to {new.p}"))
    if old.scope != new.scope:
        out.append(ContractChange("breaking", f"{path}.scope", f"scope {old.scope} -> {new.scope}"))
    if old.severity != new.severity:
        relaxed = new.severity == "warn"
        out.append(
            ContractChange(
                "compatible" if relaxed else "breaking",
                f"{path}.severity",
                "relaxed to a warning" if relaxed else "a warning became an error",
            )
        )
    out += _bound(f"{path}.min", "min", old.min, new.min, lower=True)
    out += _bound(f"{path}.max", "max", old.max, new.max, lower=False)
    out += _where(f"{path}.where", old.where, new.where)
    return out


def _column(name: str, old: ColumnSpec, new: ColumnSpec) -> list[ContractChange]:
    p = f"columns.{name}"
    out: list[ContractChange] = []
    if old.type != new.type:
        wider = widens(old.arrow_type, new.arrow_type)
        out.append(
            ContractChange(
                "warning" if wider else "breaking",
                f"{p}.type",
                f"type {'widened' if wider else 'changed'} from {old.type} to {new.type}",
            )
        )
    if old.nullable != new.nullable:
        out.append(
            ContractChange(
                "warning" if new.nullable else "breaking",
                f"{p}.nullable",
                "now nullable" if new.nullable else "nullable became not null",
            )
        )
    if old.unique != new.unique:
        out.append(
            ContractChange(
                "breaking" if new.unique else "warning",
                f"{p}.unique",
                "unique added" if new.unique else "unique removed",
            )
        )
    out += _bound(f"{p}.min", "min", old.min, new.min, lower=True)
    out += _bound(f"{p}.max", "max", old.max, new.max, lower=False)
    out += _bound(f"{p}.min_length", "min_length", old.min_length, new.min_length, lower=True)
    out += _bound(f"{p}.max_length", "max_length", old.max_length, new.max_length, lower=False)
    if old.in_ != new.in_:
        if old.in_ is None:
            out.append(ContractChange("breaking", f"{p}.in", f"allowed set {new.in_} added"))
        elif new.in_ is None:
            out.append(ContractChange("warning", f"{p}.in", "allowed set removed: any value may now appear"))
        else:
            gone = [v for v in old.in_ if v not in new.in_]
            extra = [v for v in new.in_ if v not in old.in_]
            if gone:
                out.append(ContractChange("breaking", f"{p}.in", f"values no longer allowed: {gone}"))
            if extra:
                out.append(ContractChange("warning", f"{p}.in", f"new allowed values: {extra}"))
    if old.not_in != new.not_in:
        added = [v for v in (new.not_in or []) if v not in (old.not_in or [])]
        removed = [v for v in (old.not_in or []) if v not in (new.not_in or [])]
        if added:
            out.append(ContractChange("breaking", f"{p}.not_in", f"values newly forbidden: {added}"))
        if removed:
            out.append(ContractChange("compatible", f"{p}.not_in", f"values no longer forbidden: {removed}"))
    if old.pattern != new.pattern:
        level: Level = "compatible" if new.pattern is None else "breaking"
        out.append(ContractChange(level, f"{p}.pattern", f"pattern {old.pattern!r} -> {new.pattern!r}"))
    for sql in new.checks:
        if sql not in old.checks:
            out.append(ContractChange("breaking", f"{p}.checks", f"check added: {sql}"))
    for sql in old.checks:
        if sql not in new.checks:
            out.append(ContractChange("compatible", f"{p}.checks", f"check removed: {sql}"))
    out += _where(f"{p}.where", old.where, new.where)
    for metric in dict.fromkeys([*old.metrics, *new.metrics]):
        before, after = old.metrics.get(metric, []), new.metrics.get(metric, [])
        for i in range(max(len(before), len(after))):
            path = f"{p}.metrics.{metric}" + (f"[{i}]" if max(len(before), len(after)) > 1 else "")
            out += _metric(path, before[i] if i < len(before) else None, after[i] if i < len(after) else None)
    if old.references != new.references:
        ref = new.references
        if ref is None:
            out.append(ContractChange("compatible", f"{p}.references", "reference removed"))
        else:
            what = f"values must exist in {ref.dataset}.{ref.column}"
            verb = "added" if old.references is None else "changed"
            relaxed = old.references is not None and (
                old.references.model_copy(update={"severity": "warn"}) == ref and ref.severity == "warn"
            )
            level = "compatible" if relaxed else ("breaking" if ref.severity == "error" else "warning")
            out.append(ContractChange(level, f"{p}.references", f"reference {verb}: {what}"))
    return out


def diff_contracts(old: Contract, new: Contract) -> ContractDiff:
    out: list[ContractChange] = []
    for name, spec in old.columns.items():
        if name not in new.columns:
            out.append(ContractChange("breaking", f"columns.{name}", "column dropped"))
        else:
            out += _column(name, spec, new.columns[name])
    for name, spec in new.columns.items():
        if name not in old.columns:
            level: Level = "compatible" if spec.nullable else "breaking"
            out.append(
                ContractChange(
                    level,
                    f"columns.{name}",
                    f"column added ({spec.type}, {'nullable' if spec.nullable else 'not null'})",
                )
            )
    if old.primary_key != new.primary_key:
        out.append(
            ContractChange("breaking", "primary_key", f"primary key {old.primary_key} -> {new.primary_key}")
        )
    if old.partition_by != new.partition_by:
        out.append(
            ContractChange(
                "breaking",
                "partition_by",
                f"partition columns {old.partition_by} -> {new.partition_by} (the dataset is rewritten)",
            )
        )
    if old.extra_columns != new.extra_columns:
        lvl: Level = "breaking" if new.extra_columns == "forbid" else "compatible"
        out.append(ContractChange(lvl, "extra_columns", f"{old.extra_columns} -> {new.extra_columns}"))
    if old.schema_evolution != new.schema_evolution:
        out.append(
            ContractChange("warning", "schema_evolution", f"{old.schema_evolution} -> {new.schema_evolution}")
        )
    before = {c.name: c for c in old.checks}
    after = {c.name: c for c in new.checks}
    for name, check in after.items():
        if name not in before:
            lvl = "breaking" if check.severity == "error" else "warning"
            out.append(ContractChange(lvl, f"checks.{name}", f"{check.kind} check added"))
        elif before[name].model_copy(update={"where": None}) == check.model_copy(update={"where": None}):
            out += _where(f"checks.{name}.where", before[name].where, check.where)
        elif before[name] != check:
            relaxed = check.severity == "warn" and before[name].severity == "error"
            out.append(
                ContractChange(
                    "compatible" if relaxed else "breaking",
                    f"checks.{name}",
                    "relaxed to a warning" if relaxed else "check changed",
                )
            )
    for name in before:
        if name not in after:
            out.append(ContractChange("compatible", f"checks.{name}", "check removed"))
    if old.drift != new.drift:
        out.append(ContractChange("warning", "drift", "drift settings changed"))
    if old.volume != new.volume:
        out.append(ContractChange("warning", "volume", "volume bounds changed"))
    for key in ("description", "owner", "dataset"):
        if getattr(old, key) != getattr(new, key):
            out.append(ContractChange("compatible", key, f"{getattr(old, key)!r} -> {getattr(new, key)!r}"))
    out.sort(key=lambda c: (_ORDER[c.level], c.path))
    return ContractDiff(tuple(out))
