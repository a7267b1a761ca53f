"""Docs that cannot drift (issue 13, part 6): every fenced block of README.md and docs/ says what
it is; Python blocks run (README.md's in test_demo.py, docs/contracts.md's in
test_docs_contracts.py, the rest here); a YAML contract loads; and every `lake ...` command a
synopsis names exists, with every option it shows, as the command itself declares them."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer
import yaml

from lake.cli.app import app
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


@pytest.mark.parametrize(
    ("name", "index", "code"),
    [pytest.param(*p, marks=[pytest.mark.spark] if "pyspark" in p[2] else []) for p in PYTHON],
    ids=[f"{n}-{i}" for n, i, _ in PYTHON],
)
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
    """(doc, command words, options shown) of every `lake ...` in a text block or inline code."""
    out = []
    for path in DOCS:
        text_lines = [line for lang, body in _blocks(path) if lang == "text" for line in body.splitlines()]
        inline = re.findall(r"`(lake [a-z][^`]*)`", FENCE.sub("", path.read_text()))  # `lake gc ...` in prose
        for line in [*text_lines, *inline]:
            for part in re.split(r"\s{2,}(?=lake )", line.strip()):
                if not part.startswith("lake "):
                    continue
                part = part.split("#", 1)[0]
                words: list[str] = []
                for token in shlex.split(part.replace("|", " | "), posix=False)[1:]:
                    if not re.fullmatch(r"[a-z][a-z-]*", token):
                        break
                    words.append(token)
                options = tuple(sorted(set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", part))))
                out.append((path.name, tuple(words), options))
    return out


COMMANDS = _commands()


def _options(command: object) -> set[str]:
    return {o for p in getattr(command, "params", []) for o in (*p.opts, *p.secondary_opts)} | {"--help"}


@pytest.mark.parametrize(
    ("name", "words", "options"), COMMANDS, ids=[f"{n}:{' '.join(w)}" for n, w, _ in COMMANDS]
)
def test_synopses_name_real_commands_and_options(
    name: str, words: tuple[str, ...], options: tuple[str, ...]
) -> None:
    """The longest prefix of the words that is a command (the rest are arguments, as in
    `lake write orders`) must exist, and take every option the line shows."""
    command = typer.main.get_command(app)
    used: list[str] = []
    for word in words:
        sub = getattr(command, "commands", {}).get(word)
        if sub is None:
            break
        command, used = sub, [*used, word]
    if words and not used:
        pytest.fail(f"{name}: `lake {' '.join(words)}` is not a command")
    known = _options(command) | _options(typer.main.get_command(app))
    missing = [o for o in options if o not in known]
    assert not missing, f"{name}: `lake {' '.join(used)}` has no option {missing}"
