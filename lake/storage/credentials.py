"""AWS credentials and settings, resolved once through botocore's chain for every client.

boto3 finds credentials along a chain (environment, a named profile from the shared files, SSO,
web identity, ``credential_process``, container and instance metadata); delta-rs, polars and
pyarrow each have their own, shorter chain, and delta-rs and polars ignore profiles: with only
``AWS_PROFILE`` set they asked instance metadata (169.254.169.254) and failed. So the lake asks
botocore once, per repository, and hands the very same keys to all four clients.

Refreshable credentials (SSO, assume-role, web identity, ``credential_process``) stay
botocore's ``RefreshableCredentials``: :meth:`AwsAccess.keys` asks them for frozen keys each
time a client is handed options, and botocore fetches new ones when fewer than 15 minutes are
left (it insists below 10). boto3 shares the same object, so it refreshes the same way.

Region, endpoint and addressing style follow the same rule: a storage option, else what
botocore reads (``AWS_REGION``/``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL``, the profile's
``region``, ``endpoint_url`` and ``s3.addressing_style``), so that no client decides alone.

botocore is imported when a repository on S3 first needs it, never at import time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lake.errors import InvalidStorageOptionError, LakeError, StorageError

if TYPE_CHECKING:
    from botocore.credentials import Credentials
    from botocore.session import Session

DEFAULT_REGION = "us-east-1"
NO_CREDENTIALS_HINT = (
    "set AWS_PROFILE to a profile of your AWS config or credentials file (after 'aws sso login' "
    "for SSO), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary "
    "keys), in the environment or as storage options; on EC2, ECS or EKS, check the role attached"
)
# Secrets this process has handed to a client: no message may show them (lake.storage.faults).
_HANDED_OUT: set[str] = set()


def handed_out() -> list[str]:
    """Every secret key and session token resolved in this process so far."""
    return sorted(_HANDED_OUT)


@dataclass(frozen=True)
class Keys:
    """One set of credentials, as every client gets it. Its repr shows the key id only."""

    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class _Resolved:
    session: Session
    credentials: Credentials
    region: str
    endpoint: str | None
    virtual_hosted: bool | None  # None: each client's default for the endpoint


class AwsAccess:
    """The credentials and settings of one repository on S3, resolved on first use.

    ``options`` are the storage options as given (upper-case names; checked by
    :mod:`lake.storage.options`). Explicit keys win, then a profile named in the options, then
    botocore's chain (where ``AWS_PROFILE`` from the environment names the profile).
    """

    def __init__(self, options: Mapping[str, str], where: str) -> None:
        self._options = dict(options)
        self._where = where
        self._lock = threading.Lock()
        self._resolved: _Resolved | None = None

    def __getstate__(self) -> dict[str, Any]:
        """What goes to another process (a Spark executor writing for the driver): the options,
        with the credentials, region and endpoint resolved here, so that it reaches the same
        bucket as the same principal. (Temporary credentials are valid there until they expire.)"""
        keys = self.keys()
        resolved = {
            "AWS_ACCESS_KEY_ID": keys.access_key,
            "AWS_SECRET_ACCESS_KEY": keys.secret_key,
            "AWS_SESSION_TOKEN": keys.token or "",
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint or "",
            "AWS_ALLOW_HTTP": "true" if self.allow_http else "",
        }
        if self.virtual_hosted is not None:
            resolved["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] = str(self.virtual_hosted).lower()
        options = {k: v for k, v in self._options.items() if k != "AWS_PROFILE"}
        return {"options": {**options, **{k: v for k, v in resolved.items() if v}}, "where": self._where}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["options"], state["where"])  # type: ignore[misc]

    def __repr__(self) -> str:
        profile = self._options.get("AWS_PROFILE")
        return f"AwsAccess({self._where!r}{f', profile={profile!r}' if profile else ''})"

    # -- what the clients are handed ---------------------------------------------------------------
    def session(self) -> Session:
        """The botocore session whose credentials every boto3 client of this repository uses."""
        return self._resolve().session

    def keys(self) -> Keys:
        """The credentials now: refreshed first when they expire soon. Call it for each client
        handed options, and keep nothing it returns longer than that client."""
        resolved = self._resolve()
        try:
            frozen = resolved.credentials.get_frozen_credentials()
        except Exception as exc:  # botocore's refresh failed (an SSO login that expired, ...)
            raise self._failed("refresh the AWS credentials", exc) from exc
        if not frozen.access_key or not frozen.secret_key:
            raise self._none_found()
        keys = Keys(frozen.access_key, frozen.secret_key, frozen.token or None)
        _HANDED_OUT.update(s for s in (keys.secret_key, keys.token) if s)
        return keys

    @property
    def region(self) -> str:
        return self._resolve().region

    @property
    def endpoint(self) -> str | None:
        """The S3 endpoint URL, or None for AWS itself."""
        return self._resolve().endpoint

    @property
    def virtual_hosted(self) -> bool | None:
        return self._resolve().virtual_hosted

    @property
    def allow_http(self) -> bool:
        given = self._options.get("AWS_ALLOW_HTTP") or os.environ.get("AWS_ALLOW_HTTP")
        if given is not None:
            return parse_bool("AWS_ALLOW_HTTP", given)
        return (self.endpoint or "").startswith("http://")

    def secrets(self) -> list[str]:
        """The secrets given as options and every one resolved so far (never resolving for this:
        a message about a failed resolution has no secret to hide)."""
        given = [
            self._options[k] for k in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN") if self._options.get(k)
        ]
        return [*given, *handed_out()]

    # -- resolving, once ----------------------------------------------------------------------------
    def _resolve(self) -> _Resolved:
        resolved = self._resolved
        if resolved is not None:
            return resolved
        with self._lock:
            if self._resolved is None:
                try:
                    self._resolved = self._chain()
                except LakeError:  # no credentials, or an option (from the environment) refused
                    raise
                except Exception as exc:  # botocore's: a profile that is missing or broken, ...
                    raise self._failed("find AWS credentials", exc) from exc
            return self._resolved

    def _chain(self) -> _Resolved:
        import botocore.session
        from botocore.configprovider import ConfiguredEndpointProvider

        opts = self._options
        session = botocore.session.Session(profile=opts.get("AWS_PROFILE"))
        if opts.get("AWS_ACCESS_KEY_ID"):
            session.set_credentials(
                opts["AWS_ACCESS_KEY_ID"], opts["AWS_SECRET_ACCESS_KEY"], opts.get("AWS_SESSION_TOKEN")
            )
        credentials = session.get_credentials()
        if credentials is None:
            raise self._none_found()
        frozen = credentials.get_frozen_credentials()  # a source that fails, fails here
        if not frozen.access_key or not frozen.secret_key:
            raise self._none_found()
        _HANDED_OUT.update(s for s in (frozen.secret_key, frozen.token) if s)
        scoped = session.get_scoped_config()  # the profile's section (ProfileNotFound if absent)
        region = (
            opts.get("AWS_REGION")
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or session.get_config_variable("region")
            or DEFAULT_REGION
        )
        endpoint = (
            opts.get("AWS_ENDPOINT_URL")
            or ConfiguredEndpointProvider(
                full_config=session.full_config, scoped_config=scoped, client_name="s3"
            ).provide()
        )
        virtual = opts.get("AWS_VIRTUAL_HOSTED_STYLE_REQUEST") or os.environ.get(
            "AWS_VIRTUAL_HOSTED_STYLE_REQUEST"
        )
        if virtual is not None:
            hosted: bool | None = parse_bool("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", virtual)
        else:
            style = (scoped.get("s3") or {}).get("addressing_style")
            hosted = {"virtual": True, "path": False}.get(str(style)) if isinstance(style, str) else None
        return _Resolved(
            session=session,
            credentials=credentials,
            region=str(region),
            endpoint=str(endpoint) if endpoint else None,
            virtual_hosted=hosted,
        )

    def _profile(self) -> str | None:
        return self._options.get("AWS_PROFILE") or os.environ.get("AWS_PROFILE")

    def _none_found(self) -> StorageError:
        return StorageError(
            f"no AWS credentials found for {self._where}",
            hint=NO_CREDENTIALS_HINT,
            operation="find AWS credentials",
            object=self._where,
            cause="no credentials in the environment, the AWS config files, or instance metadata",
        )

    def _failed(self, operation: str, exc: BaseException) -> StorageError:
        cause = _one_line(str(exc) or type(exc).__name__)
        profile = self._profile()
        name = type(exc).__name__
        if name == "ProfileNotFound":
            return StorageError(
                f"AWS profile {profile!r} is not in the AWS config or credentials files ({self._where})",
                hint=f"profiles found: {', '.join(_profiles()) or 'none'}; set AWS_PROFILE to one of them, "
                f"or create it ('aws configure --profile {profile}')",
                operation=operation,
                object=self._where,
                cause=cause,
            )
        hint = NO_CREDENTIALS_HINT
        if "sso" in (name + cause).lower() or "token" in name.lower():
            hint = f"log in again ('aws sso login{f' --profile {profile}' if profile else ''}'), then retry"
        elif name in ("CredentialRetrievalError", "PartialCredentialsError", "InvalidConfigError"):
            hint = "fix the credentials of that profile in the AWS config or credentials file, then retry"
        where = f" of profile {profile!r}" if profile else ""
        return StorageError(
            f"could not {operation}{where} for {self._where}: {cause}",
            hint=hint,
            operation=operation,
            object=self._where,
            cause=cause,
        )


def _profiles() -> list[str]:
    import botocore.session

    try:
        return sorted(botocore.session.Session().available_profiles)
    except Exception:  # the files themselves are broken: the error already says so
        return []


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    for secret in _HANDED_OUT:
        line = line.replace(secret, "***")
    return line if len(line) <= 1000 else line[:999] + "…"


TRUE = frozenset({"true", "1", "yes", "on"})
FALSE = frozenset({"false", "0", "no", "off"})


def parse_bool(name: str, value: str) -> bool:
    """A boolean storage option, as object_store spells them."""
    word = str(value).strip().lower()
    if word in TRUE | FALSE:
        return word in TRUE
    raise InvalidStorageOptionError(
        f"storage option {name}={value!r} is not true or false", hint="write true or false"
    )
