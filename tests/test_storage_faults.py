"""Storage faults are errors a person can act on (issue 7, items 15 and 16).

Real moto behind a real socket: a TCP proxy in front of the moto server that can be told to
reset connections or to swallow requests, and a black-hole server that accepts connections and
never answers. Nothing in the storage layer is mocked. Every repository here is reached through
the proxy with short timeouts, so a fault costs seconds, not minutes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import Lake
from proxies import BlackHole, FaultProxy

import lake
from lake.cli.app import main
from lake.storage import StorageConfig

SECRET = f"wJalrXUtnFEMI-{uuid.uuid4().hex}"
TOKEN = f"FwoGZXIvYXdzE-{uuid.uuid4().hex}"
# Small budgets so that every fault fails in seconds: 2 attempts of at most 2 s each.
FAST = {"CONNECT_TIMEOUT": "1s", "TIMEOUT": "2s", "MAX_RETRIES": "1", "RETRY_TIMEOUT": "4s"}
DATA_LOG = b"_delta_log"  # requests delta-rs makes (and the ref and commit reads never do)
DATA_FILES = b".parquet"  # requests for data files: pyarrow and polars reads, boto3 writes


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[FaultProxy]:
    host, port = s3_endpoint.removeprefix("http://").split(":")
    fault = FaultProxy((host, int(port)))
    yield fault
    fault.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    yield hole
    hole.close()


def _options(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_SESSION_TOKEN": TOKEN,
        **FAST,
    }


ORDERS = pa.table({"id": [1, 2, 3], "amount": [10.0, 20.0, 30.0]})


@pytest.fixture
def proxied(bucket: str, proxy: FaultProxy) -> lake.Repository:
    """A repository reached through the proxy: orders on main, and a branch 'fix' that changed it."""
    repo = lake.Repository.init(f"s3://{bucket}/lake", storage_options=_options(proxy.url))
    repo.branch("main").write("orders", ORDERS)
    repo.create_branch("fix")
    repo.branch("fix").write("orders", pa.table({"id": [4], "amount": [40.0]}))
    return repo


def _acts_on(err: lake.StorageError, bucket: str) -> None:
    """The error names the storage operation, the object and the cause, and nothing secret."""
    text = f"{err.message}\n{err.hint}\n{json.dumps(err.to_dict())}"
    assert err.operation and err.operation in err.message
    assert err.object and err.object.startswith(f"s3://{bucket}/lake") and err.object in err.message
    assert err.cause and err.cause in err.message
    assert err.exit_code == 3
    assert SECRET not in text and TOKEN not in text
    assert "report it" not in text and "internal error" not in text
    assert "\x1b[" not in text and "\n" not in err.message  # one sentence, no terminal colours


# -- a connection dropped mid-run: the Python API --------------------------------------------------
WHERE = pytest.mark.parametrize(
    "match", [None, DATA_LOG, DATA_FILES], ids=["every-request", "delta-log", "data-files"]
)


@WHERE
def test_a_connection_dropped_during_a_delete_is_a_storage_error(
    proxied: lake.Repository, proxy: FaultProxy, bucket: str, match: bytes | None
) -> None:
    proxy.drop(match)
    with pytest.raises(lake.StorageError) as caught:
        proxied.branch("main").delete("orders", "id = 1")
    _acts_on(caught.value, bucket)
    proxy.heal()
    proxied.branch("main").delete("orders", "id = 1")  # the failed attempt left nothing in the way
    assert sorted(proxied.read("orders").column("id").to_pylist()) == [2, 3]


@WHERE
def test_a_connection_dropped_during_a_merge_is_a_storage_error(
    proxied: lake.Repository, proxy: FaultProxy, bucket: str, match: bytes | None
) -> None:
    proxy.drop(match)
    with pytest.raises(lake.StorageError) as caught:
        proxied.merge("fix")
    _acts_on(caught.value, bucket)
    assert "in time" not in (caught.value.hint or "")  # a reset is not a timeout (nor said to be)
    proxy.heal()
    proxied.merge("fix")
    assert sorted(proxied.read("orders").column("id").to_pylist()) == [1, 2, 3, 4]


def test_a_connection_dropped_during_a_read_is_a_storage_error(
    proxied: lake.Repository, proxy: FaultProxy, bucket: str
) -> None:
    proxy.drop(DATA_FILES)
    with pytest.raises(lake.StorageError) as caught:
        proxied.read("orders")
    _acts_on(caught.value, bucket)


def test_a_storage_error_keeps_its_cause(proxied: lake.Repository, proxy: FaultProxy) -> None:
    proxy.drop(DATA_LOG)
    with pytest.raises(lake.StorageError) as caught:
        proxied.merge("fix")
    assert isinstance(caught.value.__cause__, OSError)  # raise ... from exc: the original is kept


# -- a hung endpoint: fails after the configured timeouts, as a StorageError -------------------------
def test_a_hung_endpoint_fails_as_a_storage_error(bucket: str, black_hole: BlackHole) -> None:
    with pytest.raises(lake.StorageError) as caught:
        lake.Repository.open(f"s3://{bucket}/lake", storage_options=_options(black_hole.url))
    _acts_on(caught.value, bucket)
    assert "TIMEOUT" in (caught.value.hint or "")  # says which knob to turn


@pytest.mark.parametrize("match", [DATA_LOG, DATA_FILES], ids=["delta-log", "data-files"])
def test_a_request_that_hangs_mid_operation_fails_as_a_storage_error(
    proxied: lake.Repository, proxy: FaultProxy, bucket: str, match: bytes
) -> None:
    proxy.hang(match)
    with pytest.raises(lake.StorageError) as caught:
        if match == DATA_LOG:
            proxied.merge("fix")  # delta-rs reads the branch's log
        else:
            proxied.read("orders")  # pyarrow reads the data files
    _acts_on(caught.value, bucket)


# -- the options that set the budgets -----------------------------------------------------------------
def test_timeouts_and_retries_are_storage_options(s3_env: dict[str, str]) -> None:
    config = StorageConfig.parse(
        "s3://b/lake",
        {"connect_timeout": "2", "TIMEOUT": "1500ms", "max_retries": "4", "retry_timeout": "1m"},
    )
    delta = config.delta_options() or {}
    assert {k: delta[k] for k in ("connect_timeout", "timeout", "max_retries", "retry_timeout")} == {
        "connect_timeout": "2000ms",
        "timeout": "1500ms",
        "max_retries": "4",
        "retry_timeout": "60000ms",
    }
    assert {"TIMEOUT", "CONNECT_TIMEOUT", "MAX_RETRIES", "RETRY_TIMEOUT"}.isdisjoint(delta)
    polars = config.polars_options() or {}
    assert polars["timeout"] == "1500ms" and polars["connect_timeout"] == "2000ms"
    defaults = StorageConfig.parse("s3://b/lake").delta_options() or {}
    assert defaults["connect_timeout"] == "5000ms" and defaults["timeout"] == "10000ms"


@pytest.mark.parametrize(
    "options",
    [{"TIMEOUT": "soon"}, {"TIMEOUT": "0s"}, {"MAX_RETRIES": "-1"}, {"MAX_RETRIES": "2.5"}, {"TIMOUT": "5s"}],
)
def test_unusable_timeouts_are_refused(s3_env: dict[str, str], options: dict[str, str]) -> None:
    with pytest.raises(lake.InvalidStorageOptionError):
        StorageConfig.parse("s3://b/lake", options)


# -- the CLI: exit code 3, one sentence, nothing secret -------------------------------------------------
@pytest.fixture
def proxied_cli(
    bucket: str,
    proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> Lake:
    """`lake` on a repository reached through the proxy, set up like :func:`proxied`."""
    for name, value in _options(proxy.url).items():
        monkeypatch.setenv(name if name.startswith("AWS_") else f"LAKE_STORAGE_{name}", value)
    uri = f"s3://{bucket}/lake"
    assert main(["init", uri]) == 0
    cli = Lake(uri, capsys)
    pq.write_table(ORDERS, tmp_path / "orders.parquet")
    pq.write_table(pa.table({"id": [4], "amount": [40.0]}), tmp_path / "more.parquet")
    cli("write", "orders", str(tmp_path / "orders.parquet"))
    cli("branch", "create", "fix")
    cli("write", "orders", str(tmp_path / "more.parquet"), "--branch", "fix")
    return cli


def _says_storage_failed(out: str, bucket: str) -> None:
    assert "error:" in out and f"s3://{bucket}/lake" in out
    assert "internal error" not in out and "report it" not in out
    assert SECRET not in out and TOKEN not in out


@WHERE
@pytest.mark.parametrize(
    "command", [("delete", "orders", "--where", "id = 1"), ("merge", "fix")], ids=["delete", "merge"]
)
def test_the_cli_exits_3_when_storage_fails(
    proxied_cli: Lake, proxy: FaultProxy, bucket: str, match: bytes | None, command: tuple[str, ...]
) -> None:
    proxy.drop(match)
    _says_storage_failed(proxied_cli(*command, code=3), bucket)


def test_the_cli_reports_a_storage_failure_as_json(proxied_cli: Lake, proxy: FaultProxy, bucket: str) -> None:
    proxy.drop(DATA_LOG)
    out = proxied_cli("merge", "fix", "--json", code=3)
    payload = json.loads(out[: out.index("\n}") + 2])
    assert payload["error"] == "StorageError" and payload["object"].startswith(f"s3://{bucket}/lake")
    assert SECRET not in out and TOKEN not in out


def test_the_cli_exits_3_on_a_hung_endpoint(
    bucket: str, black_hole: BlackHole, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in _options(black_hole.url).items():
        monkeypatch.setenv(name if name.startswith("AWS_") else f"LAKE_STORAGE_{name}", value)
    out = Lake(f"s3://{bucket}/lake", capsys)("log", code=3)
    _says_storage_failed(out, bucket)
    assert "TIMEOUT" in out
