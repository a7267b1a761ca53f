"""The merge gate's report: one model, rendered as text, JSON, Markdown (a pull-request
comment), JUnit XML (a CI test tab), GitHub Actions annotations, and a self-contained HTML page
with side-by-side histograms of every drifted column."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from lake.errors import GateFailedError as GateFailedError  # its home is lake.errors

from .junit import Case, document, testsuite
from .report import CheckResult

Status = Literal["pass", "warn", "fail", "skip"]
Verdict = Literal["pass", "warn", "fail"]
_ICON = {"pass": "✅", "warn": "⚠️", "fail": "❌", "skip": "⏭️"}


@dataclass(frozen=True)
class GateCheck:
    dataset: str
    category: str  # merge | contract | schema | quality | drift | volume
    name: str
    status: Status
    value: str = ""
    threshold: str = ""
    message: str = ""
    samples: tuple[Mapping[str, Any], ...] = ()
    drift: Mapping[str, Any] = field(default_factory=dict)  # statistic, summaries, histogram

    @classmethod
    def of_result(cls, dataset: str, result: CheckResult) -> GateCheck:
        """A contract check's result, as the gate reports it (category ``quality``): a metric
        with the value it measured, any other check with its failing rows."""
        value = (
            f"{result.value}" if result.kind == "metric" else f"{result.failed_rows} of {result.rows} rows"
        )
        return cls(
            dataset,
            "quality",
            result.name,
            result.status,
            value=value,
            threshold=result.threshold,
            message=result.message,
            samples=tuple(result.samples),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "category": self.category,
            "name": self.name,
            "status": self.status,
            "value": self.value,
            "threshold": self.threshold,
            "message": self.message,
            "samples": [dict(s) for s in self.samples],
            "drift": dict(self.drift),
        }


@dataclass(frozen=True)
class GateReport:
    """The merge gate's verdict on merging ``source`` into ``target`` (the names given, at the
    commits ``source_commit`` and ``target_commit``): one :class:`GateCheck` per check, of the
    merge, the contract, the schema, data quality, drift and volume, each ``pass``, ``warn``,
    ``fail`` or ``skip``. :meth:`Repository.gate` returns it; :class:`GateFailedError` carries it."""

    source: str
    target: str
    source_commit: str
    target_commit: str
    checks: tuple[GateCheck, ...]

    @property
    def verdict(self) -> Verdict:
        """``fail`` when a check failed, else ``warn`` when one warned, else ``pass``."""
        statuses = {c.status for c in self.checks}
        return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"

    @property
    def passed(self) -> bool:
        """True unless a check failed: warnings let the merge through."""
        return self.verdict != "fail"

    def summary(self) -> dict[str, Any]:
        """What a merge commit records of the gate that admitted (or was overridden for) it."""
        return {
            "verdict": self.verdict,
            "failed": [f"{c.dataset}:{c.name}" for c in self.checks if c.status == "fail"],
            "warned": [f"{c.dataset}:{c.name}" for c in self.checks if c.status == "warn"],
        }

    def to_dict(self) -> dict[str, Any]:
        """The source, target, both commits, the verdict and every check, as JSON-ready data."""
        return {
            "source": self.source,
            "target": self.target,
            "source_commit": self.source_commit,
            "target_commit": self.target_commit,
            "verdict": self.verdict,
            "checks": [c.to_dict() for c in self.checks],
        }

    # -- renderers -------------------------------------------------------------------------------
    def headline(self) -> str:
        """One line: the merge, its verdict, and how many checks failed, warned, passed and were
        skipped."""
        counts = {s: sum(c.status == s for c in self.checks) for s in ("fail", "warn", "pass", "skip")}
        word = {"pass": "passed", "warn": "passed with warnings", "fail": "BLOCKED"}[self.verdict]
        return (
            f"lake gate {self.source} -> {self.target}: {word} "
            f"({counts['fail']} failed, {counts['warn']} warned, {counts['pass']} passed, {counts['skip']} skipped)"
        )

    def to_text(self) -> str:
        """Plain text: the headline, then one line per check with its value, threshold and note."""
        lines = [self.headline()]
        for c in self.checks:
            value = f" = {c.value}" if c.value else ""
            limit = f" (threshold {c.threshold})" if c.threshold else ""
            note = f": {c.message}" if c.message else ""
            lines.append(f"  {c.status.upper():<4} {c.dataset} {c.category}/{c.name}{value}{limit}{note}")
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, default=str) + "\n"

    def to_markdown(self) -> str:
        """Markdown for a pull-request comment: the headline, a table of checks per dataset, and
        the sample rows of each failed check in a collapsed ``<details>`` block."""
        out = [f"### {_ICON[self.verdict]} {self.headline()}", ""]
        for dataset in dict.fromkeys(c.dataset for c in self.checks):
            out += [
                f"#### `{dataset}`",
                "",
                "| | check | value | threshold | note |",
                "|---|---|---|---|---|",
            ]
            for c in (c for c in self.checks if c.dataset == dataset):
                out.append(
                    f"| {_ICON[c.status]} | {c.category}/{c.name} | {_md(c.value)} | {_md(c.threshold)} | {_md(c.message)} |"
                )
            out.append("")
            for c in (c for c in self.checks if c.dataset == dataset and c.samples and c.status == "fail"):
                cols = list(c.samples[0])
                out += [
                    f"<details><summary>failing rows of {c.name}</summary>",
                    "",
                    "| " + " | ".join(cols) + " |",
                    "|" + "---|" * len(cols),
                ]
                out += ["| " + " | ".join(_md(str(s.get(k))) for k in cols) + " |" for s in c.samples]
                out += ["", "</details>", ""]
        return "\n".join(out) + "\n"

    def to_junit(self) -> str:
        """A JUnit XML document, as CI systems show test results: one test case per check
        (``<dataset>.<category>``, the check's name); a failed check is a failure, a skipped one
        skipped, a warning a passing case with its message."""
        cases = [
            Case(
                f"{c.dataset}.{c.category}",
                c.name,
                c.status,
                c.message
                if c.status == "skip"
                else f"value {c.value} threshold {c.threshold}: {c.message}".strip(),
            )
            for c in self.checks
        ]
        return document(testsuite(f"lake gate {self.source} -> {self.target}", cases))

    def to_github(self) -> str:
        """GitHub Actions workflow commands: an ``::error`` for each failed check, a ``::warning``
        for each warning, and a ``::notice`` with the headline."""
        lines = []
        for c in self.checks:
            if c.status in ("fail", "warn"):
                level = "error" if c.status == "fail" else "warning"
                msg = f"{c.category}/{c.name}: value {c.value or '-'} threshold {c.threshold or '-'} {c.message}".strip()
                lines.append(f"::{level} title={_gh_property(f'lake gate {c.dataset}')}::{_gh(msg)}")
        lines.append(f"::notice title=lake gate::{_gh(self.headline())}")
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        """A self-contained HTML page: the verdict, every check (failures first), and side-by-side
        histograms of the reference (target) and the branch for each drift check that has them."""
        order = {"fail": 0, "warn": 1, "pass": 2, "skip": 3}
        ranked = sorted(self.checks, key=lambda c: order[c.status])
        rows = "".join(
            f"<tr class='{c.status}'><td><span class='badge {c.status}'>{c.status.upper()}</span></td><td>{html.escape(c.dataset)}</td>"
            f"<td>{html.escape(c.category)}/{html.escape(c.name)}</td><td>{html.escape(c.value)}</td>"
            f"<td>{html.escape(c.threshold)}</td><td>{html.escape(c.message)}</td></tr>"
            for c in ranked
        )
        charts = "".join(_chart(c) for c in ranked if c.category == "drift" and c.drift.get("histogram"))
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lake gate {html.escape(self.source)} → {html.escape(self.target)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2rem;color:#222}} table{{border-collapse:collapse;margin:1rem 0}}
td,th{{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;font-size:.9rem}} tr.fail{{background:#fde8e8}}
tr.warn{{background:#fff6dd}} .chart{{display:inline-block;margin:1rem 2rem 1rem 0;vertical-align:top}}
.legend span{{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 1rem}} h1{{font-size:1.3rem}}
.badge{{font-weight:600;font-size:.75rem;padding:.1rem .4rem;border-radius:.3rem;color:#fff}} .badge.pass{{background:#2e7d32}}
.badge.fail{{background:#c62828}} .badge.warn{{background:#ef6c00}} .badge.skip{{background:#888}}
</style></head><body>
<h1 id="verdict" data-verdict="{self.verdict}"><span class="badge {self.verdict}">{self.verdict.upper()}</span> {html.escape(self.headline())}</h1>
<p>source {html.escape(self.source_commit[:12])} · target {html.escape(self.target_commit[:12])}</p>
<table><tr><th></th><th>dataset</th><th>check</th><th>value</th><th>threshold</th><th>note</th></tr>{rows}</table>
<h2>Distributions</h2>
<p class="legend"><span style="background:#4c78a8"></span>reference (target)<span style="background:#f58518"></span>branch</p>
<div id="charts">{charts or "<p>No drift checks with distributions.</p>"}</div>
</body></html>
"""


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _gh(text: str) -> str:
    """A workflow command's message, escaped as GitHub's toolkit escapes data."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    """A workflow command's property value (``title=``): ``:`` and ``,`` escaped too."""
    return _gh(text).replace(":", "%3A").replace(",", "%2C")


def _chart(c: GateCheck) -> str:
    """Two histograms side by side, as inline SVG: the reference and the branch's rows."""
    hist = c.drift["histogram"]
    ref: Sequence[float] = hist["reference"]
    cur: Sequence[float] = hist["current"]
    labels: list[str] = list(hist.get("labels") or [])
    edges: list[float] = list(hist.get("edges") or [])
    if not labels:
        labels = [f"{edges[i]:.3g}" for i in range(len(ref))]
    top = max([*ref, *cur, 1e-9])
    width, height, pad = 360, 180, 24
    step = (width - 2 * pad) / max(len(ref), 1)

    def panel(values: Sequence[float], color: str, title: str) -> str:
        bars = "".join(
            f"<rect class='bar' x='{pad + i * step:.1f}' y='{height - pad - v / top * (height - 2 * pad):.1f}' "
            f"width='{max(step - 2, 1):.1f}' height='{v / top * (height - 2 * pad):.1f}' fill='{color}'>"
            f"<title>{html.escape(labels[i])}: {v:.1%}</title></rect>"
            for i, v in enumerate(values)
        )
        return (
            f"<svg class='histogram' width='{width}' height='{height}' role='img' aria-label='{html.escape(title)}'>"
            f"<text x='{pad}' y='14' font-size='12'>{html.escape(title)}</text>"
            f"<line x1='{pad}' y1='{height - pad}' x2='{width - pad}' y2='{height - pad}' stroke='#999'/>{bars}</svg>"
        )

    return (
        f"<div class='chart' data-column='{html.escape(c.name)}'><h3>{html.escape(c.dataset)}.{html.escape(c.name)}"
        f" — {html.escape(str(c.drift.get('method')))} = {html.escape(c.value)}</h3>"
        + panel(ref, "#4c78a8", "reference (target)")
        + panel(cur, "#f58518", "branch")
        + "</div>"
    )
