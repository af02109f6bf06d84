"""The `migtool-lint` pre-commit hook, run for real with `pre-commit try-repo` on a sample git repo.

try-repo installs this repository into a fresh virtualenv with pip, as a user's pre-commit would.
The hook repository is a snapshot (git repo in tmp) of the package files, so the test does not
depend on what is committed in the working tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PRE_COMMIT = Path(sys.executable).parent / "pre-commit"
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}

SAFE = "SET lock_timeout = '5s';\nCREATE TABLE items (id bigint PRIMARY KEY, name text);\n"
UNSAFE = "SET lock_timeout = '5s';\nALTER TABLE items DROP COLUMN name;\n"


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env={**os.environ, **GIT_ENV})


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("hook-repo")
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy2(REPO / name, repo / name)
    shutil.copytree(REPO / "migtool", repo / "migtool", ignore=shutil.ignore_patterns("__pycache__"))
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "hook")
    return repo


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory) -> Path:
    # The hook's virtualenv is built once for the module and reused by both runs.
    return tmp_path_factory.mktemp("pre-commit-home")


def _try_repo(sample: Path, hook_repo: Path, home: Path, *extra: str) -> subprocess.CompletedProcess:
    if not PRE_COMMIT.exists():
        pytest.fail(f"{PRE_COMMIT} missing: pip install -e '.[dev]'", pytrace=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGTOOL_")}
    env.update(GIT_ENV, PRE_COMMIT_HOME=str(home))
    return subprocess.run([str(PRE_COMMIT), "try-repo", str(hook_repo), "migtool-lint", *extra], cwd=sample,
                          env=env, capture_output=True, text=True, timeout=600)


def test_hook_passes_safe_and_fails_unsafe_migrations(tmp_path, hook_repo, pre_commit_home):
    sample = tmp_path / "app"
    migrations = sample / "prisma" / "migrations"
    (migrations / "20250101000000_init").mkdir(parents=True)
    (migrations / "20250101000000_init" / "migration.sql").write_text(SAFE)
    (sample / "notes.sql").write_text("DROP TABLE items;\n")  # not a migration.sql: the hook ignores it
    _git(sample, "init", "-q")
    _git(sample, "add", "-A")

    ok = _try_repo(sample, hook_repo, pre_commit_home, "--all-files")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Passed" in ok.stdout

    _git(sample, "commit", "-qm", "init")
    (migrations / "20250102000000_drop_name").mkdir()
    (migrations / "20250102000000_drop_name" / "migration.sql").write_text(UNSAFE)
    _git(sample, "add", "-A")
    bad = _try_repo(sample, hook_repo, pre_commit_home)  # the staged files, as on `git commit`
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Failed" in bad.stdout and "drop-column" in bad.stdout
    assert "20250102000000_drop_name/migration.sql" in bad.stdout
    assert "notes.sql" not in bad.stdout
