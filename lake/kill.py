"""Kill points: the named steps of every change to the lake, where a test makes the process die.

Each step of a write, a transaction, a merge, a revert, a contract change, an optimize, an
adoption of foreign commits, a Spark commit and a gc calls :func:`point` with the name of the step
it just finished. Two environment variables, read at each call, make a point do something:

* ``LAKE_KILL_AT=NAME`` (or ``NAME#N``: the N-th time the process reaches it) ends the process
  there with ``os._exit(KILLED)``, as a crash would: no ``finally`` block, no ``atexit`` handler,
  no buffered write runs. Several points may be named, separated by commas (the first reached
  ends it).
* ``LAKE_KILL_TRACE=FILE`` appends one JSON line per point reached (its name, how many times the
  process reached it, the wall-clock time and the process id) to ``FILE``: what the crash tests
  enumerate, and how ``bench/commit_window.py`` measures the time between a Delta commit and
  the ref swap that makes it the lake's.

With neither set, a point costs two dictionary lookups. They are a test hook, not a feature:
nothing in the lake reads them but this module.
"""

from __future__ import annotations

import json
import os
import threading
import time

KILL_AT = "LAKE_KILL_AT"
KILL_TRACE = "LAKE_KILL_TRACE"
KILLED = 137  # what a shell reports for SIGKILL: the code a killed process is seen to end with

POINTS: dict[str, str] = {
    "data.files": "data files written (parquet below a layer's root), that no Delta version names yet",
    "delta.columns": "a Delta version that only adds columns, before the version that writes rows",
    "delta.commit": "a Delta version committed to a layer, that no lake commit names yet",
    "contract.stored": "a contract object stored, that no commit names yet",
    "commit.stored.before": "before the commit object is stored (every Delta version is committed)",
    "commit.stored": "the commit object stored, that no ref names yet",
    "ref.swap.before": "before the compare-and-swap of the branch's ref",
    "ref.swap": "the branch's ref swapped: the commit is the lake's, its after-commit work not done",
    "profile.stored": "a protected branch's profile of a dataset stored, after its commit",
    "gc.marked": "gc marked the commits it expires, before deleting anything",
    "gc.deleted": "gc deleted one object (of the data files, dead layers' logs or metadata)",
    "spark.files": "a Spark job's files written by the executors, before the driver commits",
    "spark.rewritten": "Spark executors rewrote the files that held matched or set-aside rows",
}

_lock = threading.Lock()
_reached: dict[str, int] = {}


def point(name: str) -> None:
    """The step ``name`` (one of :data:`POINTS`) is done: die here, or trace it, if told to."""
    kill, trace = os.environ.get(KILL_AT), os.environ.get(KILL_TRACE)
    if not kill and not trace:
        return
    assert name in POINTS, f"unknown kill point {name!r}"
    with _lock:
        count = _reached[name] = _reached.get(name, 0) + 1
        if trace:
            line = {"point": name, "n": count, "time": time.time(), "pid": os.getpid()}
            with open(trace, "a", encoding="utf-8") as out:
                out.write(json.dumps(line) + "\n")
        if kill and any(_names(spec, name, count) for spec in kill.split(",")):
            os._exit(KILLED)


def _names(spec: str, name: str, count: int) -> bool:
    """Whether ``spec`` (``NAME`` or ``NAME#N``) names this reach of ``name``."""
    wanted, _, nth = spec.strip().partition("#")
    return wanted == name and (not nth or int(nth) == count)
