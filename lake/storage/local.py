"""A directory as an object store, with compare-and-swap made atomic by ``flock``.

Each key ``a/b`` is the file ``<root>/a/b``. A conditional write takes an exclusive lock on the
sibling ``a/.b.lock``, checks the condition, writes a temporary file and renames it over the
key, so readers never see a half-written object and two processes cannot both win.
The entity tag is the SHA-256 of the content.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from lake.storage.base import Blob, PreconditionFailed


def _etag(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.uri = str(root)

    def _path(self, key: str) -> Path:
        return self.root / key

    @contextlib.contextmanager
    def _locked(self, path: Path) -> Iterator[None]:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = path.parent / f".{path.name}.lock"
        fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def get(self, key: str) -> Blob | None:
        try:
            data = self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        return Blob(data, _etag(data))

    def put(self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False) -> str:
        path = self._path(key)
        conditional = if_match is not None or if_none_match
        # link() makes a put-if-absent atomic by itself: only a compare-and-swap needs the lock
        # (and a Delta log folder gets no lock files).
        lock = self._locked(path) if if_match is not None else contextlib.nullcontext()
        with lock:
            if conditional:
                current = self.get(key)
                if if_none_match and current is not None:
                    raise PreconditionFailed(f"{key} exists already")
                if if_match is not None and (current is None or current.etag != if_match):
                    raise PreconditionFailed(f"{key} changed since it was read")
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                if if_none_match:
                    # link() never replaces: atomic put-if-absent against writers that do not take
                    # our lock either (delta-rs commits Delta log entries with a no-replace rename).
                    try:
                        os.link(tmp, path)
                    except FileExistsError:
                        raise PreconditionFailed(f"{key} exists already") from None
                    finally:
                        os.unlink(tmp)
                else:
                    os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
        return _etag(data)

    def upload(self, key: str, path: str) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh, open(path, "rb") as source:
                shutil.copyfileobj(source, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        path = self._path(key)
        with self._locked(path):
            if if_match is not None:
                current = self.get(key)
                if current is None or current.etag != if_match:
                    raise PreconditionFailed(f"{key} changed since it was read")
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def list(self, prefix: str) -> Iterator[str]:
        base = self._path(prefix.rsplit("/", 1)[0]) if "/" in prefix else self.root
        if not base.is_dir():
            return
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                if name.startswith("."):
                    continue
                key = Path(dirpath, name).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key
