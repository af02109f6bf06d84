"""action.yml's shell steps run for real (bash, git, migtool) in a shallow clone of a pull request branch;
the GitLab Code Quality format; the copy-ready workflows in docs/ci.md are valid and match action.yml."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ACTION = yaml.safe_load((REPO / "action.yml").read_text())
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}).stdout.strip()


def _step(name: str) -> dict:
    return next(s for s in ACTION["runs"]["steps"] if s.get("name") == name)


def _expand(value: str, inputs: dict[str, str]) -> str:
    return re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: inputs[m.group(1)], value)


def run_step(name: str, cwd: Path, inputs: dict[str, str], output: Path) -> subprocess.CompletedProcess:
    """One composite step as the runner would: bash -e, its env with ${{ inputs.* }} filled in."""
    defaults = {k: str(v.get("default", "")) for k, v in ACTION["inputs"].items()}
    values = {**defaults, **inputs}
    step = _step(name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGTOOL_")}
    env.update(GIT_ENV, GITHUB_OUTPUT=str(output),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.update({k: _expand(str(v), values) for k, v in (step.get("env") or {}).items()})
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def pull_request(tmp_path) -> tuple[Path, str]:
    """An origin repo with main and a feature branch; a shallow clone of the feature branch, as
    actions/checkout makes by default. Returns (clone, base commit)."""
    origin = tmp_path / "origin"
    migrations = origin / "prisma" / "migrations"
    (migrations / "20250101000000_init").mkdir(parents=True)
    (migrations / "20250101000000_init" / "migration.sql").write_text("CREATE TABLE users (id bigint, email text);\n")
    git(origin, "init", "-q", "-b", "main")
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "init")
    base = git(origin, "rev-parse", "HEAD")
    git(origin, "checkout", "-q", "-b", "feature")
    (migrations / "20250201000000_drop_email").mkdir()
    (migrations / "20250201000000_drop_email" / "migration.sql").write_text(
        "SET lock_timeout = '5s';\nALTER TABLE users DROP COLUMN email;\n")
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "drop email")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", "--branch", "feature", f"file://{origin}", str(clone))
    return clone, base


def test_action_steps_fetch_the_base_and_fail_on_the_unsafe_migration(pull_request, tmp_path):
    clone, base = pull_request
    output = tmp_path / "github_output"
    inputs = {"base": base, "migrations-dir": "prisma/migrations"}

    fetched = run_step("Fetch the base commit", clone, inputs, output)
    assert fetched.returncode == 0, fetched.stderr
    assert git(clone, "rev-parse", "--is-shallow-repository") == "false"

    lint = run_step("Lint the changed migrations", clone, inputs, output)
    assert lint.returncode == 1, lint.stdout + lint.stderr
    assert ("::error file=prisma/migrations/20250201000000_drop_email/migration.sql,line=2"
            in lint.stdout) and "drop-column" in lint.stdout
    assert "exit-code=1" in output.read_text()

    sarif = run_step("SARIF for code scanning", clone, inputs, output)
    assert sarif.returncode == 0, sarif.stderr  # findings are the lint step's business
    results = json.loads((clone / "migtool.sarif").read_text())["runs"][0]["results"]
    assert [r["ruleId"] for r in results if r["level"] == "error"] == ["drop-column"]

    relaxed = run_step("Lint the changed migrations", clone, {**inputs, "fail-on": "danger", "base": "HEAD"}, output)
    assert relaxed.returncode == 0, relaxed.stderr  # nothing changed since HEAD


def test_action_without_a_base_says_what_to_set(pull_request, tmp_path):
    clone, _ = pull_request
    res = run_step("Fetch the base commit", clone, {"base": ""}, tmp_path / "out")
    assert res.returncode == 2 and "::error::" in res.stdout and "'base' input" in res.stdout


def test_gitlab_code_quality_report(pull_request, tmp_path):
    clone, base = pull_request
    git(clone, "fetch", "-q", "--unshallow", "origin")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGTOOL_")}
    res = subprocess.run([sys.executable, "-m", "migtool", "lint", "--changed-since", base, "--format", "gitlab",
                          "--migrations-dir", "prisma/migrations"], cwd=clone, env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 1, res.stderr
    issues = json.loads(res.stdout)
    drop = next(i for i in issues if i["check_name"] == "drop-column")
    assert drop["severity"] == "critical"
    assert drop["location"] == {"path": "prisma/migrations/20250201000000_drop_email/migration.sql",
                                "lines": {"begin": 2}}
    assert len({i["fingerprint"] for i in issues}) == len(issues)


def test_docs_workflows_are_valid_yaml_and_use_real_inputs():
    text = (REPO / "docs" / "ci.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    assert len(blocks) >= 4
    docs = [yaml.safe_load(b) for b in blocks]
    workflow = docs[0]
    step = next(s for s in workflow["jobs"]["lint"]["steps"] if "migtool" in s.get("uses", ""))
    assert set(step["with"]) <= set(ACTION["inputs"])
    gitlab = next(d for d in docs if "migtool-lint" in d and isinstance(d["migtool-lint"], dict))
    assert gitlab["migtool-lint"]["artifacts"]["reports"]["codequality"] == "gl-code-quality.json"
    hook = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook[0]["id"] == "migtool-lint"
