"""Backups through the compose target: pg_dump inside the postgres service, verify, restore, the script."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from migtool.backup.restore import restore_backup
from migtool.compose import ComposeProject
from migtool.database import ComposeDatabase

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CONTENT_HASH = """SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) AS h FROM "User" t"""


def migtool(stack, backup_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGTOOL_") and k != "DATABASE_URL"}
    env.update(MIGTOOL_TARGET="compose", MIGTOOL_COMPOSE_PROJECT=stack.project_name,
               MIGTOOL_COMPOSE_ENV_FILE=str(stack.env_file),
               MIGTOOL_COMPOSE_FILE=os.pathsep.join(str(f) for f in stack.compose_files),
               MIGTOOL_MIGRATIONS_DIR=str(REPO / "examples/prisma-app/prisma/migrations"),
               MIGTOOL_BACKUP_DIR=str(backup_dir))
    return subprocess.run([sys.executable, "-m", "migtool", *args], env=env, capture_output=True, text=True,
                          timeout=600, cwd=backup_dir.parent)


@pytest.fixture
def seeded(compose_stack):
    compose_stack.reset_database()
    compose_stack.migrate()
    for i in range(20):
        code, _ = compose_stack.http("POST", "/users", {"email": f"u{i}-{uuid.uuid4().hex[:6]}@example.com",
                                                         "name": f"User {i}", "phone": f"+1555{i:07d}"})
        assert code == 201
    yield compose_stack
    compose_stack.reset_database()


@pytest.mark.parametrize("fmt", ["custom", "sql"])
def test_backup_verify_and_restore_through_compose(seeded, tmp_path, fmt):
    stack = seeded
    backups = tmp_path / "backups"
    res = migtool(stack, backups, "backup", "--reason", "e2e test", "--format", fmt, "--json")
    assert res.returncode == 0, res.stderr
    manifest = json.loads(res.stdout)
    path = backups / manifest["name"] if "name" in manifest else next(backups.glob("*.zst"))
    assert path.name.startswith(f"{stack.db_name}-") and "-e2e-test." in path.name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert manifest["migrations"]["last_applied"] == "20250212090000_user_phone_set_not_null"
    assert stack.db_password not in res.stdout + res.stderr + path.name

    res = migtool(stack, backups, "backups", "verify", "latest", "--restore-test")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "restore test" in res.stdout
    leftovers = stack.psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'migtool_verify_%'")
    assert leftovers.strip().splitlines()[-1] == "0"

    # Round trip: restore into a fresh database in the same service and compare the content.
    project = ComposeProject(stack.compose_files, stack.project_name, stack.env_file)
    db = ComposeDatabase(project, "postgres", stack.db_user, stack.db_name)
    scratch = f"e2e_restore_{uuid.uuid4().hex[:8]}"
    db.execute(f'CREATE DATABASE "{scratch}"')
    try:
        restore_backup(db.with_database(scratch), path, fmt=fmt, compression="zstd")
        assert db.with_database(scratch).query(CONTENT_HASH) == db.query(CONTENT_HASH)
        assert db.with_database(scratch).query('SELECT count(*) AS n FROM "User"')[0]["n"] == 20
    finally:
        db.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


def test_truncated_backup_fails_verify(seeded, tmp_path):
    backups = tmp_path / "backups"
    assert migtool(seeded, backups, "backup", "--reason", "to-truncate").returncode == 0
    path = next(p for p in backups.iterdir() if p.name.endswith(".dump.zst"))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    res = migtool(seeded, backups, "backups", "verify", path.name)
    assert res.returncode == 1
    assert "✘" in res.stdout


def test_shell_script_backs_up_through_compose(seeded, tmp_path):
    backups = tmp_path / "script-backups"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DB_USER", "DB_NAME")}
    env.update(seeded.env)
    res = subprocess.run([str(REPO / "scripts/backup/postgres-backup.sh"), "--reason", "from script",
                          "--dir", str(backups), "--compose-file", str(seeded.compose_files[0])],
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    dumps = [p for p in backups.iterdir() if p.name.endswith(".dump.zst")]
    assert len(dumps) == 1 and dumps[0].name.startswith(f"{seeded.db_name}-")
    check = subprocess.run(["sha256sum", "-c", dumps[0].name + ".sha256"], cwd=backups, capture_output=True)
    assert check.returncode == 0
    res = migtool(seeded, backups, "backups", "verify", dumps[0].name)
    assert res.returncode == 0, res.stdout + res.stderr
