"""A dataset's folder as storage holds it: its layers, their data files and their logs, and which
files their Delta versions reference.

``<dataset>/`` is main's layer (``""``) and ``<dataset>/_branches/<id>/`` a branch's. A layer's
*data files* are its ``*.parquet`` files outside ``_``- or ``.``-prefixed folders (Delta's own
rule for what is not data: ``_delta_log``, ``_change_data``, nested ``_branches``). Paths are
relative to the dataset root, the one namespace every layer's log shares: main's table names a
merged branch file as ``_branches/<id>/part-...``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote

from lake.graph.commits import Layer
from lake.maintain.stored import Stored
from lake.table.deltalog import LoggedVersion, read_versions
from lake.table.layers import Layers

BRANCHES = "_branches"


@dataclass
class LayerFolder:
    path: str  # "" (main's) or "_branches/<id>"
    data: list[Stored] = field(default_factory=list)
    log: list[Stored] = field(default_factory=list)  # under _delta_log/
    other: list[Stored] = field(default_factory=list)  # anything else (locks, _change_data, ...)

    @property
    def branch_id(self) -> str | None:
        return self.path.split("/", 1)[1] if self.path else None

    @property
    def has_log(self) -> bool:
        return any(s.key.endswith(".json") or "checkpoint" in s.key for s in self.log)

    def stored(self) -> list[Stored]:
        return [*self.data, *self.log, *self.other]


@dataclass
class DatasetFolder:
    name: str
    layers: dict[str, LayerFolder] = field(default_factory=dict)

    @property
    def lake_like(self) -> bool:
        """A folder holding a Delta log or branch layers (not some other folder in the root)."""
        return any(layer.has_log or layer.path for layer in self.layers.values())


def folders(listing: Iterable[Stored]) -> dict[str, DatasetFolder]:
    """The dataset folders of a repository listing (``_lake/`` and hidden folders left out)."""
    out: dict[str, DatasetFolder] = {}
    for s in listing:
        parts = s.key.split("/")
        if len(parts) < 2 or parts[0].startswith(("_", ".")):
            continue
        if len(parts) >= 4 and parts[1] == BRANCHES:
            layer, rest = f"{BRANCHES}/{parts[2]}", parts[3:]
        elif parts[1] == BRANCHES:
            continue  # a stray object directly in _branches/
        else:
            layer, rest = "", parts[1:]
        folder = out.setdefault(parts[0], DatasetFolder(parts[0]))
        lf = folder.layers.setdefault(layer, LayerFolder(layer))
        if rest[0] == "_delta_log":
            lf.log.append(s)
        elif rest[-1].endswith(".parquet") and not any(p.startswith(("_", ".")) for p in rest):
            lf.data.append(s)
        else:
            lf.other.append(s)
    return {k: v for k, v in out.items() if v.lake_like}


def relative(layers: Layers, dataset: str, layer: str, path: str) -> str | None:
    """A path a layer's log names, relative to the dataset root (None: outside the dataset)."""
    path = unquote(path)
    if "://" in path or path.startswith("/"):
        root = layers.uri(dataset).rstrip("/") + "/"
        if not path.startswith(root):
            return None
        return posixpath.normpath(path[len(root) :])
    joined = posixpath.normpath(posixpath.join(layer, path) if layer else path)
    return None if joined.startswith("..") else joined


def versions(layers: Layers, dataset: str, layer: str, after: int, upto: int) -> list[LoggedVersion] | None:
    """The log entries of versions ``after+1 .. upto`` of a layer; None when one of them is gone."""
    return read_versions(layers.store, layers.key(dataset, layer, ""), after, upto)


def files_at(layers: Layers, dataset: str, layer: str, version: int) -> set[str]:
    """The files of a layer at a version, relative to the dataset root."""
    out: set[str] = set()
    for path in layers.files(dataset, Layer(layer, version)):
        rel = relative(layers, dataset, layer, path)
        if rel is not None:
            out.add(rel)
    return out


def referenced(layers: Layers, dataset: str, layer: str, lo: int, hi: int) -> set[str] | None:
    """Every file some version ``lo .. hi`` of the layer references (relative to the dataset
    root); None when the log cannot say (an entry is gone, or the table does not load)."""
    try:
        out = files_at(layers, dataset, layer, lo)
    except Exception:  # whatever delta-rs says about a log it cannot load: the answer is "unknown"
        return None
    later = versions(layers, dataset, layer, lo, hi)
    if later is None:
        return None
    for v in later:
        for add in v.adds:
            rel = relative(layers, dataset, layer, str(add.get("path", "")))
            if rel is not None:
                out.add(rel)
    return out


def latest(layers: Layers, dataset: str, layer: str) -> int | None:
    """The layer's newest Delta version; None when it has no readable log."""
    try:
        return layers.latest_version(dataset, layer)
    except Exception:  # a log delta-rs cannot load (see referenced)
        return None


def data_key(dataset: str, rel: str) -> str:
    return f"{dataset}/{rel}"
