"""The comparison an ODCS quality rule puts on the value it measures (``mustBe``,
``mustBeLessThan``, ``mustBeBetween``, ...) and its unit, as inclusive bounds."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

OPERATORS = (
    "mustBe",
    "mustNotBe",
    "mustBeGreaterThan",
    "mustBeGreaterOrEqualTo",
    "mustBeGreaterThanOrEqualTo",
    "mustBeLessThan",
    "mustBeLessOrEqualTo",
    "mustBeLessThanOrEqualTo",
    "mustBeBetween",
    "mustNotBeBetween",
)


@dataclass(frozen=True)
class Threshold:
    """``low <= value <= high`` (either may be None), in ``unit`` (rows or percent)."""

    low: float | None
    high: float | None
    percent: bool
    text: str  # the operator as the file writes it, for messages
    strict_high: bool = False  # a percent's upper bound is strict (mustBeLessThan): kept as given

    def share(self) -> float:
        """``mostly`` for an upper bound in percent on the rows that break a rule: the share of
        rows that must pass (a strict bound needs a share above it). Any other percent (a lower
        bound, 100 or more) has no ``mostly``: a ThresholdError says so."""
        assert self.percent
        if self.high is None or self.low not in (None, 0) or self.high >= 100:
            raise ThresholdError(
                f"{self.text} percent: lakegate keeps a share only as an upper bound below 100"
            )
        mostly = 1 - self.high / 100
        return math.nextafter(mostly, 2.0) if self.strict_high else mostly

    @property
    def zero(self) -> bool:
        """The value must be 0 (no row may break the rule)."""
        return self.high == 0 and (self.low is None or self.low <= 0)

    def rows(self) -> tuple[int | None, int | None]:
        """The bounds as whole numbers of rows (a lower bound below 0 is none)."""
        low = None if self.low is None else max(0, math.ceil(self.low))
        high = None if self.high is None else math.floor(self.high)
        if high is not None and high < 0:
            raise ThresholdError(f"{self.text}: a number of rows cannot be below 0")
        return low, high


class ThresholdError(ValueError):
    pass


def _number(value: Any, op: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ThresholdError(f"{op}: {value!r} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ThresholdError(f"{op}: {value!r} is not a finite number")
    if isinstance(value, int) and abs(value) > 2**63:
        raise ThresholdError(f"{op}: {value} is beyond what a count or a statistic can reach")
    return value


def _above(value: float, integral: bool) -> float:
    if isinstance(value, int):
        return value + 1 if integral else math.nextafter(float(value), math.inf)
    return math.floor(value) + 1 if integral else math.nextafter(value, math.inf)


def _below(value: float, integral: bool) -> float:
    if isinstance(value, int):
        return value - 1 if integral else math.nextafter(float(value), -math.inf)
    return math.ceil(value) - 1 if integral else math.nextafter(value, -math.inf)


def threshold(rule: dict[str, Any], *, integral: bool) -> Threshold | None:
    """The rule's comparison as inclusive bounds, or None when it gives none. ``integral``: the
    value is a count, so ``> 3`` is ``>= 4``; otherwise a strict bound moves by one ulp."""
    given = [op for op in OPERATORS if op in rule]
    unit = str(rule.get("unit") or "rows").strip().lower()
    if unit not in ("rows", "row", "percent", "%", "count"):
        raise ThresholdError(f"unit {rule.get('unit')!r} is neither rows nor percent")
    percent = unit in ("percent", "%")
    integral = integral and not percent
    if not given:
        return None
    if len(given) > 1:
        raise ThresholdError(f"the rule gives {len(given)} comparisons ({', '.join(given)}); ODCS allows one")
    op = given[0]
    value = rule[op]
    text = f"{op}: {value}"
    if op == "mustBe":
        v = _number(value, op)
        return Threshold(v, v, percent, text)
    if op in ("mustBeGreaterThan",):
        return Threshold(_above(_number(value, op), integral), None, percent, text)
    if op in ("mustBeGreaterOrEqualTo", "mustBeGreaterThanOrEqualTo"):
        return Threshold(_number(value, op), None, percent, text)
    if op == "mustBeLessThan":
        if percent:
            return Threshold(None, _number(value, op), percent, text, strict_high=True)
        return Threshold(None, _below(_number(value, op), integral), percent, text)
    if op in ("mustBeLessOrEqualTo", "mustBeLessThanOrEqualTo"):
        return Threshold(None, _number(value, op), percent, text)
    if op == "mustBeBetween":
        if not isinstance(value, list) or len(value) != 2:
            raise ThresholdError(f"mustBeBetween takes [low, high], not {value!r}")
        low, high = (_number(v, op) for v in value)
        return Threshold(low, high, percent, text)
    raise ThresholdError(f"{op} (a value that must stay outside a range) has no lakegate equivalent")
