"""What is in storage below the repository root, with sizes and ages, and deleting it.

The object-store interface of :mod:`lake.storage` lists keys only; gc and fsck also need each
object's size (to report what is freed) and age (the grace period that keeps a writer's staged
files from being taken). pyarrow's filesystem (local disk or S3, with the repository's options)
lists both in one recursive listing, and deletes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow.fs as pafs

from lake import kill, progress
from lake.storage import StorageConfig
from lake.storage.faults import storage_errors


@dataclass(frozen=True)
class Stored:
    """One object: its key relative to the repository root, its size and modification time."""

    key: str
    size: int
    mtime: float  # seconds since the epoch


def list_stored(config: StorageConfig, prefix: str = "") -> list[Stored]:
    """Every object whose key starts with the folder ``prefix`` ("" for the whole repository)."""
    fs = config.arrow_filesystem()
    root = config.arrow_path(config.uri).rstrip("/")
    base = config.arrow_path(config.join(prefix)) if prefix else root
    with storage_errors("list the objects of", config.join(prefix), config):
        infos = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    out: list[Stored] = []
    for info in infos:
        if info.type != pafs.FileType.File:
            continue
        key = info.path[len(root) + 1 :] if info.path.startswith(root + "/") else info.path
        mtime = info.mtime.timestamp() if info.mtime is not None else 0.0
        out.append(Stored(key, int(info.size or 0), mtime))
    return out


def delete_keys(config: StorageConfig, keys: Sequence[str]) -> None:
    """Delete ``keys`` (relative to the repository root) in the order given, a few at a time:
    a key is deleted only once every key some batches before it is gone."""
    if not keys:
        return
    fs = config.arrow_filesystem()

    def one(key: str) -> None:
        path = config.arrow_path(config.join(key))
        with storage_errors("delete", config.join(key), config, writing=True):
            try:
                fs.delete_file(path)
            except FileNotFoundError:
                pass  # gone already (an earlier, stopped gc)
        kill.point("gc.deleted")

    batch = 16
    with ThreadPoolExecutor(max_workers=8) as pool:
        for start in range(0, len(keys), batch):
            list(pool.map(one, keys[start : start + batch]))
            progress.advance("gc", min(start + batch, len(keys)), len(keys), "objects deleted")


def prune_empty_dirs(config: StorageConfig, folders: Iterable[str]) -> None:
    """On local disk, remove the folders (relative to the root) left empty; S3 has no folders."""
    if config.scheme != "file":
        return
    for folder in sorted(set(folders), key=lambda f: f.count("/"), reverse=True):
        path = os.path.join(config.root, folder)
        for dirpath, _dirs, _files in sorted(os.walk(path), key=lambda w: len(w[0]), reverse=True):
            with contextlib.suppress(OSError):
                os.rmdir(dirpath)
