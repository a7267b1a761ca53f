"""The object-store interface the lake's metadata goes through.

Two implementations ship in the package: :mod:`lake.storage.local` (a directory, the embedded
default) and :mod:`lake.storage.s3` (any S3 API; the only module that imports boto3). Data
files are not read or written here: Delta tables go through delta-rs, and parquet through
pyarrow, each with the options :class:`lake.storage.options.StorageConfig` derives.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from lake.errors import PreconditionFailed as PreconditionFailed  # defined in lake.errors


@dataclass(frozen=True)
class Blob:
    """An object's bytes with the entity tag that a conditional write must name."""

    data: bytes
    etag: str


class ObjectStore(Protocol):
    """Keys are '/'-separated paths relative to the repository root."""

    uri: str

    def get(self, key: str) -> Blob | None:
        """The object at ``key``, or None when there is none."""
        ...

    def put(self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False) -> str:
        """Write ``data`` at ``key`` and return its new entity tag.

        ``if_match`` writes only if the current tag equals it; ``if_none_match`` writes only if
        no object exists. Either condition failing raises :class:`PreconditionFailed`.
        """
        ...

    def upload(self, key: str, path: str) -> None:
        """Write the local file at ``path`` at ``key`` (unconditionally), read from disk as it
        goes: a data file written by rolling (:mod:`lake.table.rolling`) is never held whole."""
        ...

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        """Remove ``key`` (absent keys are fine). ``if_match`` guards as for :meth:`put`."""
        ...

    def list(self, prefix: str) -> Iterator[str]:
        """Every key that starts with ``prefix``, in no promised order."""
        ...
