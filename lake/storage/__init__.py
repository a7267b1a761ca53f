"""Object storage behind one interface, picked from the URI scheme (as pyiceberg's FileIO)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from lake.storage.base import Blob, ObjectStore, PreconditionFailed
from lake.storage.options import StorageConfig


def open_store(config: StorageConfig) -> ObjectStore:
    if config.scheme == "s3":
        from lake.storage.s3 import S3Store

        return S3Store(config)
    from lake.storage.local import LocalStore

    return LocalStore(Path(config.root))


def parse(uri: str, storage_options: Mapping[str, str] | None = None) -> StorageConfig:
    return StorageConfig.parse(uri, storage_options)


__all__ = ["Blob", "ObjectStore", "PreconditionFailed", "StorageConfig", "open_store", "parse"]
