"""Every public class of ``import lake``, and every public method and property of one, says what
it does: ``help(lake.X)`` and an editor's hover are the reference a user reads first."""

from __future__ import annotations

import inspect

import pytest

import lake


def _undocumented(name: str) -> list[str]:
    """What ``lake.<name>`` leaves without a docstring: the class itself (a dataclass's generated
    ``Name(...)`` signature does not count), its public methods and properties, or the function."""
    obj = getattr(lake, name)
    missing = []
    if inspect.isclass(obj):
        doc = obj.__doc__ or ""
        if not doc.strip() or doc.startswith(obj.__name__ + "("):
            missing.append(name)
        for attr, value in vars(obj).items():
            if attr.startswith("_"):
                continue
            func = value.fget if isinstance(value, property) else value
            if isinstance(func, staticmethod | classmethod):
                func = func.__func__
            if callable(func) and not (getattr(func, "__doc__", None) or "").strip():
                missing.append(f"{name}.{attr}")
    elif callable(obj) and not (obj.__doc__ or "").strip():
        missing.append(name)
    return missing


@pytest.mark.parametrize("name", lake.__all__)
def test_the_public_api_is_documented(name: str) -> None:
    assert _undocumented(name) == []
