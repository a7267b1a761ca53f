"""Where a repository lives, and the options each engine needs to reach it.

One :class:`StorageConfig` is parsed from the URI and the storage options, validated once, and
then rendered for each consumer: delta-rs, polars (object_store keys), pyarrow's filesystem
and boto3. delta-rs accepts unknown option names silently, so a typo would be lost there; we
refuse unknown names here instead.

Every client gets the same :class:`Budget` of timeouts and retries, so that a hung endpoint
fails in about half a minute whichever client meets it (see "Storage faults" in
docs/architecture.md).
"""

from __future__ import annotations

import math
import os
import re
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
        "CONNECT_TIMEOUT",
        "TIMEOUT",
        "MAX_RETRIES",
        "RETRY_TIMEOUT",
    }
)
_FROM_ENV = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
# Values that must never appear in a message (see lake.storage.faults).
SECRET_OPTIONS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
# The budget's options; where no storage option sets one, LAKE_STORAGE_<NAME> may (the CLI's way).
BUDGET_OPTIONS = ("CONNECT_TIMEOUT", "TIMEOUT", "MAX_RETRIES", "RETRY_TIMEOUT")
ENV_PREFIX = "LAKE_STORAGE_"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|min)?\s*$", re.IGNORECASE)
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0}


@dataclass(frozen=True)
class Budget:
    """How long any one storage request may take, and how often it is tried.

    ``connect_timeout``: to open a connection. ``timeout``: one attempt of one request (boto3 and
    pyarrow: the longest wait for the next bytes; delta-rs and polars: the whole request).
    ``max_retries``: retries after the first attempt. ``retry_timeout``: no retry starts later
    than this after the first attempt. Seconds. The defaults fail a hung endpoint in about 30 s.
    """

    connect_timeout: float = 5.0
    timeout: float = 10.0
    max_retries: int = 2
    retry_timeout: float = 30.0

    @property
    def attempts(self) -> int:
        """Attempts per request for the clients that count attempts (boto3, pyarrow): at most
        ``max_retries + 1``, and no more than can start within ``retry_timeout``."""
        return max(1, min(self.max_retries + 1, math.ceil(self.retry_timeout / self.timeout)))

    def object_store(self) -> dict[str, str]:
        """The budget in object_store's keys, as delta-rs takes them."""
        return {
            "connect_timeout": _ms(self.connect_timeout),
            "timeout": _ms(self.timeout),
            "max_retries": str(self.attempts - 1),
            "retry_timeout": _ms(self.retry_timeout),
        }

    def polars(self) -> dict[str, str | int]:
        """The budget in polars' keys. A polars scan that fails tries the whole fetch a second
        time, so each of its two rounds gets half the attempts and half the retry budget."""
        return {
            "connect_timeout": _ms(self.connect_timeout),
            "timeout": _ms(self.timeout),
            "max_retries": max(0, self.attempts // 2 - 1),
            "retry_timeout_ms": max(1, round(self.retry_timeout * 500)),
        }


def _ms(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


@dataclass(frozen=True)
class StorageConfig:
    """A repository location: a local directory, or a bucket and prefix on an S3 API."""

    uri: str
    scheme: str  # "file" | "s3"
    root: str  # absolute local path, or "bucket/prefix" for S3
    bucket: str | None = None
    prefix: str = ""
    options: Mapping[str, str] = field(default_factory=dict)  # the AWS_* options, as given
    budget: Budget = field(default_factory=Budget)

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
            budget = _budget(opts)
            root = f"{bucket}/{prefix}" if prefix else bucket
            return cls(
                uri=f"s3://{root}",
                scheme="s3",
                root=root,
                bucket=bucket,
                prefix=prefix,
                options=opts,
                budget=budget,
            )
        raise UsageError(f"unsupported repository URI {uri!r}: use a local path or s3://bucket/prefix")

    def join(self, *parts: str) -> str:
        """The URI of a path below the repository root."""
        rel = "/".join(p.strip("/") for p in parts if p.strip("/"))
        return f"{self.uri}/{rel}" if rel else self.uri

    def secrets(self) -> list[str]:
        """The option values no message may show."""
        return [self.options[k] for k in SECRET_OPTIONS if self.options.get(k)]

    def delta_options(self) -> dict[str, str] | None:
        if self.scheme != "s3":
            return None
        return {**self.options, **self.budget.object_store()}

    def polars_options(self) -> dict[str, str | int] | None:
        if self.scheme != "s3":
            return None
        return {**{k.lower(): v for k, v in self.options.items()}, **self.budget.polars()}

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
            connect_timeout=self.budget.connect_timeout,
            request_timeout=self.budget.timeout,  # on Linux: abort below 1 byte/s for this long
            retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=self.budget.attempts),
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
    for key in BUDGET_OPTIONS:
        if key not in opts and os.environ.get(ENV_PREFIX + key):
            opts[key] = os.environ[ENV_PREFIX + key]
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    opts.setdefault("AWS_REGION", region or "us-east-1")
    if opts.get("AWS_ENDPOINT_URL", "").startswith("http://"):
        opts.setdefault("AWS_ALLOW_HTTP", "true")
    return opts


def _budget(opts: dict[str, str]) -> Budget:
    """Take the budget's options out of ``opts`` (leaving the AWS_* ones) and check them."""
    given = {key: opts.pop(key) for key in BUDGET_OPTIONS if key in opts}
    default = Budget()
    retries = given.get("MAX_RETRIES")
    if retries is not None and not retries.strip().isdigit():
        raise InvalidStorageOptionError(
            f"storage option MAX_RETRIES={retries!r} is not a whole number of retries (0 or more)"
        )
    return Budget(
        connect_timeout=_seconds("CONNECT_TIMEOUT", given.get("CONNECT_TIMEOUT"), default.connect_timeout),
        timeout=_seconds("TIMEOUT", given.get("TIMEOUT"), default.timeout),
        max_retries=default.max_retries if retries is None else int(retries),
        retry_timeout=_seconds("RETRY_TIMEOUT", given.get("RETRY_TIMEOUT"), default.retry_timeout),
    )


def _seconds(name: str, value: str | None, default: float) -> float:
    """A duration: '10' or '10s' (seconds), '500ms', '2m'."""
    if value is None:
        return default
    found = _DURATION.match(value)
    seconds = float(found.group(1)) * _UNIT[(found.group(2) or "s").lower()] if found else 0.0
    if seconds <= 0:
        raise InvalidStorageOptionError(
            f"storage option {name}={value!r} is not a duration",
            hint="write seconds ('10', '10s'), milliseconds ('500ms') or minutes ('2m'); more than 0",
        )
    return seconds
