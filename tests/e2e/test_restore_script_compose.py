"""scripts/restore/postgres-restore.sh through docker compose (its default target), with no python on
PATH: a -c restore swaps in the backup (content hashes compared) while the app keeps serving from the
new database; a truncated backup is refused and changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.e2e.test_rollback_compose import table_hashes
from tests.support.nopython import no_python_path

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "restore" / "postgres-restore.sh"


def script(stack, path: str, args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    bare = no_python_path(tmp_path / "bin")
    env = {k: v for k, v in stack.env.items() if k.startswith("COMPOSE_") or k in ("HOME", "DOCKER_HOST")}
    env["PATH"] = bare
    return subprocess.run(["bash", str(SCRIPT), path, *args], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)


def test_script_restores_through_compose_and_refuses_a_truncated_backup(compose_stack, tmp_path):
    stack = compose_stack
    stack.reset_database()
    stack.migrate()
    for i in range(5):
        assert stack.http("POST", "/users", {"email": f"s{i}-{uuid.uuid4().hex[:6]}@example.com", "name": "S"})[0] == 201
    backups = tmp_path / "backups"
    env = {k: v for k, v in stack.env.items() if not k.startswith("MIGTOOL_")}
    env.update(MIGTOOL_TARGET="compose", MIGTOOL_COMPOSE_PROJECT=stack.project_name,
               MIGTOOL_COMPOSE_ENV_FILE=str(stack.env_file), MIGTOOL_BACKUP_DIR=str(backups),
               MIGTOOL_COMPOSE_FILE=os.pathsep.join(str(f) for f in stack.compose_files),
               MIGTOOL_MIGRATIONS_DIR=str(REPO / "examples/prisma-app/prisma/migrations"))
    res = subprocess.run([sys.executable, "-m", "migtool", "backup", "--reason", "script e2e", "--json"], env=env,
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    path = backups / json.loads(res.stdout)["name"]
    before = table_hashes(stack)
    stack.psql('DELETE FROM "User" WHERE id % 2 = 0')
    changed = table_hashes(stack)
    assert changed != before

    bad = tmp_path / "bad" / path.name
    bad.parent.mkdir()
    bad.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    res = script(stack, str(bad), ["-c", "--yes"], tmp_path)
    assert res.returncode == 1 and "no database was touched" in res.stderr, res.stderr
    assert table_hashes(stack) == changed

    res = script(stack, str(path), ["-c", "--yes"], tmp_path)
    assert res.returncode == 0, res.stderr
    assert stack.db_password not in res.stdout + res.stderr
    assert table_hashes(stack) == before
    code, users = stack.http("GET", "/users")  # the running app reconnects to the swapped-in database
    assert code == 200 and len(users) == 5
    kept = [n for n in stack.psql("SELECT datname FROM pg_database").split() if "_before_restore_" in n]
    assert len(kept) == 1 and table_hashes(stack, kept[0]) == changed
    stack.psql(f'DROP DATABASE "{kept[0]}" WITH (FORCE)')
    assert os.path.exists(path)
