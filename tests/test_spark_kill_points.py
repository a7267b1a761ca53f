"""A Spark driver killed at each step of its commit leaves every branch before or after it
(issue 15), as :mod:`test_kill_points` shows for the lake's own writers: after the executors
wrote their files (Spark's own writer's ``spark-<uuid>/`` folder on local disk, the Python
workers' files on S3), after they rewrote the files that held a key, and at the steps of the
commit that follows. The traced run is the test's own Spark session; each kill costs a Spark
session (a JVM) of its own, so CI kills at the Spark steps only (the commit's steps are the same
as every writer's, which :mod:`test_kill_points` covers); ``-m soak`` kills at every step.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from killing import (
    SPARK_SCENARIOS,
    _main_orders,
    check_killed,
    copy_repo,
    occurrences,
    probe,
    reached,
    spark_scenario,
    start_spark_child,
    state,
)
from reliability import record

import lake
from lake import kill
from lake.write import patience

pytestmark = pytest.mark.spark

IN_CI = {"spark.files", "spark.rewritten"}


def _cases() -> list[Any]:
    """CI: the write on local disk (Spark's own writer), the upsert on both backends (its traced
    run passes spark.files and spark.rewritten); -m soak: every step of both, on both."""
    return [
        pytest.param(
            backend,
            scenario,
            every,
            marks=[pytest.mark.soak] if every or (backend, scenario) == ("s3", "spark-write") else [],
            id=f"{backend}-{scenario}-{'every' if every else 'ci'}",
        )
        for backend in ("local", "s3")
        for scenario in SPARK_SCENARIOS
        for every in (False, True)
    ]


@pytest.mark.parametrize(("backend", "scenario", "every"), _cases())
def test_a_spark_driver_killed_at_each_step_leaves_before_or_after(
    backend: str,
    scenario: str,
    every: bool,
    spark: Any,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo_uri = (
        str(tmp_path / "lake") if backend == "local" else f"s3://{request.getfixturevalue('bucket')}/lake"
    )
    monkeypatch.setattr(patience, "HEAL_GRACE", 0.0)
    env = dict(request.getfixturevalue("s3_env")) if backend == "s3" else {}
    template = lake.Repository.init(repo_uri)
    _main_orders(template)
    before = state(template)
    traced = f"{repo_uri}-traced-{uuid.uuid4().hex[:6]}"
    copy_repo(repo_uri, traced)
    trace = tmp_path / "trace.jsonl"
    with monkeypatch.context() as tracing:
        tracing.setenv(kill.KILL_TRACE, str(trace))
        spark_scenario(spark, lake.Repository.open(traced), scenario)
    after = state(lake.Repository.open(traced))
    assert after != before
    points = dict(reached(trace, os.getpid()))  # the driver's: not the executors' Python workers
    assert "spark.files" in points
    if scenario == "spark-upsert":
        assert "spark.rewritten" in points
    killed: list[str] = []
    for name, total in points.items():
        if not every and name not in IN_CI:
            continue
        for n in occurrences(total)[: None if every else 1]:
            at = f"{name}#{n}"
            uri = f"{repo_uri}-{name.replace('.', '-')}-{n}-{uuid.uuid4().hex[:6]}"
            copy_repo(repo_uri, uri)
            assert start_spark_child(uri, scenario, {**env, kill.KILL_AT: at}) == kill.KILLED, at
            try:
                check_killed(uri, before, after, lambda repo: probe(repo, "main"))
            except BaseException as exc:
                exc.add_note(f"{scenario}: killed at {at}, repository {uri}")
                raise
            killed.append(at)
    record("kill", backend=backend, scenario=scenario, points=killed)
