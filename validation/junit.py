"""A validation report as a JUnit XML document, the format CI systems show as test results: one
test suite for the dataset, one test case per check; a failing check is a failure carrying its
counts and sample rows, a warning passes with its message as system-out."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from .report import CheckResult, ValidationReport


def to_junit(report: ValidationReport, *, name: str | None = None) -> str:
    suite_name = name or f"contract {report.dataset}"
    suites = ET.Element("testsuites", name="lakegate")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=suite_name,
        tests=str(len(report.results)),
        failures=str(len(report.failures)),
        errors="0",
        skipped="0",
    )
    props = ET.SubElement(suite, "properties")
    for key, value in (
        ("dataset", report.dataset),
        ("contract", report.contract),
        ("rows", str(report.rows)),
    ):
        ET.SubElement(props, "property", name=key, value=value)
    for r in report.results:
        case = ET.SubElement(suite, "testcase", name=r.name, classname=f"{report.dataset}.{r.kind}")
        if r.status == "fail":
            failure = ET.SubElement(case, "failure", message=_summary(r), type=r.kind)
            failure.text = _details(r)
        elif r.status == "warn":
            out = ET.SubElement(case, "system-out")
            out.text = f"warning: {_summary(r)}\n{_details(r)}"
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _summary(r: CheckResult) -> str:
    if r.kind == "metric":
        return f"{r.name}: {r.message}; breaks '{r.threshold}'"
    where = f" [{r.column}]" if r.column else ""
    text = f"{r.name}{where}: {r.failed_rows} of {r.rows} rows ({r.fraction:.2%}) break '{r.threshold}'"
    return text + (f"; {r.message}" if r.message else "")


def _details(r: CheckResult) -> str:
    lines = [_summary(r)]
    if r.samples:
        lines.append("sample rows:")
        lines += [json.dumps(dict(s), default=str) for s in r.samples]
    return "\n".join(lines)
