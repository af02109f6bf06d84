"""deploy-migrate, unlock and runs on the direct target against a real PostgreSQL.

The migrate step runs `migrate_command`; here that is a small stand-in for `prisma migrate deploy`
(fake_prisma below) that does what Prisma does to the database: take Prisma's advisory lock, write
_prisma_migrations the same way, run each pending migration.sql. The real Prisma runs in the e2e
tests; these cover the pipeline's decisions quickly and on every machine.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import psycopg
import pytest

from migtool.deploy.lock import DEPLOY_LOCK_KEY
from migtool.migrations.table import PRISMA_LOCK_KEY
from migtool.runs import read_runs
from tests.support.prisma_table import write_lock_file, write_migration

pytestmark = pytest.mark.integration

FAKE_PRISMA = textwrap.dedent('''
    import os, sys, time, uuid, hashlib, psycopg
    folder = sys.argv[1]
    conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, application_name="fake-prisma")
    conn.execute("SELECT pg_advisory_lock(%d)")
    conn.execute("""CREATE TABLE IF NOT EXISTS _prisma_migrations (id VARCHAR(36) PRIMARY KEY NOT NULL,
        checksum VARCHAR(64) NOT NULL, finished_at TIMESTAMPTZ, migration_name VARCHAR(255) NOT NULL,
        logs TEXT, rolled_back_at TIMESTAMPTZ, started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        applied_steps_count INTEGER NOT NULL DEFAULT 0)""")
    done = {r[0] for r in conn.execute("SELECT migration_name FROM _prisma_migrations WHERE rolled_back_at IS NULL")}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name, "migration.sql")
        if name in done or not os.path.isfile(path):
            continue
        script = open(path, "rb").read()
        row = str(uuid.uuid4())
        conn.execute("INSERT INTO _prisma_migrations (id, checksum, migration_name) VALUES (%%s, %%s, %%s)",
                     (row, hashlib.sha256(script).hexdigest(), name))
        print("Applying migration", name, flush=True)
        try:
            conn.execute(script.decode())
        except psycopg.Error as exc:
            conn.execute("UPDATE _prisma_migrations SET logs = %%s WHERE id = %%s", ("ERROR: " + str(exc).strip(), row))
            print("Error: P3018 migration failed:", name, flush=True)
            sys.exit(1)
        conn.execute("UPDATE _prisma_migrations SET finished_at = now(), applied_steps_count = 1 WHERE id = %%s", (row,))
    print("All migrations have been successfully applied.", flush=True)
''') % PRISMA_LOCK_KEY

INIT = ("20250101000000_init", "CREATE TABLE users (id bigint PRIMARY KEY, name text);\n")
SAFE = ("20250102000000_add_email", "ALTER TABLE users ADD COLUMN email text;\n")
DANGER = ("20250103000000_drop_name", "ALTER TABLE users DROP COLUMN name;\n")
FAILS = ("20250104000000_broken", "ALTER TABLE users ADD COLUMN ok int;\nALTER TABLE nope ADD COLUMN x int;\n")
SLOW = ("20250105000000_slow", "SELECT pg_sleep(60);\n")


@pytest.fixture
def project(tmp_path, pg_url):
    mdir = tmp_path / "migrations"
    write_lock_file(mdir)
    write_migration(mdir, *INIT)
    fake = tmp_path / "fake_prisma.py"
    fake.write_text(FAKE_PRISMA)
    return {"mdir": mdir, "backups": tmp_path / "backups", "url": pg_url,
            "command": f"{sys.executable} {fake} {mdir}", "cwd": tmp_path}


def env_for(project, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGTOOL_") and k != "DATABASE_URL"}
    env.update(DATABASE_URL=project["url"], MIGTOOL_TARGET="direct", MIGTOOL_MIGRATIONS_DIR=str(project["mdir"]),
               MIGTOOL_BACKUP_DIR=str(project["backups"]), MIGTOOL_MIGRATE_COMMAND=project["command"], **extra)
    return env


def migtool(project, *args, timeout=120, **extra):
    return subprocess.run([sys.executable, "-m", "migtool", *args], env=env_for(project, **extra),
                          capture_output=True, text=True, timeout=timeout, cwd=project["cwd"])


def rows(url, sql):
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql).fetchall()


def held_locks(url):
    return rows(url, f"SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted "
                     f"AND objid IN ({DEPLOY_LOCK_KEY}, {PRISMA_LOCK_KEY})")


def test_safe_applies_without_backup_then_up_to_date(project):
    write_migration(project["mdir"], *SAFE)
    res = migtool(project, "deploy-migrate", "--yes", "--json")
    assert res.returncode == 0, res.stderr
    record = json.loads(res.stdout)
    assert record["result"] == "applied" and record["pending"] == [INIT[0], SAFE[0]]
    assert "backup" not in record and record["backup_decision"]["backup"] is False
    assert [s["name"] for s in record["steps"]] == ["preflight", "lock", "status", "lint", "data-checks", "backup",
                                                   "migrate",
                                                   "verify"]
    assert "Applying migration 20250102000000_add_email" in res.stderr  # migrate output streamed live
    assert rows(project["url"], "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL") == [(2,)]
    assert held_locks(project["url"]) == []

    again = migtool(project, "deploy-migrate", "--yes")
    assert again.returncode == 0 and "up to date" in again.stderr
    runs = migtool(project, "runs", "--json")
    assert [r["result"] for r in json.loads(runs.stdout)["runs"]] == ["applied", "up-to-date"]
    table = migtool(project, "runs")
    assert "applied" in table.stdout and "up-to-date" in table.stdout


def test_danger_is_refused_then_backed_up_verified_and_pinned_with_allow_danger(project):
    assert migtool(project, "deploy-migrate", "--yes").returncode == 0
    write_migration(project["mdir"], *DANGER)
    refused = migtool(project, "deploy-migrate", "--yes")
    assert refused.returncode == 1, refused.stderr
    assert "drop-column" in refused.stderr and "fix:" in refused.stderr and "--allow-danger" in refused.stderr
    assert rows(project["url"], f"SELECT count(*) FROM _prisma_migrations WHERE migration_name = '{DANGER[0]}'") == [(0,)]

    dry = migtool(project, "deploy-migrate", "--dry-run", "--allow-danger")
    assert dry.returncode == 0 and "would take a verified backup first: yes" in dry.stderr
    assert rows(project["url"], f"SELECT count(*) FROM _prisma_migrations WHERE migration_name = '{DANGER[0]}'") == [(0,)]

    res = migtool(project, "deploy-migrate", "--yes", "--allow-danger", "--json")
    assert res.returncode == 0, res.stderr
    record = json.loads(res.stdout)
    backup = record["backup"]
    assert backup["verified"] and backup["precedes"] == [DANGER[0]]
    path = project["backups"] / backup["name"]
    assert (path.parent / (path.name + ".pinned")).exists()
    assert json.loads((path.parent / (path.name + ".verified.json")).read_text())["ok"] is True
    [(started,)] = rows(project["url"], f"SELECT started_at FROM _prisma_migrations WHERE migration_name = '{DANGER[0]}'")
    manifest = json.loads((path.parent / (path.name + ".json")).read_text())
    from datetime import datetime
    assert datetime.fromisoformat(manifest["finished_at"].replace("Z", "+00:00")) < started
    assert manifest["migrations"]["pending"] == [DANGER[0]]
    listed = json.loads(migtool(project, "backups", "list", "--json").stdout)
    assert [(b["name"], b["pinned"], b["verified"]) for b in listed] == [(backup["name"], True, True)]

    # A later deploy that succeeds with a backup of its own lifts the older pin; its own stays.
    write_migration(project["mdir"], "20250106000000_drop_users", "DROP TABLE users;\n")
    later = migtool(project, "deploy-migrate", "--yes", "--allow-danger", "--json")
    assert later.returncode == 0, later.stderr
    newer = json.loads(later.stdout)
    assert newer["unpinned"] == [backup["name"]]
    listed = {b["name"]: b["pinned"] for b in json.loads(migtool(project, "backups", "list", "--json").stdout)}
    assert listed == {backup["name"]: False, newer["backup"]["name"]: True}


def test_failed_migration_exits_1_with_rollback_command_and_keeps_the_pinned_backup(project):
    assert migtool(project, "deploy-migrate", "--yes").returncode == 0
    write_migration(project["mdir"], *FAILS)
    res = migtool(project, "deploy-migrate", "--yes", "--backup", "always", "--json")
    assert res.returncode == 1
    record = json.loads(res.stdout)
    name = record["backup"]["name"]
    assert record["result"] == "failed" and record["steps"][-1]["name"] == "verify"
    assert f"migration {FAILS[0]} failed" in res.stderr and f"migtool rollback --to {name}" in res.stderr
    assert "migrate resolve --rolled-back" in res.stderr
    assert (project["backups"] / (name + ".pinned")).exists()
    assert held_locks(project["url"]) == []
    # The next run stops at status with both ways out, without touching anything.
    again = migtool(project, "deploy-migrate", "--yes")
    assert again.returncode == 1 and "failed in an earlier deploy" in again.stderr
    assert f"migtool rollback --to {name}" in again.stderr


def test_a_second_run_waits_then_names_the_holder(project):
    with psycopg.connect(project["url"], autocommit=True,
                         application_name="deploy-migrate-20250101T000000Z-abc123 alice@build7:4242") as conn:
        conn.execute(f"SELECT pg_advisory_lock({DEPLOY_LOCK_KEY})")
        t0 = time.monotonic()
        res = migtool(project, "deploy-migrate", "--yes", "--lock-timeout", "1")
        assert time.monotonic() - t0 < 30
    assert res.returncode == 1
    assert "run deploy-migrate-20250101T000000Z-abc123 by alice on host build7 (pid 4242)" in res.stderr
    assert read_runs(project["backups"])[-1]["result"] == "lock-busy"
    assert rows(project["url"], "SELECT to_regclass('_prisma_migrations') IS NULL") == [(True,)]


def test_stale_prisma_lock_is_detected_and_unlock_terminate_clears_it(project):
    with psycopg.connect(project["url"], autocommit=True, application_name="left-behind") as conn:
        conn.execute(f"SELECT pg_advisory_lock({PRISMA_LOCK_KEY})")
        pid = conn.info.backend_pid
        res = migtool(project, "deploy-migrate", "--yes")
        assert res.returncode == 1
        assert f"migtool unlock --terminate {pid} --yes" in res.stderr and "left-behind" in res.stderr
        listed = migtool(project, "unlock", "--json")
        assert [(h["pid"], h["lock"]) for h in json.loads(listed.stdout)["holders"]] == [(pid, "prisma")]
        not_a_holder = rows(project["url"], "SELECT pg_backend_pid()")[0][0]
        refused = migtool(project, "unlock", "--terminate", str(not_a_holder), "--yes")
        assert refused.returncode == 1 and "refusing" in refused.stderr
        no_yes = migtool(project, "unlock", "--terminate", str(pid))
        assert no_yes.returncode == 1
        ended = migtool(project, "unlock", "--terminate", str(pid), "--yes")
        assert ended.returncode == 0, ended.stderr
    assert held_locks(project["url"]) == []
    assert migtool(project, "deploy-migrate", "--yes").returncode == 0


def test_timeout_stops_the_migrate_command_and_ends_its_session(project):
    write_migration(project["mdir"], *SLOW)
    t0 = time.monotonic()
    res = migtool(project, "deploy-migrate", "--yes", "--timeout", "3", "--json")
    assert time.monotonic() - t0 < 40
    assert res.returncode == 1, res.stderr
    record = json.loads(res.stdout)
    assert record["result"] == "timeout" and record["migrate"]["outcome"] == "timeout"
    assert held_locks(project["url"]) == []
    assert rows(project["url"], "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'fake-prisma'") == [(0,)]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_migrate_cleans_up_and_records(project, signum):
    write_migration(project["mdir"], *SLOW)
    proc = subprocess.Popen([sys.executable, "-m", "migtool", "deploy-migrate", "--yes"], env=env_for(project),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=project["cwd"])
    deadline = time.monotonic() + 60
    while (PRISMA_LOCK_KEY,) not in held_locks(project["url"]):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.2)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert held_locks(project["url"]) == []
    assert rows(project["url"], "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'fake-prisma'") == [(0,)]
    record = read_runs(project["backups"])[-1]
    assert record["result"] == "interrupted" and record["steps"][-1] == {**record["steps"][-1], "name": "migrate",
                                                                         "status": "interrupted"}
    assert record["ended_sessions"]


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhook_gets_the_failure_and_a_dead_webhook_changes_nothing(project):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hooks/secret-token"
        write_migration(project["mdir"], *FAILS)
        res = migtool(project, "deploy-migrate", "--yes", MIGTOOL_NOTIFY_WEBHOOK_URL=url)
        assert res.returncode == 1
        [payload] = _Hook.received
        assert payload["event"] == "deploy-migrate.failed" and payload["exit_code"] == 1
        assert FAILS[0] in payload["error"] and payload["pending"][-1] == FAILS[0]
        password = psycopg.conninfo.conninfo_to_dict(project["url"]).get("password")
        text = json.dumps(payload)
        assert "secret-token" not in res.stderr + res.stdout
        assert password and password not in text and project["url"] not in text
    finally:
        server.shutdown()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
    t0 = time.monotonic()
    res = migtool(project, "deploy-migrate", "--yes", MIGTOOL_NOTIFY_WEBHOOK_URL=dead)
    assert res.returncode == 1 and "could not notify 127.0.0.1" in res.stderr
    assert time.monotonic() - t0 < 60


def test_the_pre_deploy_backup_is_encrypted_and_verified_with_the_identity(project, tmp_path):
    import shutil

    if shutil.which("age-keygen") is None:
        pytest.fail("age-keygen is missing: scripts/dev/host-tools installs age")
    key = tmp_path / "age.key"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    public = next(line.split(": ", 1)[1] for line in key.read_text().splitlines() if line.startswith("# public key"))
    assert migtool(project, "deploy-migrate", "--yes").returncode == 0
    write_migration(project["mdir"], *DANGER)
    res = migtool(project, "deploy-migrate", "--yes", "--allow-danger", "--json",
                  MIGTOOL_AGE_RECIPIENTS=public, MIGTOOL_AGE_IDENTITY=str(key))
    assert res.returncode == 0, res.stderr
    name = json.loads(res.stdout)["backup"]["name"]
    backup = project["backups"] / name
    assert name.endswith(".dump.zst.age") and backup.read_bytes().startswith(b"age-encryption.org/v1")
    verdict = json.loads(backup.with_name(name + ".verified.json").read_text())
    assert verdict["ok"] is True
    manifest = json.loads(backup.with_name(name + ".json").read_text())
    assert manifest["encryption"]["recipients"] == [public]


def test_direct_target_without_migrate_command_is_a_config_error_before_anything_runs(project):
    write_migration(project["mdir"], *SAFE)
    res = migtool({**project, "command": ""}, "deploy-migrate", "--yes", "--json")
    assert res.returncode == 2, res.stderr
    assert "migrate_command" in res.stderr and "partly migrated" not in res.stderr
    record = json.loads(res.stdout) if res.stdout.strip() else {}
    assert [s["name"] for s in record.get("steps", [])] in ([], ["preflight"])
    assert held_locks(project["url"]) == []
    assert rows(project["url"], "SELECT to_regclass('_prisma_migrations') IS NULL") == [(True,)]
