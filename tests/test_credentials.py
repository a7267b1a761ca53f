"""One credential chain for every client (issue 9, point 8).

boto3 reads a profile (``AWS_PROFILE`` and a shared credentials file), delta-rs and polars do not:
they fell back to instance metadata (169.254.169.254) and failed after ``lake init`` had worked.
Credentials are now resolved once through botocore's chain and handed to all four clients.

Every case runs on moto, with the machine's own AWS settings hidden: ``AWS_CONFIG_FILE`` and
``AWS_SHARED_CREDENTIALS_FILE`` point at files the test writes, and no credential is in the
environment unless the case puts it there. ``AWS_EC2_METADATA_DISABLED`` stays unset, as a user
has it. A recording proxy in front of moto shows which keys each request was signed with.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from proxies import FaultProxy

import lake
from lake.cli.app import app, main
from lake.storage import StorageConfig, open_store

PROFILE = "lake-test"
# Every variable through which the machine's own AWS settings could reach a client.
AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_ALLOW_HTTP",
    "AWS_VIRTUAL_HOSTED_STYLE_REQUEST",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)
ANSI = "\x1b"


# -- a recording proxy: which keys signed which request ----------------------------------------------
_REQUEST = re.compile(rb"(GET|PUT|HEAD|POST|DELETE) (\S+) HTTP/1\.1\r\n")
_KEY_ID = re.compile(rb"Credential=([^/\s]+)/")
_TOKEN = re.compile(rb"(?im)^x-amz-security-token:[ \t]*([^\r\n]*)\r$")


@dataclass(frozen=True)
class Signed:
    method: str
    path: str
    key_id: str | None
    token: str | None


class RecordingProxy(FaultProxy):
    """A proxy in front of moto that notes, for every HTTP request passing through, the access key
    id it was signed with and its session token."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.requests: list[Signed] = []
        super().__init__((host, int(port)))

    def observe(self, data: bytes) -> None:
        starts = list(_REQUEST.finditer(data))
        for i, found in enumerate(starts):
            end = starts[i + 1].start() if i + 1 < len(starts) else len(data)
            head = data[found.start() : end].split(b"\r\n\r\n", 1)[0] + b"\r\n"
            key, token = _KEY_ID.search(head), _TOKEN.search(head)
            self.requests.append(
                Signed(
                    found.group(1).decode(),
                    found.group(2).decode(),
                    key.group(1).decode() if key else None,
                    token.group(1).decode() if token else None,
                )
            )


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[RecordingProxy]:
    recorder = RecordingProxy(s3_endpoint)
    yield recorder
    recorder.close()


# -- the user's AWS files ------------------------------------------------------------------------------
@dataclass
class AwsFiles:
    """A user's ~/.aws: a config file and a shared credentials file, both the test's own."""

    config: Path
    credentials: Path
    profiles: dict[str, dict[str, str]] = field(default_factory=dict)
    settings: dict[str, dict[str, str]] = field(default_factory=dict)

    def profile(self, name: str, **keys: str) -> None:
        self.profiles[name] = keys
        self._write(self.credentials, self.profiles, prefix="")

    def configure(self, name: str, **settings: str) -> None:
        self.settings[name] = settings
        self._write(self.config, self.settings, prefix="profile ")

    @staticmethod
    def _write(path: Path, sections: dict[str, dict[str, str]], *, prefix: str) -> None:
        text = ""
        for name, values in sections.items():
            head = name if name == "default" else f"{prefix}{name}"
            text += f"[{head}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()) + "\n"
        path.write_text(text)


@pytest.fixture
def aws(bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AwsFiles:
    """No AWS setting in the environment but two empty files of the test's own (the bucket was
    created before, with the fixture's keys)."""
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    files = AwsFiles(tmp_path / "aws-config", tmp_path / "aws-credentials")
    files.config.write_text("")
    files.credentials.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(files.config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(files.credentials))
    return files


def _secret(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}"


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text("order_id,amount\n1,10.0\n2,20.0\n")
    return path


def _run(*args: str, capsys: pytest.CaptureFixture[str], code: int = 0) -> str:
    capsys.readouterr()
    rc = main(list(args))
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert rc == code, f"lake {' '.join(args)} -> {rc}\n{out}"
    assert "Traceback" not in out and ANSI not in out
    return out


# -- 1. the report: a profile alone ---------------------------------------------------------------------
def _in_a_pipe(*argv: str, code: int = 0) -> str:
    """`lake ARGV` in a fresh process, as a user runs it, its output read through a pipe."""
    done = subprocess.run(
        [sys.executable, "-m", "lake.cli.app", *argv], capture_output=True, text=True, timeout=300
    )
    said = done.stdout + done.stderr
    assert done.returncode == code, f"lake {' '.join(argv)} -> {done.returncode}\n{said}"
    assert "Traceback" not in said and ANSI not in said
    return said


@pytest.mark.parametrize("endpoint_from", ["environment", "profile config"])
def test_a_profile_alone_reaches_every_client(
    endpoint_from: str,
    aws: AwsFiles,
    bucket: str,
    s3_endpoint: str,
    csv_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`lake init` worked (boto3 reads profiles) and the first `lake write` failed: delta-rs asked
    169.254.169.254 for credentials. Now init, write (delta-rs), delete (polars) and read (pyarrow)
    all work with nothing but AWS_PROFILE and the user's files."""
    aws.profile(PROFILE, aws_access_key_id="AKIAPROFILE", aws_secret_access_key=_secret("secret"))
    if endpoint_from == "environment":
        monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
        aws.configure(PROFILE, region="us-east-1")
    else:
        aws.configure(PROFILE, region="us-east-1", endpoint_url=s3_endpoint)
    monkeypatch.setenv("AWS_PROFILE", PROFILE)
    uri = f"s3://{bucket}/lake"
    _in_a_pipe("init", uri)
    written = _in_a_pipe("write", "orders", str(csv_file), "--repo", uri)
    assert "169.254" not in written
    _in_a_pipe("delete", "orders", "--where", "order_id = 1", "--repo", uri)
    rows = _in_a_pipe("read", "orders", "--format", "json", "--repo", uri)
    assert [json.loads(line)["order_id"] for line in rows.splitlines()] == [2]


@pytest.mark.parametrize("temporary", [True, False], ids=["with-token", "without-token"])
def test_a_profile_given_as_a_storage_option(
    temporary: bool, aws: AwsFiles, bucket: str, proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``storage_options={"AWS_PROFILE": ...}`` through the API, the endpoint in that profile's
    config. Every request of every client is signed with the profile's keys and carries its
    session token (or none), although the environment holds other keys and another token (a
    named profile overrides the environment, as in boto3; object_store reads the environment's
    token unless told otherwise)."""
    token = _secret("token")
    keys = {"aws_access_key_id": "AKIANAMED", "aws_secret_access_key": _secret("s")}
    aws.profile(PROFILE, **keys, **({"aws_session_token": token} if temporary else {}))
    aws.configure(PROFILE, region="eu-west-1", endpoint_url=proxy.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-token")
    repo = lake.Repository.init(f"s3://{bucket}/lake", storage_options={"AWS_PROFILE": PROFILE})
    repo.branch("main").write("orders", pa.table({"order_id": [1, 2, 3], "amount": [1.0, 2.0, 3.0]}))
    repo.branch("main").delete("orders", "order_id = 2")  # polars scans the files
    assert sorted(repo.read("orders").column("order_id").to_pylist()) == [1, 3]  # pyarrow reads
    seen = proxy.requests
    assert any("/_lake/" in r.path for r in seen)  # boto3
    assert any("_delta_log" in r.path for r in seen)  # delta-rs
    assert any(r.method == "GET" and ".parquet" in r.path for r in seen)  # pyarrow and polars
    assert {r.key_id for r in seen} == {"AKIANAMED"}
    if temporary:
        assert {r.token for r in seen} == {token}
    else:
        assert {r.token for r in seen} <= {None, ""}
    rendered = repo.config
    assert (rendered.delta_options() or {})["AWS_REGION"] == "eu-west-1"


def test_the_same_keys_go_to_every_client(
    aws: AwsFiles, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret, token = _secret("secret"), _secret("token")
    aws.profile(PROFILE, aws_access_key_id="AKIASAME", aws_secret_access_key=secret, aws_session_token=token)
    monkeypatch.setenv("AWS_PROFILE", PROFILE)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    config = StorageConfig.parse("s3://b/lake")
    keys = ("AKIASAME", secret, token)
    delta = config.delta_options() or {}
    assert (delta["AWS_ACCESS_KEY_ID"], delta["AWS_SECRET_ACCESS_KEY"], delta["AWS_SESSION_TOKEN"]) == keys
    pl_opts = config.polars_options() or {}
    assert (
        pl_opts["aws_access_key_id"],
        pl_opts["aws_secret_access_key"],
        pl_opts["aws_session_token"],
    ) == keys
    arrow = _arrow_settings(config)
    assert (arrow["access_key"], arrow["secret_key"], arrow["session_token"]) == keys
    open_store(config), open_store(config)  # boto3 clients share the repository's session
    boto = config.botocore_session().get_credentials()
    assert boto is not None and tuple(boto.get_frozen_credentials())[:3] == keys
    assert secret in config.secrets() and token in config.secrets()
    assert secret not in repr(config) and token not in repr(config)


def _arrow_settings(config: StorageConfig) -> dict[str, object]:
    """The arguments a pyarrow S3FileSystem was built with (what it pickles)."""
    _, (settings,) = config.arrow_filesystem().__reduce__()
    assert isinstance(settings, dict)
    return settings


# -- 2. refreshable credentials -------------------------------------------------------------------------
def _credential_process(tmp_path: Path, minutes: int) -> Path:
    """A `credential_process` (botocore's refreshable source, as SSO and assume-role are) that
    hands out new keys on every call, each valid for ``minutes``; it counts its calls."""
    script = tmp_path / "issue_keys.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import datetime, json, pathlib
            counter = pathlib.Path({str(tmp_path / "calls")!r})
            n = int(counter.read_text()) + 1 if counter.exists() else 1
            counter.write_text(str(n))
            expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes={minutes})
            print(json.dumps({{
                "Version": 1,
                "AccessKeyId": f"AKIAROTATED{{n}}",
                "SecretAccessKey": f"rotated-secret-{{n}}",
                "SessionToken": f"rotated-token-{{n}}",
                "Expiration": expires.isoformat(),
            }}))
            """
        )
    )
    return tmp_path / "calls"


def test_credentials_near_expiry_are_refreshed_before_each_use(
    aws: AwsFiles, bucket: str, proxy: RecordingProxy, tmp_path: Path
) -> None:
    """Keys that expire within botocore's refresh window (here: 5 minutes, under its 10) are
    fetched again whenever a client is handed options; nothing rendered outlives them."""
    calls = _credential_process(tmp_path, minutes=5)
    aws.configure(
        PROFILE,
        credential_process=f"{sys.executable} {tmp_path / 'issue_keys.py'}",
        endpoint_url=proxy.url,
        region="us-east-1",
    )
    config = StorageConfig.parse(f"s3://{bucket}/lake", {"AWS_PROFILE": PROFILE})
    first = (config.delta_options() or {})["AWS_ACCESS_KEY_ID"]
    second = (config.polars_options() or {})["aws_access_key_id"]
    third = _arrow_settings(config)["access_key"]
    assert len({first, second, third}) == 3 and int(calls.read_text()) >= 3
    repo = lake.Repository.init(f"s3://{bucket}/lake", storage_options={"AWS_PROFILE": PROFILE})
    repo.branch("main").write("orders", pa.table({"order_id": [1, 2]}))
    assert repo.read("orders").num_rows == 2
    used = {r.key_id for r in proxy.requests}
    assert len(used) > 1 and all(k is not None and k.startswith("AKIAROTATED") for k in used)
    assert all(
        r.token == f"rotated-token-{(r.key_id or '').removeprefix('AKIAROTATED')}" for r in proxy.requests
    )


def test_credentials_far_from_expiry_are_fetched_once(
    aws: AwsFiles, bucket: str, tmp_path: Path, s3_endpoint: str
) -> None:
    calls = _credential_process(tmp_path, minutes=60)
    aws.configure(
        PROFILE, credential_process=f"{sys.executable} {tmp_path / 'issue_keys.py'}", endpoint_url=s3_endpoint
    )
    repo = lake.Repository.init(f"s3://{bucket}/lake", storage_options={"AWS_PROFILE": PROFILE})
    repo.branch("main").write("orders", pa.table({"order_id": [1, 2]}))
    assert repo.read("orders").num_rows == 2
    assert calls.read_text() == "1"


# -- 3. storage options -----------------------------------------------------------------------------------
def test_the_storage_options_users_set(aws: AwsFiles, s3_endpoint: str) -> None:
    secret, token = _secret("secret"), _secret("token")
    config = StorageConfig.parse(
        "s3://b/lake",
        {
            "aws_access_key_id": "AKIAGIVEN",
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_SESSION_TOKEN": token,
            "AWS_DEFAULT_REGION": "eu-central-1",
            "AWS_ENDPOINT_URL": "https://objects.example.com:9000",
            "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "true",
            "AWS_ALLOW_HTTP": "false",
        },
    )
    delta = config.delta_options() or {}
    assert (
        delta["AWS_REGION"] == "eu-central-1"
        and delta["AWS_ENDPOINT_URL"] == "https://objects.example.com:9000"
    )
    assert delta["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] == "true" and delta["AWS_ALLOW_HTTP"] == "false"
    assert "AWS_DEFAULT_REGION" not in delta and "AWS_PROFILE" not in delta
    pl_opts = config.polars_options() or {}
    assert pl_opts["aws_virtual_hosted_style_request"] == "true" and pl_opts["aws_region"] == "eu-central-1"
    arrow = _arrow_settings(config)
    assert arrow["force_virtual_addressing"] is True and arrow["region"] == "eu-central-1"
    assert arrow["endpoint_override"] == "objects.example.com:9000" and arrow["scheme"] == "https"
    boto = config.boto3_options()
    assert boto["addressing_style"] == "virtual" and boto["region_name"] == "eu-central-1"
    assert boto["endpoint_url"] == "https://objects.example.com:9000"


def test_region_and_addressing_come_from_the_profile(aws: AwsFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    aws.profile(PROFILE, aws_access_key_id="AKIA1", aws_secret_access_key=_secret("s"))
    aws.configure(PROFILE, region="ap-southeast-2", s3="\n  addressing_style = path")
    monkeypatch.setenv("AWS_PROFILE", PROFILE)
    config = StorageConfig.parse("s3://b/lake")
    assert (config.delta_options() or {})["AWS_REGION"] == "ap-southeast-2"
    assert (config.delta_options() or {})["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] == "false"
    assert config.boto3_options()["addressing_style"] == "path"
    assert "AWS_ENDPOINT_URL" not in (config.delta_options() or {})  # AWS itself


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"AWS_PROFIL": "x"}, "unknown storage option 'AWS_PROFIL'"),
        ({"AWS_ACCESS_KEY_ID": "AKIA"}, "AWS_SECRET_ACCESS_KEY"),
        ({"AWS_SECRET_ACCESS_KEY": "s"}, "AWS_ACCESS_KEY_ID"),
        ({"AWS_SESSION_TOKEN": "t"}, "AWS_ACCESS_KEY_ID"),
        ({"AWS_ALLOW_HTTP": "maybe"}, "AWS_ALLOW_HTTP"),
        ({"AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "yes please"}, "AWS_VIRTUAL_HOSTED_STYLE_REQUEST"),
        ({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-1"}, "AWS_REGION"),
    ],
)
def test_unusable_storage_options_are_refused(aws: AwsFiles, options: dict[str, str], says: str) -> None:
    with pytest.raises(lake.InvalidStorageOptionError) as caught:
        StorageConfig.parse("s3://b/lake", options)
    assert says in caught.value.message + (caught.value.hint or "")
    assert caught.value.exit_code == 2


# -- 4. no credentials, or a broken profile: say what to do --------------------------------------------
def test_no_credentials_anywhere_says_what_to_set(
    aws: AwsFiles, bucket: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No key, no profile; instance metadata is asked (and here refuses): exit 3, a sentence
    that says what to set, and no 169.254.169.254 or terminal colours, printed into a pipe."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    for argv in (["init", f"s3://{bucket}/lake"], ["log", "--repo", f"s3://{bucket}/lake"]):
        said = _in_a_pipe(*argv, code=3)
        assert "no AWS credentials found" in said and "AWS_PROFILE" in said and "AWS_ACCESS_KEY_ID" in said
        assert "169.254" not in said


def test_a_missing_profile_is_named(
    aws: AwsFiles,
    bucket: str,
    s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    aws.profile("other", aws_access_key_id="AKIA2", aws_secret_access_key=_secret("s"))
    monkeypatch.setenv("AWS_PROFILE", "nope")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    said = _run("init", f"s3://{bucket}/lake", capsys=capsys, code=3)
    assert "AWS profile 'nope'" in said and "other" in said


def test_a_failing_credential_source_is_explained(
    aws: AwsFiles,
    bucket: str,
    s3_endpoint: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A source that fails (an expired SSO login, a failing credential_process) stops with
    exit 3 and what the source said, never a traceback."""
    failing = tmp_path / "fail.py"
    failing.write_text("import sys\nprint('the login has expired', file=sys.stderr)\nsys.exit(1)\n")
    aws.configure(PROFILE, credential_process=f"{sys.executable} {failing}", endpoint_url=s3_endpoint)
    monkeypatch.setenv("AWS_PROFILE", PROFILE)
    said = _run("init", f"s3://{bucket}/lake", capsys=capsys, code=3)
    assert "the login has expired" in said and PROFILE in said


# -- 5. a known secret never appears in any output of any command -----------------------------------------
@dataclass
class Scan:
    """Runs `lake` commands in-process and keeps everything they print and write."""

    uri: str
    capsys: pytest.CaptureFixture[str]
    reports: Path
    outputs: list[tuple[str, str]] = field(default_factory=list)
    commands: set[str] = field(default_factory=set)

    def __call__(self, *args: str, codes: tuple[int, ...] = (0,), repo: str | None = None) -> str:
        self.capsys.readouterr()
        nested = args[0] in ("branch", "tag", "contract", "config")
        self.commands.add(" ".join(args[:2]) if nested else args[0])
        local = (nested and args[1] in ("diff", "import-odcs", "export-odcs")) or args[0] == "config"
        argv = [*args] if local or args[0] in ("init", "validate") else [*args, "--repo", repo or self.uri]
        rc = main(argv)
        captured = self.capsys.readouterr()
        said = captured.out + captured.err
        self.outputs.append((" ".join(argv), said))
        assert rc in codes, f"lake {' '.join(argv)} -> {rc}\n{said}"
        return said

    def report(self, name: str) -> str:
        return str(self.reports / name)


def _every_command() -> set[str]:
    group = typer.main.get_command(app)
    names: set[str] = set()
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        sub = getattr(command, "commands", None)
        names.update(f"{name} {s}" for s in sub) if sub else names.add(name)
    return names


@pytest.mark.parametrize("source", ["profile", "environment"])
def test_a_known_secret_never_appears_in_any_output(
    source: str,
    aws: AwsFiles,
    bucket: str,
    s3_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret, token = _secret("wJalrXUtnFEMI"), _secret("FwoGZXIvYXdzE")
    if source == "profile":
        aws.profile(
            PROFILE, aws_access_key_id="AKIASCAN", aws_secret_access_key=secret, aws_session_token=token
        )
        monkeypatch.setenv("AWS_PROFILE", PROFILE)
    else:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASCAN")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
        monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "reports" / "summary.md"))
    (tmp_path / "reports").mkdir()
    run = Scan(f"s3://{bucket}/lake", capsys, tmp_path / "reports")
    _every_scenario(run, bucket, tmp_path)

    missing = _every_command() - run.commands
    assert not missing, f"add these commands to the scan: {sorted(missing)}"
    for argv, said in run.outputs:
        assert secret not in said and token not in said, f"lake {argv} printed a secret:\n{said}"
        assert ANSI not in said, f"lake {argv} printed terminal colours:\n{said}"
    written = list(run.reports.rglob("*"))
    assert len(written) >= 6
    for path in written:
        data = path.read_bytes()
        assert secret.encode() not in data and token.encode() not in data, path


def _every_scenario(run: Scan, bucket: str, tmp: Path) -> None:
    """Every command, with --json where it has it, and the failures a person meets."""
    rng = np.random.default_rng(0)
    orders = tmp / "orders.parquet"
    pq.write_table(pa.table({"id": np.arange(200), "x": rng.normal(0, 1, 200)}), orders)
    more, drifted = tmp / "more.parquet", tmp / "drifted.parquet"
    pq.write_table(pa.table({"id": np.arange(200, 400), "x": rng.normal(0, 1, 200)}), more)
    pq.write_table(pa.table({"id": np.arange(400, 600), "x": rng.normal(9, 1, 200)}), drifted)
    fix = tmp / "fix.csv"
    fix.write_text("id,x\n1,0.5\n1000,0.1\n")
    bad = tmp / "bad.csv"
    bad.write_text("id,x\n5000,-1000\n")
    spec, looser = tmp / "orders.yaml", tmp / "looser.yaml"
    spec.write_text(
        "dataset: orders\nprimary_key: [id]\ncolumns:\n  id: {type: int64}\n  x: {type: float64, min: -100}\n"
    )
    looser.write_text(
        "dataset: orders\nprimary_key: [id]\ncolumns:\n  id: {type: int64}\n  x: {type: float64}\n"
    )
    missing_bucket = f"s3://{bucket}-missing/lake"

    run("init", run.uri, "--json")
    run("init", missing_bucket, codes=(3,))
    run("init", run.uri, codes=(1, 2, 3))  # exists already
    run("write", "orders", str(orders), "--json")
    run("contract", "set", "orders", str(spec), "--json")
    run("contract", "show", "orders")
    run("contract", "show", "orders", "--json")
    run("contract", "check", "orders", "--json")
    run("contract", "infer", "orders")
    run("contract", "diff", str(spec), str(looser), codes=(0, 1))
    run("contract", "export-odcs", str(spec), "--json")
    odcs = tmp / "orders.odcs.yaml"
    odcs.write_text(run("contract", "export-odcs", str(spec)))
    run("contract", "import-odcs", str(odcs))
    run("validate", str(bad), "--contract", str(spec), codes=(1,))
    run("validate", str(orders), "--contract", str(spec), "--format", "junit")
    run("write", "orders", str(bad), codes=(1,))  # contract violation
    run("write", "orders", str(bad), "--json", codes=(1,))
    run("tag", "create", "v1", "--json")
    run("tag", "list", "--json")
    run("branch", "create", "ok", "--json")
    run("branch", "create", "drift")
    run("branch", "list", "--json")
    run("write", "orders", str(more), "--branch", "ok")
    run("write", "orders", str(drifted), "--branch", "drift", "--json")
    run("upsert", "orders", str(fix), "--key", "id", "--branch", "ok", "--json")
    run("delete", "orders", "--where", "id = 3", "--branch", "ok", "--json")
    run("read", "orders", "--ref", "ok", "--limit", "3")
    run("read", "orders", "--ref", "ok", "--format", "csv", "--output", run.report("orders.csv"))
    run("read", "orders", "--ref", "nope", codes=(2,))  # unknown ref: bad input
    run("read", "orders", "--ref", "nope", "--json", codes=(2,))
    run("read", "orders", repo=missing_bucket, codes=(3,))  # wrong bucket
    run("log", repo=missing_bucket, codes=(3,))
    run("log", "--json", repo=missing_bucket, codes=(3,))
    run("write", "orders", str(more), repo=missing_bucket, codes=(3,))
    run("--debug", "log", repo=missing_bucket, codes=(3,))
    deleted = json.loads(run("log", "--ref", "ok", "--json"))[0]["id"]
    run("revert", deleted, "--branch", "ok", "--json")
    run("show", "ok", "--json")
    run("datasets", "--ref", "ok", "--json")
    run("diff", "main", "ok", "--json")
    run("gate", "ok", "--json")
    for fmt, name in (
        ("json", "gate.json"),
        ("junit", "gate.xml"),
        ("markdown", "gate.md"),
        ("html", "gate.html"),
    ):
        run("gate", "drift", "--format", fmt, "--output", run.report(name), codes=(1,))  # gate failure
    run("gate", "drift", "--format", "github", "--summary", codes=(1,))
    run("gate", "drift", codes=(1,))
    run("merge", "drift", codes=(1,))
    run("merge", "drift", "--json", codes=(1,))
    run("merge", "ok", "--dry-run", "--json")
    run("merge", "ok", "--json")
    run("branch", "protect", "main", "--json")
    run("write", "orders", str(more), codes=(1,))  # refused: protected
    run("branch", "unprotect", "main", "--json")
    run("branch", "delete", "drift", "--json")
    run("tag", "delete", "v1", "--json")
    # commands other agents are adding (issue 9): their outputs are scanned as well
    if "optimize" in _every_command():
        run("optimize", "orders", codes=(0, 1))
    if "fsck" in _every_command():
        run("fsck", "--json", codes=(0, 1))
    if "gc" in _every_command():
        run("gc", "--dry-run", "--json", codes=(0, 1))
    run("status", "--json")
    run("status")
    run("files", "orders", "--ref", "ok", "--json")
    run("files", "orders", "--manifest", f"{run.uri}-manifests/orders")
    run("export", "orders", "--ref", "ok", "--to", f"{run.uri}-exports/orders", "--json")
    run("export", "orders", "--to", str(tmp / "local-export"), "--format", "parquet")
    run("config", "list")
    run("config", "list", "--json")
    run("config", "get", "repo")
    run("config", "set", "author", "scanner", "--user")
    # a storage endpoint that does not answer: the client's own error text, masked
    os.environ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"
    os.environ["LAKE_STORAGE_RETRY_TIMEOUT"] = "1s"
    try:
        run("log", codes=(3,))
        run("read", "orders", "--json", codes=(3,))
    finally:
        del os.environ["LAKE_STORAGE_RETRY_TIMEOUT"]
