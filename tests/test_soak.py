"""A random-kill soak (issue 15): a writer, a merger or a gc is SIGKILLed at a random moment, 200
times, on local disk and on S3; no run may leave a corrupt state.

Each run copies a set-up repository, starts a child that works on it without pause (writes
and transactions on main and on a branch, merges of new branches into main, or gc), and kills it
with SIGKILL after a random delay. A corrupt state is any of:

* a branch that does not read, or reads rows no commit made: every commit is a transaction that
  writes ``events`` and ``tally`` together, so each commit holds ``BATCH`` events per tally row;
* a commit the child was told had landed (it records each id, flushed, as it returns) that is not
  in its branch's history;
* ``lake fsck`` reporting anything but garbage; the next write failing; ``lake gc`` leaving
  garbage or changing what a branch reads.

CI runs :data:`IN_CI` runs per backend; the rest carry the ``soak`` marker
(``./dev test -m soak`` runs them).
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from killing import BATCH, copy_repo, forkserver, soak_commit, soak_setup, soak_work, state
from reliability import record

import lake
from lake.write import patience

RUNS = 100  # per backend: 200 in all
IN_CI = 10  # per backend
ROLES = ("writer", "merger", "gc")


def _consistent(repo: lake.Repository) -> None:
    """Every branch reads a state some commit made: BATCH events per tally row, seq by seq."""
    for info in repo.branches():
        events = repo.read("events", ref=info.name).to_pylist()
        tally = repo.read("tally", ref=info.name).to_pylist()
        counts: dict[tuple[str, int], int] = {}
        for row in events:
            counts[(row["tag"], row["seq"])] = counts.get((row["tag"], row["seq"]), 0) + 1
        assert counts == {(t["tag"], t["seq"]): BATCH for t in tally}, info.name


def _history(repo: lake.Repository, branch: str) -> set[str]:
    return {c.id for c in repo.log(branch)}


def _runs() -> list[Any]:
    out = []
    for backend in ("local", "s3"):
        for run in range(RUNS):
            marks = [pytest.mark.soak] if run >= IN_CI else []
            out.append(pytest.param(backend, run, marks=marks, id=f"{backend}-{run}"))
    return out


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {}  # backend -> the set-up repository each run copies (made by the first run)


@pytest.mark.parametrize(("backend", "run"), _runs())
def test_a_random_kill_leaves_no_corrupt_state(
    backend: str,
    run: int,
    templates: dict[str, str],
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(patience, "HEAL_GRACE", 0.0)  # the killed child will never move its ref
    env = dict(request.getfixturevalue("s3_env")) if backend == "s3" else {}
    if backend not in templates:
        if backend == "s3":
            uri = f"s3://{request.getfixturevalue('bucket')}/template"
        else:
            uri = str(tmp_path_factory.mktemp("soak") / "template")
        soak_setup(lake.Repository.init(uri))
        templates[backend] = uri
    template = templates[backend]
    uri = f"{template}-{run}-{uuid.uuid4().hex[:6]}"
    copy_repo(template, uri)
    rng = random.Random(run)
    role = ROLES[run % len(ROLES)]
    acked = tmp_path / "acked.jsonl"

    child = forkserver().Process(target=soak_work, args=(uri, env, role, run, str(acked)))
    child.start()
    time.sleep(rng.uniform(0.5, 4.0))
    assert child.is_alive(), f"the {role} ended before it was killed: exit code {child.exitcode}"
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join(timeout=30)
    assert child.exitcode == -signal.SIGKILL

    repo = lake.Repository.open(uri)
    _consistent(repo)
    landed = [json.loads(line) for line in acked.read_text().splitlines()] if acked.exists() else []
    for branch in {a["branch"] for a in landed}:
        lost = {a["commit"] for a in landed if a["branch"] == branch} - _history(repo, branch)
        assert not lost, f"{role}: acknowledged commits missing from {branch}: {sorted(lost)}"
    problems = repo.fsck(grace="0s").problems
    assert not problems, [p.message for p in problems]
    soak_commit(repo, "main", "after", 1)
    soak_commit(repo, "dev", "after", 1)
    healed = state(repo)
    repo.gc(older_than="0s", grace="0s")
    check = repo.fsck(grace="0s")
    assert check.clean, check.to_dict()
    assert state(repo) == healed
    _consistent(repo)
    record("soak", backend=backend, role=role)
