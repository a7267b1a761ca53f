"""Branch and tag names follow git's ``check-ref-format`` rules (plus git-branch's leading '-').

Each rule carries the sentence a person sees when a name breaks it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lake.errors import InvalidRefNameError

_RULES: list[tuple[Callable[[str], bool], str]] = [
    (lambda n: n == "", "a name cannot be empty"),
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
            raise InvalidRefNameError(f"invalid {kind} name {name!r}: {rule}")
    return name
