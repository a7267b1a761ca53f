"""The names people give things: branches, tags and datasets.

Branch and tag names follow git's ``check-ref-format`` rules (plus git-branch's leading '-'),
and a length every object store and filesystem accepts. Dataset names are stricter, because
they become folder names that every engine must read: see :func:`check_dataset_name`.
Each rule carries the sentence a person sees when a name breaks it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from lake.errors import InvalidInputError, InvalidRefNameError

# A ref is stored as one object key whose last part also names a lock and a temporary file
# beside it; 200 characters leave room for those within a filesystem's 255-byte file names.
MAX_REF_NAME = 200
MAX_DATASET_NAME = 128
# The lake's own datasets: the rows a write set aside (see ``on_violation="quarantine"``).
QUARANTINE_SUFFIX = "__quarantine"
_DATASET_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

_RULES: list[tuple[Callable[[str], bool], str]] = [
    (lambda n: n == "", "a name cannot be empty"),
    (
        lambda n: len(n.encode()) > MAX_REF_NAME,
        f"a name can be at most {MAX_REF_NAME} bytes long (UTF-8)",
    ),
    (lambda n: n.startswith("refs/"), "a name cannot start with 'refs/' (that prefix qualifies refs)"),
    (lambda n: n.startswith("-"), "a name cannot start with '-'"),
    (lambda n: n.startswith("/") or n.endswith("/"), "a name cannot start or end with '/'"),
    (lambda n: "//" in n, "a name cannot contain '//'"),
    (lambda n: ".." in n, "a name cannot contain '..'"),
    (
        lambda n: re.search(r"[\x00-\x20\x7f]", n) is not None,
        "a name cannot contain spaces or control characters",
    ),
    (lambda n: re.search(r"[~^:?*\[\\]", n) is not None, "a name cannot contain any of ~ ^ : ? * [ \\"),
    (lambda n: "@{" in n, "a name cannot contain '@{'"),
    (lambda n: n == "@", "a name cannot be '@'"),
    (lambda n: n.endswith("."), "a name cannot end with '.'"),
    (
        lambda n: any(part.startswith(".") for part in n.split("/")),
        "no part of a name between slashes can start with '.'",
    ),
    (
        lambda n: any(part.endswith(".lock") for part in n.split("/")),
        "no part of a name between slashes can end with '.lock'",
    ),
]


def check_ref_name(name: str, *, kind: str = "branch") -> str:
    """Return ``name`` if git would accept it as a ref name, else raise with the broken rule."""
    for broken, rule in _RULES:
        if broken(name):
            raise InvalidRefNameError(
                f"invalid {kind} name {name!r}: {rule}",
                hint=f"{kind} names follow git's ref-name rules: e.g. 'feature/orders-2026', at most "
                f"{MAX_REF_NAME} bytes, with no '..', spaces, control characters or ~ ^ : ? * [ \\",
            )
    return name


def check_dataset_name(name: str) -> str:
    """Return ``name`` if it is a dataset name every engine and filesystem can use, else raise.

    The rule: ASCII letters, digits and underscores, starting with a letter, at most 128
    characters, and not ending in ``__quarantine`` (the lake's own datasets). Names that differ
    only in case are refused where they meet (see :func:`case_clash`)."""
    problems = []
    if not _DATASET_NAME.fullmatch(name):
        problems.append("use only ASCII letters, digits and '_', starting with a letter")
    if len(name) > MAX_DATASET_NAME:
        problems.append(f"it is {len(name)} characters long; the most is {MAX_DATASET_NAME}")
    if name.endswith(QUARANTINE_SUFFIX):
        problems.append(f"names ending in {QUARANTINE_SUFFIX!r} are the lake's own (quarantined rows)")
    if problems:
        shown = name if len(name) <= 60 else name[:57] + "..."
        raise InvalidInputError(
            f"invalid dataset name {shown!r}: " + "; ".join(problems),
            hint="dataset names must be portable to every engine and filesystem: "
            f"[A-Za-z][A-Za-z0-9_]*, at most {MAX_DATASET_NAME} characters, unique regardless of case",
        )
    return name


def is_quarantine(name: str) -> bool:
    """True for a dataset the lake keeps the set-aside rows of another dataset in."""
    return name.endswith(QUARANTINE_SUFFIX)


def check_readable_dataset_name(name: str) -> str:
    """A name that can be read: a user's dataset, or the quarantine of one."""
    check_dataset_name(name.removesuffix(QUARANTINE_SUFFIX))
    return name


def case_clash(name: str, existing: Iterable[str]) -> str | None:
    """The existing dataset whose name differs from ``name`` only in case, if there is one."""
    folded = name.casefold()
    return next((e for e in existing if e != name and e.casefold() == folded), None)
