"""Where a repository lives, and the options each engine needs to reach it.

One :class:`StorageConfig` is parsed from the URI and the storage options, validated once, and
then rendered for each consumer: delta-rs, polars (object_store keys), pyarrow's filesystem
and boto3. delta-rs accepts unknown option names silently, so a typo would be lost there; we
refuse unknown names here instead.

Every client gets the same :class:`Budget` of timeouts and retries, so that a hung endpoint
fails in about half a minute whichever client meets it (see "Storage faults" in
docs/architecture.md), and the same credentials, region and endpoint, resolved once through
botocore's chain by :class:`lake.storage.credentials.AwsAccess` (see "Credentials" there).
Options are rendered afresh for each client, so refreshed credentials reach the next one.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import pyarrow.fs as pafs

from lake.errors import InvalidStorageOptionError, UsageError
from lake.storage.credentials import AwsAccess, parse_bool

if TYPE_CHECKING:
    from botocore.session import Session as BotocoreSession

# Accepted names (case-insensitive), as delta-rs spells them. AWS_DEFAULT_REGION is read as
# AWS_REGION. Where an option is not given, botocore's chain decides (environment, profile).
S3_OPTIONS = frozenset(
    {
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_VIRTUAL_HOSTED_STYLE_REQUEST",
        "AWS_ALLOW_HTTP",
        "CONNECT_TIMEOUT",
        "TIMEOUT",
        "MAX_RETRIES",
        "RETRY_TIMEOUT",
    }
)
_BOOLEANS = ("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", "AWS_ALLOW_HTTP")
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
    # the AWS_* options, as given (names upper-cased); never shown, they may hold secrets
    options: Mapping[str, str] = field(default_factory=dict, repr=False)
    budget: Budget = field(default_factory=Budget)
    # credentials, region and endpoint for every client (S3 only), resolved on first use
    aws: AwsAccess | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.scheme == "s3" and self.aws is None:
            object.__setattr__(self, "aws", AwsAccess(self.options, self.uri))

    @classmethod
    def parse(cls, uri: str, storage_options: Mapping[str, str] | None = None) -> StorageConfig:
        parsed = urlparse(uri)
        if parsed.scheme in ("", "file"):
            if storage_options:
                raise InvalidStorageOptionError(
                    f"storage options {sorted(storage_options)} do not apply to a local path ({uri})",
                    hint="give them with an s3://bucket/prefix repository, or drop them for a local one",
                )
            path = Path(parsed.path if parsed.scheme == "file" else uri).expanduser().resolve()
            return cls(uri=str(path), scheme="file", root=str(path))
        if parsed.scheme in ("s3", "s3a"):
            if "@" in parsed.netloc:  # s3://KEY:SECRET@bucket: never echoed, never used
                raise UsageError(
                    f"the repository URI s3://***@{parsed.hostname or ''}{parsed.path} carries credentials "
                    "before its bucket",
                    hint="give them as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), "
                    "never in the URI: it lands in shell history and logs",
                )
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
        """The values no message may show: secrets given as options, and those resolved."""
        given = [self.options[k] for k in SECRET_OPTIONS if self.options.get(k)]
        return [*given, *(self.aws.secrets() if self.aws is not None else ())]

    def delta_options(self) -> dict[str, str] | None:
        """delta-rs's storage options: the credentials as they are now, and the budget."""
        if self.aws is None:
            return None
        return {**_object_store(self.aws), **self.budget.object_store()}

    def polars_options(self) -> dict[str, str | int] | None:
        """polars' storage options (object_store keys, lower case), as for delta-rs."""
        if self.aws is None:
            return None
        return {**{k.lower(): v for k, v in _object_store(self.aws).items()}, **self.budget.polars()}

    def arrow_filesystem(self) -> pafs.FileSystem:
        """A pyarrow filesystem with the credentials as they are now: build one per use."""
        if self.aws is None:
            return pafs.LocalFileSystem()
        aws = self.aws
        keys = aws.keys()
        endpoint, scheme = aws.endpoint, "https"
        if endpoint is not None:
            parsed = urlparse(endpoint)
            scheme = parsed.scheme or "https"
            endpoint = parsed.netloc or endpoint
        return pafs.S3FileSystem(
            access_key=keys.access_key,
            secret_key=keys.secret_key,
            session_token=keys.token,
            region=aws.region,
            endpoint_override=endpoint,
            scheme=scheme,
            force_virtual_addressing=bool(aws.virtual_hosted),
            connect_timeout=self.budget.connect_timeout,
            request_timeout=self.budget.timeout,  # on Linux: abort below 1 byte/s for this long
            retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=self.budget.attempts),
        )

    def botocore_session(self) -> BotocoreSession:
        """The botocore session boto3 clients are built on: it holds the same credentials
        object, so boto3 refreshes them as the others are refreshed. S3 only."""
        if self.aws is None:
            raise UsageError(f"{self.uri} is a local path: it has no AWS session")
        return self.aws.session()

    def boto3_options(self) -> dict[str, str | None]:
        """What a boto3 S3 client is built with besides its session and the budget."""
        if self.aws is None:
            raise UsageError(f"{self.uri} is a local path: it has no S3 client")
        hosted = self.aws.virtual_hosted
        return {
            "endpoint_url": self.aws.endpoint,
            "region_name": self.aws.region,
            "addressing_style": None if hosted is None else ("virtual" if hosted else "path"),
        }

    def arrow_path(self, uri: str) -> str:
        """A URI below this repository as the path its pyarrow filesystem expects."""
        return uri.removeprefix("s3://") if self.scheme == "s3" else uri


def _object_store(aws: AwsAccess) -> dict[str, str]:
    """The AWS_* options of delta-rs and polars (object_store), rendered now: fresh keys."""
    keys = aws.keys()
    opts = {
        "AWS_ACCESS_KEY_ID": keys.access_key,
        "AWS_SECRET_ACCESS_KEY": keys.secret_key,
        "AWS_REGION": aws.region,
        "AWS_ALLOW_HTTP": "true" if aws.allow_http else "false",
    }
    if keys.token:
        opts["AWS_SESSION_TOKEN"] = keys.token
    elif os.environ.get("AWS_SESSION_TOKEN"):
        # object_store reads the environment too, and would sign these keys with that token
        # (the token of other keys: a profile named in the options overrides the environment)
        opts["AWS_SESSION_TOKEN"] = ""
    if aws.endpoint is not None:
        opts["AWS_ENDPOINT_URL"] = aws.endpoint
    if aws.virtual_hosted is not None:
        opts["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] = "true" if aws.virtual_hosted else "false"
    return opts


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
    default_region = opts.pop("AWS_DEFAULT_REGION", None)
    if default_region is not None:
        if opts.get("AWS_REGION", default_region) != default_region:
            raise InvalidStorageOptionError(
                f"storage options AWS_REGION={opts['AWS_REGION']!r} and "
                f"AWS_DEFAULT_REGION={default_region!r} disagree",
                hint="give the region once, as AWS_REGION",
            )
        opts["AWS_REGION"] = default_region
    has_key, has_secret = bool(opts.get("AWS_ACCESS_KEY_ID")), bool(opts.get("AWS_SECRET_ACCESS_KEY"))
    if has_key != has_secret or (opts.get("AWS_SESSION_TOKEN") and not has_key):
        missing = "AWS_SECRET_ACCESS_KEY" if has_key else "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        raise InvalidStorageOptionError(
            f"storage options give part of a key: {missing} missing",
            hint="give AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY together (and AWS_SESSION_TOKEN "
            "for temporary keys), or none of them and let AWS_PROFILE or the environment supply them",
        )
    for key in _BOOLEANS:
        if key in opts:
            parse_bool(key, opts[key])
    for key in BUDGET_OPTIONS:
        if key not in opts and os.environ.get(ENV_PREFIX + key):
            opts[key] = os.environ[ENV_PREFIX + key]
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
