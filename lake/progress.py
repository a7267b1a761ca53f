"""Progress of long operations, for a ``progress=`` callback (Python) and the CLI's bars.

The code that does the work calls :func:`advance` at its natural steps (a slice of a stream
written, a file read or exported, a dataset gated or merged, objects deleted by gc); a public
method that takes ``progress=`` installs the callback for the duration of the call with
:func:`reporting`. Without a callback, :func:`advance` costs one context-variable lookup.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Progress:
    """One step of a long operation: ``done`` of ``total`` ``unit`` (``total`` None when it is
    not known ahead, as for a stream). ``operation`` is ``write``, ``read``, ``export``,
    ``gate``, ``merge`` or ``gc``; ``detail`` names what it works on (a dataset, say)."""

    operation: str
    done: int
    total: int | None
    unit: str
    detail: str = ""


ProgressCallback = Callable[[Progress], None]

_CALLBACK: contextvars.ContextVar[ProgressCallback | None] = contextvars.ContextVar(
    "lake_progress", default=None
)


@contextlib.contextmanager
def reporting(callback: ProgressCallback | None) -> Iterator[None]:
    """Send the progress of what runs inside the block to ``callback`` (None: keep the one in
    force, so that a call made by another keeps reporting to its caller's)."""
    if callback is None:
        yield
        return
    token = _CALLBACK.set(callback)
    try:
        yield
    finally:
        _CALLBACK.reset(token)


def advance(operation: str, done: int, total: int | None, unit: str, detail: str = "") -> None:
    """Report a step to the callback in force, if any. A callback's own failure is not the
    operation's: it is ignored, and the callback is not called again during this block."""
    callback = _CALLBACK.get()
    if callback is None:
        return
    try:
        callback(Progress(operation, done, total, unit, detail))
    except Exception:
        _CALLBACK.set(None)


def bound() -> Callable[[str, int, int | None, str, str], None]:
    """:func:`advance` for code that runs on another thread (a reader that delta-rs drains, say):
    it reports to the callback in force here and now, which a thread does not inherit."""
    context = contextvars.copy_context()

    def report(operation: str, done: int, total: int | None, unit: str, detail: str = "") -> None:
        context.run(advance, operation, done, total, unit, detail)

    return report


def reports_progress(method: Callable[P, R]) -> Callable[P, R]:
    """Run ``method`` under :func:`reporting` of its ``progress=`` keyword argument."""

    @functools.wraps(method)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        callback = kwargs.get("progress")
        with reporting(callback if callable(callback) else None):
            return method(*args, **kwargs)

    return run
