"""The result of validating a write against a contract: one model for every renderer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from lake.errors import ContractViolationError as ContractViolationError  # its home is lake.errors

Status = Literal["pass", "warn", "fail"]
MAX_SAMPLES = 10


@dataclass(frozen=True)
class CheckResult:
    """One contract check's outcome. ``status`` is ``pass``, ``warn`` (a check of severity
    ``warn`` broke) or ``fail``; ``threshold`` says what the check asks, and ``failed_rows`` of
    the ``rows`` it ran on broke it (a row check passes while the share ``mostly`` of them holds).
    ``samples`` are some failing rows (at most 10); a metric check judges a statistic, not rows:
    ``value`` holds what it measured."""

    name: str
    kind: str
    column: str | None
    status: Status
    severity: str
    threshold: str
    failed_rows: int = 0
    rows: int = 0
    mostly: float = 1.0
    message: str = ""
    samples: tuple[Mapping[str, Any], ...] = ()
    value: Any = None  # a metric: the statistic measured
    exact: bool = True  # a metric: False where a sketch estimated it (``error`` says how well)
    error: str = ""

    def describe(self) -> str:
        """One line: the check, its column, what broke it (failing rows, or a metric's value)."""
        where = f"{self.name} [{self.column}]" if self.column else self.name
        if self.kind == "metric":
            return f"{where}: {self.message}; breaks '{self.threshold}'"
        broke = (
            f"{where}: {self.failed_rows} of {self.rows} rows ({self.fraction:.2%}) break '{self.threshold}'"
        )
        return broke + (f"; {self.message}" if self.message else "")

    @property
    def fraction(self) -> float:
        """The share of the rows that failed (0.0 when the check ran on no rows)."""
        return self.failed_rows / self.rows if self.rows else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-ready data, with ``fraction``; ``value``, ``exact`` and ``error``
        only for a metric."""
        return {
            "name": self.name,
            "kind": self.kind,
            "column": self.column,
            "status": self.status,
            "severity": self.severity,
            "threshold": self.threshold,
            "failed_rows": self.failed_rows,
            "rows": self.rows,
            "fraction": round(self.fraction, 6),
            "mostly": self.mostly,
            "message": self.message,
            "samples": [dict(s) for s in self.samples],
            **(
                {"value": self.value, "exact": self.exact, "error": self.error}
                if self.kind == "metric"
                else {}
            ),
        }


@dataclass(frozen=True)
class ValidationReport:
    """The result of checking ``rows`` rows of ``dataset`` against a contract (``contract`` is
    its hash): one :class:`CheckResult` per check, and how many rows were quarantined."""

    dataset: str
    contract: str  # the contract's hash
    rows: int
    results: tuple[CheckResult, ...] = field(default_factory=tuple)
    quarantined: int = 0

    @property
    def ok(self) -> bool:
        """True when no check failed (warnings do not count)."""
        return not any(r.status == "fail" for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        """The checks that failed, in order."""
        return [r for r in self.results if r.status == "fail"]

    @property
    def warnings(self) -> list[CheckResult]:
        """The checks that warned, in order."""
        return [r for r in self.results if r.status == "warn"]

    def summary(self) -> dict[str, Any]:
        """What a commit records: each check with its status and counts, and the contract hash."""
        return {
            "contract": self.contract,
            "rows": self.rows,
            "quarantined": self.quarantined,
            "checks": {r.name: {"status": r.status, "failed": r.failed_rows} for r in self.results},
        }

    def to_dict(self) -> dict[str, Any]:
        """The dataset, contract hash, rows, ``ok``, the quarantined count and every check's result."""
        return {
            "dataset": self.dataset,
            "contract": self.contract,
            "rows": self.rows,
            "ok": self.ok,
            "quarantined": self.quarantined,
            "results": [r.to_dict() for r in self.results],
        }

    def to_text(self) -> str:
        """A plain-text rendering, stable enough for golden files."""
        lines = [
            f"contract check of {self.dataset}: {'passed' if self.ok else 'FAILED'} "
            f"({len(self.failures)} failed, {len(self.warnings)} warned, {self.rows} rows, "
            f"contract {self.contract[:12]})"
        ]
        for r in self.results:
            if r.status == "pass":
                continue
            lines.append(f"  {r.status.upper():<4} {r.describe()}")
            for s in r.samples:
                lines.append("         " + ", ".join(f"{k}={v!r}" for k, v in s.items()))
        return "\n".join(lines) + "\n"
