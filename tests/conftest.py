"""Fixtures that start real services: moto's S3 server as a subprocess on 127.0.0.1.

moto runs out of process on purpose: some deltalake calls hold the GIL during IO and deadlock
against an in-process server (see ../shared/design-brief.md).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

import lake
from lake.cli.app import main
from lake.graph.refs import RefStore

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(autouse=True)
def no_user_settings(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the user's own lake settings (~/.config/lake): each gets an empty config home."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config-home")))
    for var in ("LAKE_REPO", "LAKE_BRANCH", "LAKE_AUTHOR"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    logfile = tmp_path_factory.mktemp("moto") / "moto.log"
    with logfile.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"moto_server did not start: {logfile.read_text()[-2000:]}") from None
            time.sleep(0.1)
    yield endpoint
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {**CREDENTIALS, "AWS_ENDPOINT_URL": s3_endpoint}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


@pytest.fixture
def bucket(s3_env: dict[str, str]) -> str:
    name = f"lake-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL"], region_name="us-east-1").create_bucket(
        Bucket=name
    )
    return name


@pytest.fixture(params=["local", "s3"])
def repo_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh repository location on each backend: a local directory, and a bucket on moto."""
    if request.param == "local":
        return str(tmp_path / "lake")
    name = request.getfixturevalue("bucket")
    return f"s3://{name}/lake"


@pytest.fixture
def repo(repo_uri: str) -> lake.Repository:
    return lake.Repository.init(repo_uri)


@pytest.fixture
def local_repo(tmp_path: Path) -> lake.Repository:
    return lake.Repository.init(str(tmp_path / "lake"))


def _data_files(repo: lake.Repository, dataset: str) -> set[str]:
    """Every parquet file stored below a dataset's root, on either backend."""
    if repo.config.scheme == "file":
        root = Path(repo.table_uri(dataset))
        return {p.relative_to(root).as_posix() for p in root.rglob("*.parquet")} if root.exists() else set()
    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    prefix = f"{repo.config.prefix}/{dataset}/"
    keys: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=repo.config.bucket, Prefix=prefix):
        keys.update(
            o["Key"][len(prefix) :] for o in page.get("Contents", []) if o["Key"].endswith(".parquet")
        )
    return keys


@pytest.fixture
def data_files() -> Callable[[lake.Repository, str], set[str]]:
    """Lists the parquet files below a dataset's root, to prove what was (not) copied."""
    return _data_files


GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def golden() -> Callable[[str, str], None]:
    """Compares text with tests/golden/NAME; `UPDATE_GOLDEN=1 pytest` rewrites the files."""

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if os.environ.get("UPDATE_GOLDEN") or not path.exists():
            path.write_text(text)
        assert text == path.read_text(), f"{name} differs from its golden file; UPDATE_GOLDEN=1 to accept"

    return check


class Lake:
    """Runs `lake` in-process against one repository and captures what it prints."""

    def __init__(self, uri: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.uri = uri
        self.capsys = capsys

    def __call__(self, *args: str, code: int = 0) -> str:
        self.capsys.readouterr()
        nested = args[0] in ("branch", "tag", "contract")
        needs_repo = not (nested and args[1] in ("diff", "import-odcs", "export-odcs"))
        rc = main([*args, "--repo", self.uri] if needs_repo else list(args))
        captured = self.capsys.readouterr()
        assert rc == code, f"lake {' '.join(args)} -> {rc}\n{captured.out}\n{captured.err}"
        assert "Traceback" not in captured.err
        return captured.out + captured.err

    def json(self, *args: str, code: int = 0) -> object:
        return json.loads(self(*args, "--json", code=code).split("\n\x1b")[0])


@pytest.fixture
def cli(repo_uri: str, capsys: pytest.CaptureFixture[str]) -> Lake:
    lake_cli = Lake(repo_uri, capsys)
    assert main(["init", repo_uri]) == 0
    return lake_cli


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs."""


def crash_between_delta_commit_and_ref(write: Callable[[], object]) -> None:
    """Run ``write`` and let it die after its Delta commit, at the compare-and-swap of its ref."""

    def crash(self: RefStore, ref: object, commit: str, **kw: object) -> None:
        raise Crash

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RefStore, "move", crash)
        with pytest.raises(Crash):
            write()


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """PySpark in local mode (two cores), its Python workers this interpreter (which has lake)."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # read when the context starts
    session = (
        SparkSession.builder.master("local[2]")
        .appName("lakegate-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
