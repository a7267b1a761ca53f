"""The GitHub Actions example runs as written (issue 13, part 4): its shell steps run here with
GITHUB_OUTPUT and GITHUB_STEP_SUMMARY pointed at files, and its comment script runs in node
against a fake GitHub client, for a gate that passes, one that blocks, and one that could not run.

The install step is the one step not run: it installs lakegate from the repository the workflow
runs in (``pip install .``), which here would replace the checkout's own editable install."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_gate import N, contract, orders

import lake

WORKFLOW = Path(__file__).parent.parent / "examples" / "github-actions" / "lake-gate.yml"
NODE = shutil.which("node")
BIN = os.path.dirname(sys.executable)


def _steps() -> list[dict[str, Any]]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    return list(doc["jobs"]["gate"]["steps"])


def _expand(text: str, outputs: dict[str, str]) -> str:
    """GitHub's ``${{ steps.gate.outputs.status }}`` (and ``|| 3``) expressions, as Actions would."""

    def one(m: re.Match[str]) -> str:
        expr = m.group(1).strip()
        name, _, fallback = (p.strip() for p in expr.partition("||"))
        assert name.startswith("steps.gate.outputs."), expr
        return outputs.get(name.rsplit(".", 1)[1]) or fallback.strip("'\"")

    return re.sub(r"\$\{\{(.*?)\}\}", one, text)


def _run_workflow(work: Path, env: dict[str, str], comments: list[dict[str, Any]]) -> dict[str, Any]:
    output, summary = work / "github_output", work / "step_summary"
    output.touch()
    summary.touch()
    base = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "SOURCE": "daily",
        "TARGET": "main",
        **env,
    }
    logs: dict[str, subprocess.CompletedProcess[str]] = {}
    verdict = None
    for step in _steps():
        if step.get("id") == "install":
            assert "${LAKEGATE:-.}" in step["run"]  # from this repository, or a pinned git URL
            continue
        outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
        if "run" in step:
            script = _expand(step["run"], outputs)
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                cwd=work,
                env=base,
                capture_output=True,
                text=True,
                timeout=300,
            )
            logs[step.get("name", "?")] = done
            if step.get("name") == "Verdict":
                verdict = done.returncode
            else:
                assert done.returncode == 0, f"{step.get('name')}: {done.stderr}"
        elif str(step.get("uses", "")).startswith("actions/github-script"):
            comments[:] = _github_script(step["with"]["script"], work, comments)
    return {"logs": logs, "verdict": verdict, "summary": summary.read_text(), "output": output.read_text()}


HARNESS = r"""
const fs = require('fs');
const state = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const script = fs.readFileSync(process.argv[3], 'utf8');
let nextId = 100;
const github = {
  paginate: async (fn, args) => (await fn(args)).data,
  rest: { issues: {
    listComments: async (args) => ({ data: state.comments }),
    updateComment: async ({ comment_id, body }) => {
      state.comments.find((c) => c.id === comment_id).body = body; state.calls.push('update');
    },
    createComment: async ({ body }) => {
      state.comments.push({ id: nextId++, body }); state.calls.push('create');
    },
  } },
};
const context = { repo: { owner: 'o', repo: 'r' }, issue: { number: 7 } };
const run = new Function('github', 'context', 'require', `return (async () => {${script}})();`);
run(github, context, require).then(() => {
  fs.writeFileSync(process.argv[2], JSON.stringify(state));
}, (e) => { console.error(e); process.exit(1); });
"""


def _github_script(script: str, work: Path, comments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert NODE is not None, (
        "node runs the workflow's github-script step: ./dev test installs Debian's nodejs"
    )
    state, code, harness = work / "state.json", work / "script.js", work / "harness.js"
    state.write_text(json.dumps({"comments": comments, "calls": []}))
    code.write_text(script)
    harness.write_text(HARNESS)
    done = subprocess.run(
        [NODE, str(harness), str(state), str(code)], cwd=work, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(state.read_text())["comments"])


@pytest.fixture
def lake_repo(tmp_path: Path) -> lake.Repository:
    repo = lake.Repository.init(str(tmp_path / "lake"))
    main = repo.branch("main")
    main.set_contract("orders", contract())
    main.write("orders", orders(0, seed=1))
    return repo


def test_a_passing_gate_comments_once_and_updates_that_comment(
    lake_repo: lake.Repository, tmp_path: Path
) -> None:
    lake_repo.create_branch("daily").write("orders", orders(N, seed=2))
    comments: list[dict[str, Any]] = [{"id": 1, "body": "someone else's comment"}]
    work = tmp_path / "work"
    work.mkdir()
    got = _run_workflow(work, {"LAKE_REPO": lake_repo.uri}, comments)
    assert got["verdict"] == 0
    assert {"lake-gate.md", "lake-gate.xml", "lake-gate.html", "lake-gate.json", "lake-gate.github"} <= {
        p.name for p in (work / "gate").iterdir()
    }
    assert "status=0" in got["output"] and "pass" in got["summary"].lower()
    assert len(comments) == 2 and comments[1]["body"].startswith("<!-- lake-gate -->")
    assert "::notice title=lake gate::" in got["logs"]["Gate"].stdout
    again = _run_workflow(work, {"LAKE_REPO": lake_repo.uri}, comments)  # the next push
    assert again["verdict"] == 0 and len(comments) == 2  # updated, not added


def test_a_blocked_gate_fails_the_check_with_annotations(lake_repo: lake.Repository, tmp_path: Path) -> None:
    lake_repo.create_branch("daily").write("orders", orders(N, scale=3.0, seed=2))
    comments: list[dict[str, Any]] = []
    got = _run_workflow(tmp_path, {"LAKE_REPO": lake_repo.uri}, comments)
    assert got["verdict"] == 1
    assert "::error title=lake gate orders::drift/amount" in got["logs"]["Gate"].stdout
    assert len(comments) == 1 and "fail" in comments[0]["body"].lower()


def test_a_gate_that_could_not_run_says_so_and_fails_the_check(tmp_path: Path) -> None:
    env = {
        "LAKE_REPO": "s3://nowhere-bucket/lake",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "s3cr3t-never-shown",
        "LAKE_STORAGE_MAX_RETRIES": "0",
        "LAKE_STORAGE_CONNECT_TIMEOUT": "1",
        "LAKE_STORAGE_RETRY_TIMEOUT": "2",
    }
    comments: list[dict[str, Any]] = []
    got = _run_workflow(tmp_path, env, comments)
    assert got["verdict"] == 3 and "status=3" in got["output"]
    assert (
        "::error title=lake gate::the gate could not run (exit 3)"
        in got["logs"]["Compose the comment"].stdout
    )
    body = comments[0]["body"]
    assert "the gate could not run" in body and "not a verdict" in body and "127.0.0.1:9" in body
    assert "s3cr3t-never-shown" not in body
