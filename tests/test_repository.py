"""Opening and creating repositories, on a local directory and on S3."""

from __future__ import annotations

from pathlib import Path

import pytest

import lake


def test_init_creates_main_with_one_commit(repo: lake.Repository) -> None:
    assert [b.name for b in repo.branches()] == ["main"]
    [root] = repo.log()
    assert root.commit.parents == ()
    assert root.commit.datasets == {}


def test_open_finds_what_init_made(repo_uri: str) -> None:
    made = lake.Repository.init(repo_uri)
    again = lake.Repository.open(repo_uri)
    assert again.resolve("main") == made.resolve("main")


def test_init_twice_is_refused(repo_uri: str) -> None:
    lake.Repository.init(repo_uri)
    with pytest.raises(lake.RepositoryExistsError, match="already"):
        lake.Repository.init(repo_uri)


def test_open_something_else_says_so_with_the_uri(tmp_path: Path) -> None:
    with pytest.raises(lake.NotARepositoryError) as info:
        lake.Repository.open(str(tmp_path / "nothing"))
    assert str(tmp_path / "nothing") in info.value.message


def test_open_empty_bucket_prefix_says_not_a_repository(bucket: str) -> None:
    with pytest.raises(lake.NotARepositoryError, match=f"s3://{bucket}/nope"):
        lake.Repository.open(f"s3://{bucket}/nope")


def test_unknown_storage_option_is_refused(bucket: str) -> None:
    with pytest.raises(lake.InvalidStorageOptionError, match="AWS_ENDPOINT_ULR"):
        lake.Repository.init(f"s3://{bucket}/x", {"AWS_ENDPOINT_ULR": "http://127.0.0.1:1"})


def test_storage_options_for_a_local_path_are_refused(tmp_path: Path) -> None:
    with pytest.raises(lake.InvalidStorageOptionError):
        lake.Repository.init(str(tmp_path), {"AWS_REGION": "x"})


def test_unsupported_scheme_is_a_usage_error() -> None:
    with pytest.raises(lake.UsageError, match="gs://"):
        lake.Repository.init("gs://bucket/x")
