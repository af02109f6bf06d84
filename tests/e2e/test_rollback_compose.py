"""`migtool rollback` on the example stack with real Prisma: a migration that drops a column (after a
backup) is rolled back beside-and-swap while the app serves; every table's content hash equals its
pre-migration value, the app serves the dropped column again, `migtool status` shows the migration
pending, the app's downtime is measured (goal < 10 s), and `rollback --undo` brings the post-migration
state back. A restored failed row is resolved with `prisma migrate resolve` in the migrate service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
DROP_NAME = "20250301090000_drop_user_phone"
DROP_SQL = 'ALTER TABLE "User" DROP COLUMN "phone";\n'
FAIL_NAME = "20250302090000_broken"
FAIL_SQL = 'ALTER TABLE "User" ADD COLUMN "x" int;\nALTER TABLE "NoSuchTable" ADD COLUMN "y" int;\n'
DOWNTIME_GOAL = 10.0


def migtool(stack, migrations: Path, backup_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in stack.env.items() if not k.startswith("MIGTOOL_") and k != "DATABASE_URL"}
    env.update(MIGTOOL_TARGET="compose", MIGTOOL_COMPOSE_PROJECT=stack.project_name,
               MIGTOOL_COMPOSE_ENV_FILE=str(stack.env_file),
               MIGTOOL_COMPOSE_FILE=os.pathsep.join(str(f) for f in stack.compose_files),
               MIGTOOL_MIGRATIONS_DIR=str(migrations), MIGTOOL_BACKUP_DIR=str(backup_dir),
               MIGTOOL_RESOLVE_COMMAND="pnpm db:migrate:resolve")
    return subprocess.run([sys.executable, "-m", "migtool", *args], env=env, capture_output=True, text=True,
                          timeout=600, cwd=backup_dir.parent, stdin=subprocess.DEVNULL)


def add_migration(folder: Path, name: str, sql: str) -> None:
    d = folder / name
    d.mkdir()
    (d / "migration.sql").write_text(sql)
    d.chmod(0o755)
    (d / "migration.sql").chmod(0o644)


def table_hashes(stack, database: str | None = None) -> dict[str, str]:
    """Every public table's content (md5 of its rows in a stable order) in `database`."""
    db = database or stack.db_name
    psql = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-U", stack.db_user, "-d", db, "-f", "-"]
    tables = stack.compose("exec", "-T", "postgres", *psql,
                           input="SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").stdout.split()
    sql = " UNION ALL ".join(
        f"SELECT '{t}', md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM \"{t}\" x" for t in tables)
    out = stack.compose("exec", "-T", "postgres", *psql, input=sql).stdout
    return dict(line.split("|", 1) for line in out.strip().splitlines())


def statuses(stack, migrations, backups) -> dict[str, str]:
    res = migtool(stack, migrations, backups, "status", "--json")
    return {m["name"]: m["state"] for m in json.loads(res.stdout)["migrations"]}


class HealthWatch:
    """Polls the app's /health; the longest stretch without a good answer is the downtime."""

    def __init__(self, stack):
        self.stack = stack
        self.stop = threading.Event()
        self.last_ok = None
        self.longest = 0.0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                code, _ = self.stack.http("GET", "/health", timeout=2)
                ok = code == 200
            except Exception:
                ok = False
            now = time.monotonic()
            if ok:
                if self.last_ok is not None:
                    self.longest = max(self.longest, now - self.last_ok)
                self.last_ok = now
            time.sleep(0.2)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=30)


@pytest.fixture
def example(compose_stack, migrations_dir, tmp_path):
    stack = compose_stack.with_migrations(migrations_dir)
    stack.reset_database()
    stack.migrate()
    yield stack, migrations_dir, tmp_path / "backups"
    stack.reset_database()
    leftovers = stack.psql("SELECT datname FROM pg_database WHERE datname LIKE '%\\_before\\_%' "
                           "OR datname LIKE '%\\_restore\\_%'")
    for name in leftovers.strip().splitlines()[1:]:
        stack.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_drop_column_rolled_back_beside_and_swap_then_undone(example):
    stack, migrations, backups = example
    for i in range(10):
        code, _ = stack.http("POST", "/users", {"email": f"r{i}-{uuid.uuid4().hex[:6]}@example.com",
                                                 "name": f"R {i}", "phone": f"+1555{i:07d}"})
        assert code == 201
    add_migration(migrations, DROP_NAME, DROP_SQL)
    res = migtool(stack, migrations, backups, "backup", "--reason", "before drop phone", "--json")
    assert res.returncode == 0, res.stderr
    backup = json.loads(res.stdout)
    assert backup["migrations"]["pending"] == [DROP_NAME]
    before = table_hashes(stack)
    stack.migrate()  # real Prisma drops the column
    code, users = stack.http("GET", "/users")
    assert code == 200 and "phone" not in users[0]
    code, _ = stack.http("POST", "/users", {"email": "after@example.com", "name": "written after the backup"})
    assert code == 201
    after = table_hashes(stack)
    assert statuses(stack, migrations, backups)[DROP_NAME] == "applied"

    with HealthWatch(stack) as watch:
        t0 = time.monotonic()
        res = migtool(stack, migrations, backups, "rollback", "--before", DROP_NAME, "--yes", "--json")
        total = time.monotonic() - t0
        time.sleep(1)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    print(f"\nrollback: {total:.1f} s in all; app downtime {out['downtime_seconds']} s (migtool), "
          f"{watch.longest:.1f} s without a healthy answer (polled)")
    assert out["method"] == "beside-and-swap" and out["backup"] == backup["name"]
    parts = out["downtime_parts"]
    print(f"downtime parts: {parts}")
    # What migtool controls (stop the app, swap) stays well under the goal whatever the database's size;
    # the app's own start until its healthcheck passes adds the rest, and on a loaded 2-core CI machine
    # that alone has taken 5-26 s, so the whole is held to a looser bound and reported.
    assert parts["stop app"] + parts["swap"] < DOWNTIME_GOAL / 2
    assert out["downtime_seconds"] < DOWNTIME_GOAL or parts["start app"] > DOWNTIME_GOAL / 2
    assert out["downtime_seconds"] < 60
    assert watch.longest < out["downtime_seconds"] + 5  # polled from outside: the same gap, give or take

    assert table_hashes(stack) == before
    code, users = stack.http("GET", "/users")
    assert code == 200 and len(users) == 10 and all(u["phone"].startswith("+1555") for u in users)
    assert statuses(stack, migrations, backups)[DROP_NAME] == "pending"
    assert out["pending"] == [DROP_NAME]
    assert any("nothing to repair" in line for line in out["prisma"])
    kept = out["kept"]
    assert table_hashes(stack, kept) == after
    diffs = {d["table"]: d for d in out["row_diff"]}
    assert diffs["public.User"]["only_in_kept"] == 1  # the user written after the backup
    assert diffs["public.User"]["columns_only_in_restored"] == ["phone"]

    res = migtool(stack, migrations, backups, "rollback", "--undo", "--yes", "--json")
    assert res.returncode == 0, res.stderr
    assert table_hashes(stack) == after
    assert statuses(stack, migrations, backups)[DROP_NAME] == "applied"
    code, users = stack.http("GET", "/users")
    assert code == 200 and len(users) == 11

    res = migtool(stack, migrations, backups, "rollback", "--cleanup", "--yes", "--json")
    assert res.returncode == 0, res.stderr
    [dropped] = json.loads(res.stdout)["dropped"]  # the copy the undo kept; `kept` is live again
    assert dropped.startswith(f"{stack.db_name}_before_undo_")
    runs = [json.loads(line) for line in (backups / "history.jsonl").read_text().splitlines()]
    assert [r["operation"] for r in runs] == ["rollback", "rollback-undo", "rollback-cleanup"]
    assert runs[0]["downtime_seconds"] == out["downtime_seconds"]


def test_a_restored_failed_row_is_resolved_through_the_migrate_service(example):
    stack, migrations, backups = example
    add_migration(migrations, FAIL_NAME, FAIL_SQL)
    assert stack.migrate(check=False).returncode != 0
    assert statuses(stack, migrations, backups)[FAIL_NAME] == "failed"
    res = migtool(stack, migrations, backups, "backup", "--reason", "after failure", "--json")
    assert res.returncode == 0, res.stderr
    name = json.loads(res.stdout)["name"]
    stack.compose("stop", "app")  # the runbook's case "the app is down": it comes back at the end
    res = migtool(stack, migrations, backups, "rollback", "--to", name, "--yes", "--stop-first", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["method"] == "beside-and-swap (app stopped first)"
    assert out["prisma"] == [f"{FAIL_NAME}: marked rolled back (prisma in the migrate service)"]
    assert statuses(stack, migrations, backups)[FAIL_NAME] == "rolled-back"
    assert stack.http("GET", "/health")[0] == 200
    leftover = subprocess.run(["docker", "ps", "-a", "-q", "--filter", "name=migtool-resolve-"],
                              capture_output=True, text=True).stdout.strip()
    assert leftover == ""


def test_deploy_migrate_on_failure_rollback_restores_its_own_backup(example):
    stack, migrations, backups = example
    for i in range(3):
        assert stack.http("POST", "/users", {"email": f"d{i}-{uuid.uuid4().hex[:6]}@example.com", "name": "D"})[0] == 201
    before = table_hashes(stack)
    add_migration(migrations, FAIL_NAME, FAIL_SQL)
    res = migtool(stack, migrations, backups, "deploy-migrate", "--yes", "--backup", "always",
                  "--on-failure", "rollback", "--json")
    assert res.returncode != 0, res.stderr
    runs = [json.loads(line) for line in (backups / "history.jsonl").read_text().splitlines()]
    deploy = next(r for r in runs if r["operation"] == "deploy-migrate")
    rollback = next(r for r in runs if r["operation"] == "rollback")
    assert rollback["result"] == "rolled-back", rollback
    assert deploy["rollback"]["result"] == "rolled-back" and "rolled back to" in deploy["state"]
    assert table_hashes(stack) == before  # the pre-deploy backup has no row for the failed migration
    assert statuses(stack, migrations, backups)[FAIL_NAME] == "pending"
    assert stack.http("GET", "/health")[0] == 200
