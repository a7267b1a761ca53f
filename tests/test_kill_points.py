"""A crash at every step of every kind of change leaves every branch on the state before or the
state after it, nothing else (issue 15). Real processes die, with ``os._exit``, at each kill point
(:mod:`lake.kill`) that the operation reaches, on local disk and on moto's S3.

For each scenario (:data:`killing.SCENARIOS`), a traced run finds the kill points the operation
passes and what every branch reads after it. Then, for each point (and, for a point reached many
times, its first, a middle and its last reach), a copy of the set-up repository is killed there,
and:

* every branch and tag reads either the state before or the state after;
* ``lake fsck`` reports nothing but garbage (unnamed versions, orphan files);
* the next write succeeds;
* ``lake gc`` then removes the garbage, ``lake fsck`` is clean and nothing readable changed.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from killing import SCENARIOS, check_killed, copy_repo, occurrences, reached, start_child, state
from reliability import record

import lake
from lake import kill
from lake.write import patience


def _where(repo_uri: str, name: str) -> str:
    return f"{repo_uri}-{name}-{uuid.uuid4().hex[:8]}"


# On S3, CI kills these changes only, which reach every kill point but profile.stored (and the
# Spark ones); -m soak (./dev reliability) kills every change on S3 too. Local disk: all in CI.
S3_IN_CI = {"append", "add-column", "contract", "gc"}


def _cases() -> list[Any]:
    return [
        pytest.param(
            backend,
            scenario,
            marks=[pytest.mark.soak] if backend == "s3" and scenario not in S3_IN_CI else [],
            id=f"{backend}-{scenario}",
        )
        for backend in ("local", "s3")
        for scenario in SCENARIOS
    ]


@pytest.mark.parametrize(("backend", "scenario"), _cases())
def test_a_kill_at_every_point_leaves_before_or_after(
    backend: str,
    scenario: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo_uri = (
        str(tmp_path / "lake") if backend == "local" else f"s3://{request.getfixturevalue('bucket')}/lake"
    )
    # The writes after a crash need not wait for the dead writer's Delta version to stand
    # HEAL_GRACE seconds (it will never move its ref): they heal it at their second look.
    monkeypatch.setattr(patience, "HEAL_GRACE", 0.0)
    env = dict(request.getfixturevalue("s3_env")) if backend == "s3" else {}
    plan = SCENARIOS[scenario]
    template = lake.Repository.init(repo_uri)
    plan.setup(template)
    before = state(template)

    traced = _where(repo_uri, "traced")
    copy_repo(repo_uri, traced)
    trace = tmp_path / "trace.jsonl"
    assert start_child(traced, scenario, {**env, kill.KILL_TRACE: str(trace)}) == 0
    after = state(lake.Repository.open(traced))
    points = list(reached(trace))
    assert points, f"{scenario} reached no kill point"
    assert (after != before) == plan.changes_rows, f"{scenario}: what refs read changed: {after != before}"

    killed: list[str] = []
    for name, total in points:
        for n in occurrences(total):
            at = f"{name}#{n}"
            uri = _where(repo_uri, at.replace("#", "-").replace(".", "-"))
            copy_repo(repo_uri, uri)
            assert start_child(uri, scenario, {**env, kill.KILL_AT: at}) == kill.KILLED, at
            try:
                check_killed(uri, before, after, plan.after)
            except BaseException as exc:
                exc.add_note(f"{scenario}: killed at {at}, repository {uri}")
                raise
            killed.append(at)
    record("kill", backend=backend, scenario=scenario, points=killed)
