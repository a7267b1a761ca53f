"""Settings (issue 13, part 3): a lake.toml found upward from the working directory, then the
user's config file, overridden by environment variables and then flags; `lake config`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import lake
from lake.cli.app import main


def _lake(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> str:
    capsys.readouterr()
    rc = main(list(args))
    captured = capsys.readouterr()
    assert rc == code, f"lake {' '.join(args)} -> {rc}\n{captured.out}\n{captured.err}"
    return captured.out + captured.err


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder whose lake.toml names a repository; the working directory is a
    subfolder of it, so the file is found upward."""
    lake.Repository.init(str(tmp_path / "repo"))
    (tmp_path / "lake.toml").write_text(f'# the team\'s lake\nrepo = "{tmp_path / "repo"}"\n')
    work = tmp_path / "jobs" / "daily"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    return tmp_path


def _rows(tmp_path: Path) -> Path:
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"id": [1, 2]}), path)
    return path


def test_a_lake_toml_found_upward_names_the_repository(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _lake(capsys, "write", "orders", str(_rows(project)))
    assert lake.Repository.open(str(project / "repo")).read("orders").num_rows == 2
    listed = json.loads(_lake(capsys, "config", "list", "--json"))
    assert {"key": "repo", "value": str(project / "repo"), "source": str(project / "lake.toml")} in listed


def test_environment_beats_the_file_and_a_flag_beats_both(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    other = lake.Repository.init(str(project / "other"))
    third = lake.Repository.init(str(project / "third"))
    monkeypatch.setenv("LAKE_REPO", other.uri)
    _lake(capsys, "write", "orders", str(_rows(project)))
    assert other.read("orders").num_rows == 2
    _lake(capsys, "write", "orders", str(_rows(project)), "--repo", third.uri)
    assert third.read("orders").num_rows == 2
    assert [d.name for d in lake.Repository.open(str(project / "repo")).datasets()] == []
    assert "environment: LAKE_REPO" in _lake(capsys, "config", "list")


def test_branch_and_author_come_from_the_settings(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = lake.Repository.open(str(project / "repo"))
    repo.create_branch("dev")
    _lake(capsys, "config", "set", "branch", "dev")
    _lake(capsys, "config", "set", "author", "etl-bot")
    _lake(capsys, "write", "orders", str(_rows(project)))
    assert repo.read("orders", "dev").num_rows == 2 and "orders" not in [d.name for d in repo.datasets()]
    assert repo.commit("dev").commit.author == "etl-bot"
    text = (project / "lake.toml").read_text()
    assert text.startswith("# the team's lake") and 'branch = "dev"' in text  # comments kept
    assert _lake(capsys, "config", "get", "branch").strip() == "dev"


def test_the_user_file_is_read_when_no_project_file_is_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = lake.Repository.init(str(tmp_path / "mine"))
    monkeypatch.chdir(tmp_path)
    path = Path(_lake(capsys, "config", "set", "repo", repo.uri, "--user").split(" in ", 1)[1].strip())
    assert path == Path(os.environ["XDG_CONFIG_HOME"]) / "lake" / "config.toml"
    _lake(capsys, "write", "orders", str(_rows(tmp_path)))
    assert repo.read("orders").num_rows == 2
    project = lake.Repository.init(str(tmp_path / "project"))
    (tmp_path / "lake.toml").write_text(f'repo = "{project.uri}"\n')
    _lake(capsys, "write", "orders", str(_rows(tmp_path)))
    assert project.read("orders").num_rows == 2 and repo.read("orders").num_rows == 2


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("repo = [unclosed\n", "not valid TOML"),
        ('colour = "red"\n', "unknown setting 'colour'"),
        ('[storage]\nAWS_FAVOURITE = "x"\n', "unknown storage option"),
        ("repo = 3\n", "repo must be a non-empty string"),
    ],
)
def test_a_bad_settings_file_is_bad_input_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, text: str, says: str
) -> None:
    (tmp_path / "lake.toml").write_text(text)
    monkeypatch.chdir(tmp_path)
    out = _lake(capsys, "log", code=2)
    assert says in out and "lake.toml" in out


def test_config_get_and_set_refuse_unknown_keys(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "unknown setting" in _lake(capsys, "config", "get", "colour", code=2)
    assert "unknown setting" in _lake(capsys, "config", "set", "colour", "red", code=2)
    assert _lake(capsys, "config", "get", "author") == ""


def test_storage_options_from_the_settings_reach_s3(
    s3_env: dict[str, str],
    bucket: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The repository on S3 is reached with the file's endpoint and keys, the environment having
    none; a secret is never shown by `lake config list`."""
    uri = f"s3://{bucket}/lake"
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    lines = [f'repo = "{uri}"', "[storage]", *(f'{k} = "{v}"' for k, v in s3_env.items())]
    (tmp_path / "lake.toml").write_text("\n".join(lines) + "\n")
    monkeypatch.chdir(tmp_path)
    _lake(capsys, "init")  # init too reaches S3 with the file's options
    _lake(capsys, "write", "orders", str(_rows(tmp_path)))
    listed = {r["key"]: r["value"] for r in json.loads(_lake(capsys, "config", "list", "--json"))}
    assert listed["storage.AWS_SECRET_ACCESS_KEY"] == "***"
    assert listed["storage.AWS_ENDPOINT_URL"] == s3_env["AWS_ENDPOINT_URL"]
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_env["AWS_ENDPOINT_URL"])
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(k, s3_env[k])
    assert lake.Repository.open(uri).read("orders").num_rows == 2
