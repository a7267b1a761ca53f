"""Docs that cannot drift (issue 13, part 6): every fenced block of README.md and docs/ says what
it is; Python blocks run (README.md's in test_demo.py, docs/contracts.md's in
test_docs_contracts.py, the rest here); a YAML contract loads; and every `lake ...` command a
synopsis names exists, with every option it shows, as `lake ... --help` says."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from lake.cli.app import main
from lake.contracts import Contract

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.S | re.M)
LANGUAGES = {"python", "yaml", "bash", "text", "toml"}


def _blocks(path: Path) -> list[tuple[str, str]]:
    return [(m.group(1).strip(), m.group(2)) for m in FENCE.finditer(path.read_text())]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_block_says_what_it_is(path: Path) -> None:
    untagged = [body.splitlines()[0] if body else "" for lang, body in _blocks(path) if lang not in LANGUAGES]
    assert not untagged, f"{path.name}: blocks without a known language: {untagged}"


RUN_HERE = [p for p in DOCS if p.name not in ("README.md", "contracts.md")]
PYTHON = [
    (p.name, i, body) for p in RUN_HERE for i, (lang, body) in enumerate(_blocks(p)) if lang == "python"
]


@pytest.mark.parametrize(("name", "index", "code"), PYTHON, ids=[f"{n}-{i}" for n, i, _ in PYTHON])
def test_python_blocks_run(
    name: str, index: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{name} block {index}", "exec"), {})


YAML = [
    (p.name, body) for p in DOCS if p.name != "contracts.md" for lang, body in _blocks(p) if lang == "yaml"
]


@pytest.mark.parametrize(("name", "text"), YAML, ids=[n for n, _ in YAML])
def test_yaml_contracts_load(name: str, text: str) -> None:
    if "dataset:" in text:
        Contract.from_text(text)
    else:
        yaml.safe_load(text)


def _commands() -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """(doc, command words, options shown) of every `lake ...` in a text block."""
    out = []
    for path in DOCS:
        for lang, body in _blocks(path):
            if lang != "text":
                continue
            for line in body.splitlines():
                for part in re.split(r"\s{2,}(?=lake )", line.strip()):
                    if not part.startswith("lake "):
                        continue
                    part = part.split("#", 1)[0]
                    words: list[str] = []
                    for token in shlex.split(part.replace("|", " | "), posix=True)[1:]:
                        if not re.fullmatch(r"[a-z][a-z-]*", token):
                            break
                        words.append(token)
                    options = tuple(sorted(set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", part))))
                    out.append((path.name, tuple(words), options))
    return out


COMMANDS = _commands()


@pytest.mark.parametrize(
    ("name", "words", "options"), COMMANDS, ids=[f"{n}:{' '.join(w)}" for n, w, _ in COMMANDS]
)
def test_synopses_name_real_commands_and_options(
    name: str,
    words: tuple[str, ...],
    options: tuple[str, ...],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TERMINAL_WIDTH", "300")  # rich's help must not cut a long option's name
    # the longest prefix of the words that is a command (the rest are arguments: `lake write orders`)
    for n in range(len(words), -1, -1):
        capsys.readouterr()
        if main([*words[:n], "--help"]) == 0:
            help_text = capsys.readouterr().out
            break
    else:  # pragma: no cover - `lake --help` always works
        pytest.fail(f"{name}: no command in {words}")
    if n == 0 and words:
        pytest.fail(f"{name}: `lake {' '.join(words)}` is not a command")
    missing = [o for o in options if o not in help_text and o not in ("--help",)]
    assert not missing, f"{name}: `lake {' '.join(words[:n])}` has no option {missing}"
