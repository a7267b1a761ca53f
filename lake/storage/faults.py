"""Storage faults, mapped once at the storage boundary into :class:`lake.errors.StorageError`.

Each client fails in its own words: delta-rs raises ``OSError`` ("Kernel error -> Generic S3
error ..." over several coloured lines) or :class:`deltalake.exceptions.DeltaError`, pyarrow
raises ``OSError`` (its ``ArrowIOError``), polars raises ``OSError`` subclasses (and, for some
object-store failures, ``ComputeError``), boto3 raises botocore errors (mapped in
:mod:`lake.storage.s3`, the only module that imports it). Every one becomes a ``StorageError``
that names the operation, the object and the cause, with ``raise ... from exc`` so the original
stays attached, and a hint that says what to check.

Not faults, and passed through: :class:`deltalake.exceptions.CommitFailedError` (a lost race:
the caller maps it to a retry) and :class:`~deltalake.exceptions.TableNotFoundError` (an
answer). Credentials never reach a message: the secret key and session token are masked
(those given and those :mod:`lake.storage.credentials` resolved), and so are terminal colours
(delta-rs colours its arrows even into a pipe).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import polars as pl
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from lake.errors import LakeError, StorageError
from lake.storage.credentials import NO_CREDENTIALS_HINT, handed_out
from lake.storage.options import BUDGET_OPTIONS, ENV_PREFIX, SECRET_OPTIONS

if TYPE_CHECKING:
    from lake.storage.options import StorageConfig

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NESTED = re.compile(r"\s*(?:\n|↳)\s*")  # delta-rs and polars put each nested cause on its own line
_NUMBERED = re.compile(r"^\d+:\s*")  # polars' "Caused by:\n    0: ...\n    1: ..."
_ECHOED = re.compile(
    r"(?i)((?:aws_)?(?:secret_access_key|session_token|secret_key)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"
)
# How each client says it gave up waiting (object_store, boto3, pyarrow/curl). Not a bare
# "timeout": delta-rs echoes its "retry_timeout" setting in every error.
_TIMEOUT = re.compile(
    r"(?i)timed out|(?:read|connect) timeout on|timeout was reached|too slow|timeout\w*error"
)
_CREDENTIALS = re.compile(
    r"(?i)access ?denied|forbidden|\b403\b|invalidaccesskeyid|signaturedoesnotmatch|expiredtoken"
    r"|invalidtoken|credential"
)
_METADATA = re.compile(r"169\.254\.169\.254|169\.254\.170\.2|instance metadata|imds", re.IGNORECASE)
_NO_BUCKET = re.compile(r"(?i)nosuchbucket|bucket (?:does not|doesn't) exist")
_MAX_CAUSE = 1000
# An answer whose body the connection lost on the way: object_store retries that for a success,
# but not for an error answer (the 404 of a table's _last_checkpoint, which every load asks for).
_CUT = re.compile(r"(?i)error reading a body|end of file before message length|connection reset")


def cut_short(exc: StorageError) -> bool:
    """Whether ``exc`` is an answer cut short on the way (worth one more try)."""
    return bool(_CUT.search(f"{exc.cause or ''} {exc.message}"))


def describe(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """The cause as one line: terminal colours stripped, nested causes joined by ': ', secrets
    masked, long texts cut."""
    text = _ANSI.sub("", str(exc))
    parts = [_NUMBERED.sub("", p.strip()) for p in _NESTED.split(text)]
    line = ": ".join(p for p in parts if p and p != "Caused by:")
    line = re.sub(r"\s+", " ", line).strip() or type(exc).__name__
    line = mask(line, secrets)
    return line if len(line) <= _MAX_CAUSE else line[: _MAX_CAUSE - 1] + "…"


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with terminal colours stripped and each secret, and anything echoed as
    ``secret_access_key=...``, replaced."""
    text = _ANSI.sub("", text)
    for secret in {s for s in (*secrets, *handed_out()) if s}:
        text = text.replace(secret, "***")
    return _ECHOED.sub(r"\1***", text)


def env_secrets() -> list[str]:
    """The secrets the environment holds, and every one this process resolved (a profile's,
    SSO's, ...): what no message of the CLI may show."""
    return [*(os.environ[k] for k in SECRET_OPTIONS if os.environ.get(k)), *handed_out()]


def hint(exc: BaseException, cause: str, *, writing: bool = False) -> str:
    """What a person should check, judged from the cause."""
    names = ", ".join(BUDGET_OPTIONS)
    if isinstance(exc, TimeoutError) or _TIMEOUT.search(f"{type(exc).__name__} {cause}"):
        advice = (
            "the object store did not answer in time: check that the endpoint is up and reachable, "
            f"or allow more time with the storage options {names} (for the CLI: {ENV_PREFIX}TIMEOUT, ...)"
        )
    elif _METADATA.search(cause):  # a client that looked for credentials by itself
        advice = f"no AWS credentials reached the client: {NO_CREDENTIALS_HINT}"
    elif isinstance(exc, PermissionError) or _CREDENTIALS.search(f"{type(exc).__name__} {cause}"):
        advice = (
            "the object store refused the request: check the credentials (AWS_PROFILE, or "
            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN) and the permissions "
            "they carry; temporary keys may have expired"
        )
    elif _NO_BUCKET.search(cause):
        advice = "check that the bucket exists and AWS_ENDPOINT_URL points at the right server"
    else:
        advice = "the connection to the object store failed: check AWS_ENDPOINT_URL and the network"
    if writing:
        advice += "; a write may have landed before the failure: see 'lake log' before running it again"
    return advice


def storage_error(
    operation: str,
    obj: str,
    exc: BaseException,
    *,
    config: StorageConfig | None = None,
    writing: bool = False,
) -> StorageError:
    """The :class:`StorageError` for ``exc``, raised by a client while it did ``operation`` on
    ``obj`` (e.g. "read the Delta table", "s3://bucket/lake/orders"). Raise it ``from exc``."""
    secrets = [*(config.secrets() if config is not None else ()), *env_secrets()]
    cause = describe(exc, secrets)
    return StorageError(
        f"could not {operation} {obj}: {cause}",
        hint=hint(exc, cause, writing=writing),
        operation=operation,
        object=obj,
        cause=cause,
    )


def unmapped(exc: OSError) -> StorageError:
    """An ``OSError`` that reached the command line without being mapped below it."""
    secrets = env_secrets()
    cause = describe(exc, secrets)
    return StorageError(f"storage I/O failed: {cause}", hint=hint(exc, cause), cause=cause)


def is_fault(exc: BaseException) -> bool:
    """Whether ``exc`` is a storage failure (rather than an answer, a lost race or a bug)."""
    if isinstance(exc, LakeError | CommitFailedError | TableNotFoundError):
        return False
    if isinstance(exc, OSError | DeltaError):
        return True
    return isinstance(exc, pl.exceptions.ComputeError) and "object-store" in str(exc).lower()


@contextmanager
def storage_errors(
    operation: str, obj: str, config: StorageConfig | None = None, *, writing: bool = False
) -> Iterator[None]:
    """Turn storage faults raised inside the block into :class:`StorageError`."""
    try:
        yield
    except Exception as exc:
        if not is_fault(exc):
            raise
        raise storage_error(operation, obj, exc, config=config, writing=writing) from exc
