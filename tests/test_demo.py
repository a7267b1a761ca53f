"""The README's demo runs as a test (docs that run), on the embedded local default."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import lake

DEMO = Path(__file__).resolve().parent.parent / "demo" / "demo.sh"


def test_the_demo_tells_its_story(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("LAKE_REPO", None)
    run = subprocess.run(
        ["bash", str(DEMO), str(tmp_path / "demo")], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    out = run.stdout + run.stderr
    for step in (
        "lake init",
        "lake contract set orders",
        "lake diff main load-day2",
        "lake merge load-day2",
        "lake read orders --ref day1",
        "lake merge team-b",
    ):
        assert step in out
    assert "lake gate load-day2 -> main: passed" in out
    assert "refused, as it should be" in out and "rows were set aside in orders__quarantine" in out
    assert "lake gate load-day4 -> main: BLOCKED" in out and "blocked, as it should be" in out
    assert (tmp_path / "demo" / "gate-day4.html").is_file()
    assert (tmp_path / "demo" / ".lake" / "orders" / "_delta_log").is_dir()


def test_the_demo_runs_on_s3_twice_in_a_row(tmp_path: Path, s3_env: dict[str, str], bucket: str) -> None:
    """`LAKE_REPO=s3://...` runs the same story on S3 (moto here), and again: each run makes a
    repository of its own below the prefix."""
    env = {
        **os.environ,
        **s3_env,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "LAKE_REPO": f"s3://{bucket}/demos",
    }
    repos = []
    for attempt in range(2):
        run = subprocess.run(
            ["bash", str(DEMO), str(tmp_path / f"demo{attempt}")],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        out = run.stdout + run.stderr
        assert "lake gate load-day4 -> main: BLOCKED" in out and "lake merge team-b" in out
        (uri,) = re.findall(r"the demo's repository: (s3://\S+)", out)
        repos.append(uri)
        assert lake.Repository.open(uri).read("orders").num_rows > 0
    assert repos[0] != repos[1] and all(r.startswith(f"s3://{bucket}/demos/demo-") for r in repos)


def test_the_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (DEMO.parent.parent / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    repo = lake.Repository.open("my-lake")
    assert sorted(repo.read("orders", "fix").column("order_id").to_pylist()) == [2]
