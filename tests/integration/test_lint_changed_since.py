"""`migtool lint --changed-since REF` on a real git history: exactly the changed migrations are linted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from migtool.gitchanges import changed_migrations

pytestmark = pytest.mark.integration

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
LT = "SET lock_timeout = '5s';\n"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}).stdout


def write(repo: Path, name: str, sql: str) -> None:
    folder = repo / "prisma" / "migrations" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "migration.sql").write_text(sql)


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def lint(repo: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGTOOL_") and k != "DATABASE_URL"}
    return subprocess.run([sys.executable, "-m", "migtool", "lint", *args], cwd=repo, capture_output=True, text=True,
                          env={**env, **GIT_ENV, "MIGTOOL_MIGRATIONS_DIR": "prisma/migrations"}, timeout=120)


@pytest.fixture
def history(tmp_path) -> Path:
    """main: init, orders, noop. feature (from there): adds two, edits orders, deletes noop; main moves on
    afterwards with a migration the feature branch must not lint; one untracked migration on top."""
    repo = tmp_path / "app"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(repo, "20250101000000_init", "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n")
    write(repo, "20250102000000_orders", "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint);\n")
    write(repo, "20250103000000_noop", "SELECT 1;\n")
    (repo / "prisma" / "migrations" / "migration_lock.toml").write_text('provider = "postgresql"\n')
    commit(repo, "base")
    git(repo, "checkout", "-q", "-b", "feature")
    write(repo, "20250201000000_users_email_index", LT + "CREATE INDEX users_email_idx ON users (email);\n")
    write(repo, "20250202000000_tags", LT + "CREATE TABLE tags (id bigint PRIMARY KEY, name text);\n"
                                            "CREATE INDEX tags_name_idx ON tags (name);\n")
    write(repo, "20250205000000_tags_slug", LT + "ALTER TABLE tags ADD COLUMN slug text;\n"
                                                 "CREATE INDEX tags_slug_idx ON tags (slug);\n")
    write(repo, "20250102000000_orders", "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint, total int);\n"
                                         "CREATE INDEX orders_user_idx ON orders (user_id);\n")
    (repo / "prisma" / "migrations" / "20250103000000_noop" / "migration.sql").unlink()
    (repo / "prisma" / "migrations" / "migration_lock.toml").write_text('provider = "postgresql" # edited\n')
    commit(repo, "feature")
    git(repo, "checkout", "-q", "main")
    write(repo, "20250150000000_main_only", "ALTER TABLE users DROP COLUMN email;\n")
    commit(repo, "main moves on")
    git(repo, "checkout", "-q", "feature")
    write(repo, "20250203000000_untracked", LT + "ALTER TABLE users DROP COLUMN email;\n")  # not committed yet
    return repo


def test_lints_exactly_the_changed_migrations(history):
    res = lint(history, "--changed-since", "main", "--format", "json")
    assert res.returncode == 1, res.stderr
    report = json.loads(res.stdout)
    base = "prisma/migrations/"
    assert report["summary"]["files"] == 5
    linted = {f["file"] for f in report["findings"]}
    by_rule: dict[str, set[str]] = {}
    for f in report["findings"]:
        by_rule.setdefault(f["rule"], set()).add(f["file"])
    # main's later migration is not part of this branch's changes
    assert not any("main_only" in f for f in linted)
    assert by_rule["edited-applied-migration"] == {base + "20250102000000_orders/migration.sql",
                                                   base + "20250103000000_noop/migration.sql"}
    # users comes from an earlier migration: existing, so a blocking index on it is reported...
    assert by_rule["create-index-blocking"] == {base + "20250201000000_users_email_index/migration.sql"}
    # ...while tags is created by this branch: new in this deploy, for its own migration and the next one.
    assert base + "20250202000000_tags/migration.sql" not in by_rule.get("create-index-blocking", set())
    assert base + "20250205000000_tags_slug/migration.sql" not in by_rule.get("create-index-blocking", set())
    # The edited merged migration is also linted on its own: orders is new in it, so its index is fine.
    assert base + "20250102000000_orders/migration.sql" not in by_rule.get("create-index-blocking", set())
    assert by_rule["drop-column"] == {base + "20250203000000_untracked/migration.sql"}
    edited = [f for f in report["findings"] if f["rule"] == "edited-applied-migration"]
    assert all(f["severity"] == "danger" and "git checkout" in f["fix"] for f in edited)
    assert any("deleted" in f["message"] for f in edited) and any("SQL changed" in f["message"] for f in edited)


def test_core_reports_files_applied_and_edited(history):
    changes = changed_migrations(history / "prisma" / "migrations", "main")
    assert [p.parent.name for p in changes.added] == [
        "20250201000000_users_email_index", "20250202000000_tags", "20250203000000_untracked",
        "20250205000000_tags_slug"]
    assert [p.parent.name for p in changes.modified] == ["20250102000000_orders"]
    # Existing objects for the added ones: every migration before them, the edited one included.
    assert [p.parent.name for p in changes.applied] == ["20250101000000_init", "20250102000000_orders"]
    assert [(e.path.parent.name, e.status) for e in changes.edited] == [
        ("20250102000000_orders", "modified"), ("20250103000000_noop", "deleted")]


def test_github_and_sarif_formats_carry_the_finding(history):
    gh = lint(history, "--changed-since", "main", "--format", "github")
    assert "::error file=prisma/migrations/20250102000000_orders/migration.sql,line=1,title=edited-applied-migration" \
        in gh.stdout
    sarif = json.loads(lint(history, "--changed-since", "main", "--format", "sarif").stdout)
    results = sarif["runs"][0]["results"]
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    edited = [r for r in results if r["ruleId"] == "edited-applied-migration"]
    assert edited and all(rules[r["ruleIndex"]]["id"] == "edited-applied-migration" for r in edited)


def test_nothing_changed_passes(history):
    (history / "prisma" / "migrations" / "20250203000000_untracked" / "migration.sql").unlink()
    res = lint(history, "--changed-since", "HEAD")
    assert res.returncode == 0, res.stderr
    assert "nothing to lint" in res.stderr


def test_unknown_ref_is_a_usage_error_with_the_fetch_hint(history):
    res = lint(history, "--changed-since", "origin/nope")
    assert res.returncode == 2
    assert "git fetch origin nope " in res.stderr and "fetch-depth: 0" in res.stderr


def test_outside_a_git_repository(tmp_path):
    write(tmp_path, "20250101000000_init", "SELECT 1;\n")
    res = lint(tmp_path, "--changed-since", "main")
    assert res.returncode == 2 and "not inside a git repository" in res.stderr
