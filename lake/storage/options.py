"""Where a repository lives, and the options each engine needs to reach it.

One :class:`StorageConfig` is parsed from the URI and the storage options, validated once, and
then rendered for each consumer: delta-rs, polars (object_store keys), pyarrow's filesystem
and boto3. delta-rs accepts unknown option names silently, so a typo would be lost there; we
refuse unknown names here instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.fs as pafs

from lake.errors import InvalidStorageOptionError, UsageError

# Accepted names (case-insensitive), as delta-rs spells them.
S3_OPTIONS = frozenset(
    {
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_ALLOW_HTTP",
        "TIMEOUT",
        "MAX_RETRIES",
        "RETRY_TIMEOUT",
    }
)
_FROM_ENV = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


@dataclass(frozen=True)
class StorageConfig:
    """A repository location: a local directory, or a bucket and prefix on an S3 API."""

    uri: str
    scheme: str  # "file" | "s3"
    root: str  # absolute local path, or "bucket/prefix" for S3
    bucket: str | None = None
    prefix: str = ""
    options: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, uri: str, storage_options: Mapping[str, str] | None = None) -> StorageConfig:
        parsed = urlparse(uri)
        if parsed.scheme in ("", "file"):
            if storage_options:
                raise InvalidStorageOptionError(
                    f"storage options {sorted(storage_options)} do not apply to a local path ({uri})"
                )
            path = Path(parsed.path if parsed.scheme == "file" else uri).expanduser().resolve()
            return cls(uri=str(path), scheme="file", root=str(path))
        if parsed.scheme in ("s3", "s3a"):
            bucket = parsed.netloc
            if not bucket:
                raise UsageError(f"{uri} names no bucket; write s3://bucket/prefix")
            prefix = parsed.path.strip("/")
            opts = _s3_options(storage_options or {})
            root = f"{bucket}/{prefix}" if prefix else bucket
            return cls(uri=f"s3://{root}", scheme="s3", root=root, bucket=bucket, prefix=prefix, options=opts)
        raise UsageError(f"unsupported repository URI {uri!r}: use a local path or s3://bucket/prefix")

    def join(self, *parts: str) -> str:
        """The URI of a path below the repository root."""
        rel = "/".join(p.strip("/") for p in parts if p.strip("/"))
        return f"{self.uri}/{rel}" if rel else self.uri

    def delta_options(self) -> dict[str, str] | None:
        return dict(self.options) if self.scheme == "s3" else None

    def polars_options(self) -> dict[str, str] | None:
        if self.scheme != "s3":
            return None
        return {k.lower(): v for k, v in self.options.items() if k.startswith("AWS_")}

    def arrow_filesystem(self) -> pafs.FileSystem:
        if self.scheme != "s3":
            return pafs.LocalFileSystem()
        opts = self.options
        endpoint = opts.get("AWS_ENDPOINT_URL")
        scheme = "https"
        if endpoint is not None:
            parsed = urlparse(endpoint)
            scheme = parsed.scheme or "https"
            endpoint = parsed.netloc or endpoint
        return pafs.S3FileSystem(
            access_key=opts.get("AWS_ACCESS_KEY_ID"),
            secret_key=opts.get("AWS_SECRET_ACCESS_KEY"),
            session_token=opts.get("AWS_SESSION_TOKEN"),
            region=opts.get("AWS_REGION", "us-east-1"),
            endpoint_override=endpoint,
            scheme=scheme,
        )

    def arrow_path(self, uri: str) -> str:
        """A URI below this repository as the path its pyarrow filesystem expects."""
        return uri.removeprefix("s3://") if self.scheme == "s3" else uri


def _s3_options(given: Mapping[str, str]) -> dict[str, str]:
    opts: dict[str, str] = {}
    for name, value in given.items():
        key = name.upper()
        if key not in S3_OPTIONS:
            raise InvalidStorageOptionError(
                f"unknown storage option {name!r}",
                hint=f"accepted names: {', '.join(sorted(S3_OPTIONS))}",
            )
        opts[key] = str(value)
    for key in _FROM_ENV:
        if key not in opts and os.environ.get(key):
            opts[key] = os.environ[key]
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    opts.setdefault("AWS_REGION", region or "us-east-1")
    if opts.get("AWS_ENDPOINT_URL", "").startswith("http://"):
        opts.setdefault("AWS_ALLOW_HTTP", "true")
    return opts
