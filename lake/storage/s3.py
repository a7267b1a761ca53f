"""S3 (or any S3-compatible server) as an object store. The only module that imports boto3.

Compare-and-swap uses S3 conditional writes: ``If-None-Match: *`` to create, ``If-Match: <etag>``
to replace. A lost race answers 412 PreconditionFailed (or 409 ConditionalRequestConflict while
another conditional write is in flight); both become :class:`PreconditionFailed`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import botocore.config
import botocore.exceptions

from lake.errors import StorageError
from lake.storage.base import Blob, PreconditionFailed
from lake.storage.faults import storage_error

if TYPE_CHECKING:
    from lake.storage.options import StorageConfig

_LOST_RACE = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}
_MISSING = {"NoSuchKey", "404", "NotFound"}


class S3Store:
    def __init__(self, config: StorageConfig) -> None:
        assert config.bucket is not None
        self.uri = config.uri
        self.bucket = config.bucket
        self.prefix = config.prefix
        self.config = config
        opts = config.options
        budget = config.budget
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=opts.get("AWS_ENDPOINT_URL"),
            aws_access_key_id=opts.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=opts.get("AWS_SECRET_ACCESS_KEY"),
            aws_session_token=opts.get("AWS_SESSION_TOKEN"),
            region_name=opts.get("AWS_REGION", "us-east-1"),
            config=botocore.config.Config(
                retries={"total_max_attempts": budget.attempts, "mode": "standard"},
                connect_timeout=budget.connect_timeout,
                read_timeout=budget.timeout,
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
        try:
            resp = self._client.put_object(**kwargs)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _LOST_RACE:
                raise PreconditionFailed(f"{key} changed or exists already") from exc
            raise self._fail("write", key, exc) from exc
        except (botocore.exceptions.BotoCoreError, OSError) as exc:
            raise self._fail("write", key, exc) from exc
        return str(resp["ETag"])

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
