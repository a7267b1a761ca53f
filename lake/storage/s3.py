"""S3 (or any S3-compatible server) as an object store. The only module that imports boto3.

Its client is built on the repository's own botocore session (:mod:`lake.storage.credentials`),
so boto3 signs with the very credentials delta-rs, polars and pyarrow are handed.

Compare-and-swap uses S3 conditional writes: ``If-None-Match: *`` to create, ``If-Match: <etag>``
to replace. A lost race answers 412 PreconditionFailed (or 409 ConditionalRequestConflict while
another conditional write is in flight); both become :class:`PreconditionFailed`, but only once
the object, read again, shows the race was lost: a put that boto3 retried after its answer was
lost meets itself (its own bytes are there: it landed), and a refusal while the condition holds
is not a lost race but a fault, tried again within the budget's attempts (then a StorageError).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import boto3.session
import botocore.config
import botocore.exceptions

from lake.errors import StorageError
from lake.storage.base import Blob, PreconditionFailed
from lake.storage.faults import storage_error

if TYPE_CHECKING:
    from botocore.session import Session as BotocoreSession

    from lake.storage.options import StorageConfig

_LOST_RACE = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}
_MISSING = {"NoSuchKey", "404", "NotFound"}


# One boto3 session per repository's botocore session (boto3 registers its handlers on the
# botocore session it wraps, and refuses to do so twice).
_SESSIONS: weakref.WeakKeyDictionary[BotocoreSession, boto3.session.Session] = weakref.WeakKeyDictionary()
_SESSIONS_LOCK = threading.Lock()


def _session(config: StorageConfig) -> boto3.session.Session:
    """The boto3 session on the repository's own botocore session, which holds the credentials
    delta-rs, polars and pyarrow are handed (and refreshes them): never boto3's process-wide
    default session, which read the environment once, whenever it was first used."""
    core = config.botocore_session()
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(core)
        if session is None:
            session = _SESSIONS[core] = boto3.session.Session(botocore_session=core)
        return session


class S3Store:
    def __init__(self, config: StorageConfig) -> None:
        assert config.bucket is not None
        self.uri = config.uri
        self.bucket = config.bucket
        self.prefix = config.prefix
        self.config = config
        budget = config.budget
        session = _session(config)
        settings = config.boto3_options()
        style = settings["addressing_style"]
        self._client: Any = session.client(
            "s3",
            endpoint_url=settings["endpoint_url"],
            region_name=settings["region_name"],
            config=botocore.config.Config(
                retries={"total_max_attempts": budget.attempts, "mode": "standard"},
                connect_timeout=budget.connect_timeout,
                read_timeout=budget.timeout,
                s3={"addressing_style": "virtual" if style == "virtual" else "path"} if style else None,
            ),
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, action: str, key: str, exc: Exception) -> StorageError:
        return storage_error(
            action, f"s3://{self.bucket}/{self._key(key)}", exc, config=self.config, writing=action != "read"
        )

    def get(self, key: str) -> Blob | None:
        try:
            resp = self._client.get_object(Bucket=self.bucket, Key=self._key(key))
            return Blob(resp["Body"].read(), resp["ETag"])  # the body streams: it can fail too
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise self._fail("read", key, exc) from exc
        except (botocore.exceptions.BotoCoreError, OSError) as exc:
            raise self._fail("read", key, exc) from exc

    def put(self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False) -> str:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key), "Body": data}
        if if_match is not None:
            kwargs["IfMatch"] = if_match
        if if_none_match:
            kwargs["IfNoneMatch"] = "*"
        for _ in range(self.config.budget.attempts):
            try:
                resp = self._client.put_object(**kwargs)
            except botocore.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in _LOST_RACE:
                    raise self._fail("write", key, exc) from exc
                lost = exc
            except (botocore.exceptions.BotoCoreError, OSError) as exc:
                raise self._fail("write", key, exc) from exc
            else:
                return str(resp["ETag"])
            landed = self._landed(key, data, if_match, lost)
            if landed is not None:
                return landed
        raise self._fail("write", key, lost) from lost  # the condition holds, yet is refused

    def _landed(self, key: str, data: bytes, if_match: str | None, lost: Exception) -> str | None:
        """After a conditional put was refused (412, or 409 for one in flight): the entity tag
        of this very put when it landed (a retry of a put whose answer was lost meets it), None
        when the condition holds now (a refusal it did not earn: the put may be made again, as
        if it came later), and :class:`PreconditionFailed` when the object really changed."""
        current = self.get(key)
        retried = bool(getattr(lost, "response", {}).get("ResponseMetadata", {}).get("RetryAttempts"))
        if retried and current is not None and current.data == data:
            return current.etag
        holds = current is None if if_match is None else current is not None and current.etag == if_match
        if not holds:
            raise PreconditionFailed(f"{key} changed or exists already") from lost
        return None

    def upload(self, key: str, path: str) -> None:
        try:
            with open(path, "rb") as body:  # one PUT, its body streamed from the file
                self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=body)
        except botocore.exceptions.ClientError as exc:
            raise self._fail("write", key, exc) from exc
        except (botocore.exceptions.BotoCoreError, OSError) as exc:
            raise self._fail("write", key, exc) from exc

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        if if_match is not None:
            current = self.get(key)
            if current is None or current.etag != if_match:
                raise PreconditionFailed(f"{key} changed since it was read")
        try:
            self._client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, OSError) as exc:
            raise self._fail("delete", key, exc) from exc

    def list(self, prefix: str) -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        strip = len(self.prefix) + 1 if self.prefix else 0
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
                for obj in page.get("Contents", []):
                    yield obj["Key"][strip:]
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, OSError) as exc:
            raise self._fail("list", prefix, exc) from exc
