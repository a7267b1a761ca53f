"""JUnit XML, the format CI systems show as test results: one test suite, one test case per
check; a failing check is a failure, a warning a passing case with its message as system-out, a
skipped check a skipped case. The gate's report and a validation report both render through
:func:`testsuite`."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .report import ValidationReport


@dataclass(frozen=True)
class Case:
    classname: str
    name: str
    status: str  # pass | warn | fail | skip
    summary: str  # a failure's message attribute, a warning's first line
    details: str = ""  # a failure's text (the summary when empty)


def testsuite(name: str, cases: Sequence[Case]) -> ET.Element:
    suite = ET.Element(
        "testsuite",
        name=name,
        tests=str(len(cases)),
        failures=str(sum(c.status == "fail" for c in cases)),
        errors="0",
        skipped=str(sum(c.status == "skip" for c in cases)),
    )
    for c in cases:
        case = ET.SubElement(suite, "testcase", classname=c.classname, name=c.name)
        if c.status == "fail":
            ET.SubElement(case, "failure", message=c.summary or c.name).text = c.details or c.summary
        elif c.status == "skip":
            ET.SubElement(case, "skipped", message=c.summary)
        elif c.status == "warn":
            ET.SubElement(case, "system-out").text = f"warning: {c.details or c.summary}"
    return suite


def document(root: ET.Element) -> str:
    text: str = ET.tostring(root, encoding="unicode", xml_declaration=True)
    return text + "\n"


def to_junit(report: ValidationReport, *, name: str | None = None) -> str:
    """``report`` as a JUnit document: a suite for the dataset, with its contract and rows as
    properties; a failure carries its counts and sample rows."""
    cases = [
        Case(f"{report.dataset}.{r.kind}", r.name, r.status, r.describe(), _details(r.describe(), r.samples))
        for r in report.results
    ]
    suite = testsuite(name or f"contract {report.dataset}", cases)
    props = ET.Element("properties")
    for key, value in (
        ("dataset", report.dataset),
        ("contract", report.contract),
        ("rows", str(report.rows)),
    ):
        ET.SubElement(props, "property", name=key, value=value)
    suite.insert(0, props)
    suites = ET.Element("testsuites", name="lakegate")
    suites.append(suite)
    ET.indent(suites)
    return document(suites)


def _details(summary: str, samples: Sequence[Mapping[str, Any]]) -> str:
    lines = [summary]
    if samples:
        lines.append("sample rows:")
        lines += [json.dumps(dict(s), default=str) for s in samples]
    return "\n".join(lines)
