"""docs/contracts.md, the contract reference, runs: every YAML contract on it loads, and every
Python example runs with ``contract_yaml`` bound to the YAML block just above it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lake.contracts import Contract

DOC = Path(__file__).resolve().parent.parent / "docs" / "contracts.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def _examples() -> list[tuple[str, str, str]]:
    """(heading, yaml, python) for every Python block, with the YAML block before it."""
    out, yaml_text, heading = [], "", ""
    text = DOC.read_text()
    for match in BLOCK.finditer(text):
        heading = re.findall(r"^#+ (.+)$", text[: match.start()], re.M)[-1]
        lang, body = match.group(1), match.group(2)
        if lang == "yaml":
            yaml_text = body
        elif lang == "python":
            out.append((heading, yaml_text, body))
    return out


EXAMPLES = _examples()


def test_the_reference_documents_every_key_of_the_model() -> None:
    from lake.contracts.model import CheckSpec, ColumnSpec, DriftMethod, MetricBound, Reference

    text = DOC.read_text()
    for model in (Contract, ColumnSpec, CheckSpec, DriftMethod, MetricBound, Reference):
        for name, field in model.model_fields.items():
            key = field.alias or name
            assert f"`{key}`" in text or f"{key}:" in text, (
                f"{model.__name__}.{key} is not in docs/contracts.md"
            )
    from lake.contracts.model import METRICS

    for metric in METRICS:
        assert f"`{metric}`" in text, metric


def test_every_yaml_contract_on_the_page_loads() -> None:
    blocks = [m.group(2) for m in BLOCK.finditer(DOC.read_text()) if m.group(1) == "yaml"]
    assert len(blocks) >= 8
    for block in blocks:
        Contract.from_text(block, "docs/contracts.md")


@pytest.mark.parametrize(("heading", "contract_yaml", "code"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_every_example_runs(
    heading: str, contract_yaml: str, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"docs/contracts.md ({heading})", "exec"), {"contract_yaml": contract_yaml})
