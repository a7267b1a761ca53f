"""Immutable objects named by the hash of their content (commits, contract versions), written
once with ``If-None-Match`` and cached: an object, once read, never changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from lake.errors import RefNotFoundError, StorageError
from lake.storage import ObjectStore, PreconditionFailed

T = TypeVar("T")


class ContentStore(Generic[T]):
    """Objects of one kind under ``prefix`` + their key.

    ``key_of`` names an object, ``encode`` and ``decode`` turn it into bytes and back, and
    ``verify(key, data, obj)`` says whether what was read is the object its key names (a
    corrupt or tampered object is a :class:`StorageError`, never data)."""

    def __init__(
        self,
        store: ObjectStore,
        prefix: str,
        *,
        kind: str,
        key_of: Callable[[T], str],
        encode: Callable[[T], bytes],
        decode: Callable[[bytes, str], T],
        verify: Callable[[str, bytes, T], bool],
    ) -> None:
        self._store = store
        self.prefix = prefix
        self._kind = kind
        self._key_of, self._encode, self._decode, self._verify = key_of, encode, decode, verify
        self._cache: dict[str, T] = {}

    def put(self, obj: T) -> str:
        key = self._key_of(obj)
        if key not in self._cache:
            try:
                self._store.put(self.prefix + key, self._encode(obj), if_none_match=True)
            except PreconditionFailed:
                pass  # content-addressed: the object there is this very object
            self._cache[key] = obj
        return key

    def get(self, key: str) -> T:
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        blob = self._store.get(self.prefix + key)
        if blob is None:
            raise RefNotFoundError(f"no {self._kind} {key[:12]} in the repository")
        obj = self._decode(blob.data, key)
        if not self._verify(key, blob.data, obj):
            raise StorageError(
                f"{self._kind} object {key[:12]} is corrupt: its content does not hash to its id"
            )
        self._cache[key] = obj
        return obj

    def keys(self, prefix: str) -> list[str]:
        """The keys that start with ``prefix``."""
        return [k.removeprefix(self.prefix) for k in self._store.list(self.prefix + prefix)]

    def exists(self, key: str) -> bool:
        return key in self._cache or self._store.get(self.prefix + key) is not None
