"""deploy-migrate end to end: the example compose stack, real Prisma in the migrate container.

Each test starts from an empty database (schema dropped) and its own backup folder; the stack is
the session's. The migrate service reads a copy of the example's migrations with the test's
additions (compose.migrations-override.yml).
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from migtool.deploy.lock import DEPLOY_LOCK_KEY
from migtool.migrations.table import PRISMA_LOCK_KEY
from migtool.runs import read_runs

pytestmark = pytest.mark.e2e

LOCKS_SQL = (f"SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted "
             f"AND objid IN ({DEPLOY_LOCK_KEY}, {PRISMA_LOCK_KEY})")
SLEEPING_SQL = "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(120)%'"
PRISMA_LOCK_SQL = (f"SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = {PRISMA_LOCK_KEY}")


def add_migration(mdir: Path, name: str, sql: str) -> None:
    folder = mdir / name
    folder.mkdir()
    (folder / "migration.sql").write_text(sql)
    folder.chmod(0o755)
    (folder / "migration.sql").chmod(0o644)


def env_for(stack, mdir: Path, backups: Path, **extra) -> dict[str, str]:
    variant = stack.with_migrations(mdir)
    env = {k: v for k, v in variant.env.items() if not k.startswith("MIGTOOL_") and k != "DATABASE_URL"}
    env.update(MIGTOOL_TARGET="compose", MIGTOOL_COMPOSE_PROJECT=stack.project_name,
               MIGTOOL_COMPOSE_ENV_FILE=str(stack.env_file),
               MIGTOOL_COMPOSE_FILE=os.pathsep.join(str(f) for f in variant.compose_files),
               MIGTOOL_MIGRATIONS_DIR=str(mdir), MIGTOOL_BACKUP_DIR=str(backups), **extra)
    return env


def migtool(stack, mdir, backups, *args, timeout=300, **extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "migtool", *args], env=env_for(stack, mdir, backups, **extra),
                          capture_output=True, text=True, timeout=timeout, cwd=backups.parent)


def start(stack, mdir, backups, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "migtool", *args], env=env_for(stack, mdir, backups),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=backups.parent)



def locks_held(stack) -> int:
    return int(stack.psql_rows(LOCKS_SQL)[0]["n"])


def migrate_containers() -> list[str]:
    out = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}", "--filter", "name=migtool-deploy-migrate-"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return out.split()


def migration_rows(stack, name: str) -> list[dict[str, str]]:
    return stack.psql_rows(f"SELECT started_at, finished_at FROM _prisma_migrations WHERE migration_name = '{name}'")


@pytest.fixture
def fresh(compose_stack, migrations_dir, tmp_path):
    """An empty database, the example migrations to add to, and a backup folder."""
    compose_stack.reset_database()
    yield compose_stack, migrations_dir, tmp_path / "backups"
    compose_stack.reset_database()


@pytest.fixture
def baseline(fresh):
    """The example's migrations applied by Prisma itself."""
    stack, mdir, backups = fresh
    stack.migrate()
    return fresh


def test_safe_applies_without_backup_and_danger_takes_a_verified_backup_first(fresh):
    stack, mdir, backups = fresh
    add_migration(mdir, "20250301090000_add_scratch", 'CREATE TABLE "Scratch" (id int PRIMARY KEY);\n')
    res = migtool(stack, mdir, backups, "deploy-migrate", "--yes", "--json")
    assert res.returncode == 0, res.stderr
    record = json.loads(res.stdout)
    assert record["result"] == "applied" and len(record["pending"]) == 8
    assert "backup" not in record and not list(backups.glob("*.zst"))
    assert "migrations have been successfully applied" in res.stderr  # Prisma's own output, streamed
    assert stack.db_password not in res.stdout + res.stderr

    add_migration(mdir, "20250302090000_drop_scratch", 'DROP TABLE "Scratch";\n')
    refused = migtool(stack, mdir, backups, "deploy-migrate", "--yes")
    assert refused.returncode == 1 and "drop-table" in refused.stderr and "fix:" in refused.stderr
    res = migtool(stack, mdir, backups, "deploy-migrate", "--yes", "--allow-danger", "--json")
    assert res.returncode == 0, res.stderr
    record = json.loads(res.stdout)
    backup = backups / record["backup"]["name"]
    manifest = json.loads(backup.with_name(backup.name + ".json").read_text())
    assert json.loads(backup.with_name(backup.name + ".verified.json").read_text())["ok"] is True
    assert manifest["migrations"]["pending"] == ["20250302090000_drop_scratch"]
    [row] = migration_rows(stack, "20250302090000_drop_scratch")
    finished = datetime.fromisoformat(manifest["finished_at"].replace("Z", "+00:00"))
    assert finished < datetime.fromisoformat(row["started_at"])
    assert backup.with_name(backup.name + ".pinned").exists()
    assert migrate_containers() == [] and locks_held(stack) == 0


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        type(self).received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_failed_migration_prints_the_rollback_command_pins_the_backup_and_notifies(baseline):
    stack, mdir, backups = baseline
    name = "20250301090000_half_way"
    add_migration(mdir, name, 'ALTER TABLE "User" ADD COLUMN "nickname" text;\nALTER TABLE "Nope" ADD COLUMN x int;\n')
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        hook = f"http://127.0.0.1:{server.server_port}/hooks/T000/secret-token"
        res = migtool(stack, mdir, backups, "deploy-migrate", "--yes", "--backup", "always", "--json",
                      MIGTOOL_NOTIFY_WEBHOOK_URL=hook)
    finally:
        server.shutdown()
    assert res.returncode == 1, res.stderr
    record = json.loads(res.stdout)
    backup = record["backup"]["name"]
    assert f"migration {name} failed" in res.stderr and f"migtool rollback --to {backup}" in res.stderr
    assert f"migrate resolve --rolled-back {name}" in res.stderr
    assert (backups / (backup + ".pinned")).exists() and (backups / backup).exists()
    [payload] = _Hook.received
    assert payload["event"] == "deploy-migrate.failed" and payload["backup"]["name"] == backup
    assert stack.db_password not in json.dumps(payload) and "secret-token" not in res.stderr
    assert migrate_containers() == [] and locks_held(stack) == 0

    # A dead webhook changes nothing: the next run still stops at status with exit 1.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
    again = migtool(stack, mdir, backups, "deploy-migrate", "--yes", MIGTOOL_NOTIFY_WEBHOOK_URL=dead)
    assert again.returncode == 1 and "failed in an earlier deploy" in again.stderr
    assert "could not notify 127.0.0.1" in again.stderr


def test_two_concurrent_runs_never_both_migrate(baseline):
    stack, mdir, backups = baseline
    name = "20250301090000_add_audit"
    add_migration(mdir, name, 'CREATE TABLE "Audit" (id int PRIMARY KEY);\n')
    procs = [start(stack, mdir, backups, "deploy-migrate", "--yes", "--lock-timeout", "1") for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1], results
    loser = next(err for code, err in results if code == 1)
    assert "another deploy holds the deploy lock" in loser and "run deploy-migrate-" in loser
    assert len(migration_rows(stack, name)) == 1
    records = read_runs(backups)
    assert sorted(r["result"] for r in records) == ["applied", "lock-busy"]
    assert sum(1 for r in records for s in r["steps"] if s["name"] == "migrate") == 1


def test_sigint_and_timeout_during_migrate_leave_no_container_and_no_lock(baseline):
    stack, mdir, backups = baseline
    name = "20250301090000_slow"
    add_migration(mdir, name, "SELECT pg_sleep(120);\n")
    proc = start(stack, mdir, backups, "deploy-migrate", "--yes")
    deadline = time.monotonic() + 120
    while not stack.psql_rows(PRISMA_LOCK_SQL):  # Prisma is inside the migration now
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else ""
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert migrate_containers() == [], err
    assert locks_held(stack) == 0
    assert stack.psql_rows(SLEEPING_SQL) == []  # the server session busy in the migration was ended too
    record = read_runs(backups)[-1]
    assert record["result"] == "interrupted" and record["steps"][-1]["name"] == "migrate"
    assert record["ended_sessions"]

    # Prisma recorded the interrupted attempt as started: clear it as an operator would (resolve).
    stack.psql(f"DELETE FROM _prisma_migrations WHERE migration_name = '{name}'")
    res = migtool(stack, mdir, backups, "deploy-migrate", "--yes", "--timeout", "15")
    assert res.returncode == 1 and "did not finish in 15 s" in res.stderr, res.stderr
    assert migrate_containers() == []
    assert locks_held(stack) == 0
    assert read_runs(backups)[-1]["result"] == "timeout"


def test_stale_prisma_lock_is_detected_and_unlock_terminate_clears_it(baseline):
    stack, mdir, backups = baseline
    add_migration(mdir, "20250301090000_add_tag", 'CREATE TABLE "Tag" (id int PRIMARY KEY);\n')
    holder = subprocess.Popen(stack.compose_argv("exec", "-T", "postgres", "psql", "-X", "-U", stack.db_user, "-d",
                                                 stack.db_name, "-c", f"SELECT pg_advisory_lock({PRISMA_LOCK_KEY})",
                                                 "-c", "SELECT pg_sleep(300)"),
                              env=stack.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not stack.psql_rows(PRISMA_LOCK_SQL):
            assert time.monotonic() < deadline
            time.sleep(0.3)
        pid = stack.psql_rows(PRISMA_LOCK_SQL)[0]["pid"]
        res = migtool(stack, mdir, backups, "deploy-migrate", "--yes")
        assert res.returncode == 1
        assert "Prisma's migrate lock" in res.stderr and f"migtool unlock --terminate {pid} --yes" in res.stderr
        assert migration_rows(stack, "20250301090000_add_tag") == []
        listed = migtool(stack, mdir, backups, "unlock", "--json")
        assert [(str(h["pid"]), h["lock"]) for h in json.loads(listed.stdout)["holders"]] == [(pid, "prisma")]
        ended = migtool(stack, mdir, backups, "unlock", "--terminate", pid, "--yes")
        assert ended.returncode == 0, ended.stderr
        assert locks_held(stack) == 0
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_a_killed_run_leaves_prismas_lock_and_the_next_run_says_how_to_clear_it(baseline):
    """kill -9 cannot be cleaned up after: our lock goes with our session, but the container (and
    Prisma's lock, P1002 for every later deploy) stays. The next run names both ways out."""
    stack, mdir, backups = baseline
    add_migration(mdir, "20250301090000_slow", "SELECT pg_sleep(120);\n")
    proc = start(stack, mdir, backups, "deploy-migrate", "--yes")
    deadline = time.monotonic() + 120
    while not stack.psql_rows(PRISMA_LOCK_SQL):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else ""
        time.sleep(0.5)
    proc.kill()
    proc.wait(timeout=30)
    [container] = migrate_containers()
    try:
        stack.psql("DELETE FROM _prisma_migrations WHERE migration_name = '20250301090000_slow'")
        res = migtool(stack, mdir, backups, "deploy-migrate", "--yes", "--lock-timeout", "20")
        assert res.returncode == 1 and f"docker rm -f {container}" in res.stderr, res.stderr
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, timeout=60)
    # The server session is still busy in pg_sleep, holding Prisma's lock with no client.
    pid = stack.psql_rows(PRISMA_LOCK_SQL)[0]["pid"]
    res = migtool(stack, mdir, backups, "deploy-migrate", "--yes")
    assert res.returncode == 1 and f"migtool unlock --terminate {pid} --yes" in res.stderr, res.stderr
    assert migtool(stack, mdir, backups, "unlock", "--terminate", pid, "--yes").returncode == 0
    assert locks_held(stack) == 0
