"""A careful user's mistakes against a real PostgreSQL: each gets a clear error and the right exit
code (2 usage/config, 3 environment, never 4 = a crash), and nothing changes."""

import psycopg
import pytest

from tests.support.backupdb import cli_env, run_cli

pytestmark = pytest.mark.integration


def cli(url, cwd, *args, **env):
    return run_cli(["--target", "direct", *args], cli_env(url, **env), cwd, timeout=120)


def sql(url, query):
    with psycopg.connect(url, autocommit=True) as c:
        cur = c.execute(query)
        return cur.fetchall() if cur.description else None


def no_crash(res):
    assert res.returncode != 4 and "internal error" not in res.stderr, res.stderr
    assert "Traceback" not in res.stderr, res.stderr


@pytest.fixture
def users(pg_url):
    sql(pg_url, 'CREATE TABLE "User" (id serial PRIMARY KEY, email text, "emailLower" text);'
                'INSERT INTO "User" (email) SELECT \'U\' || g FROM generate_series(1, 50) g')
    return pg_url


@pytest.mark.parametrize("where", ["nosuchcol > 1", "email > 1"])
@pytest.mark.parametrize("mode", ["--dry-run", "--yes"])
def test_backfill_where_that_does_not_run_is_a_usage_error(users, tmp_path, where, mode):
    res = cli(users, tmp_path, "backfill", "--table", "User", "--set", '"emailLower" = lower(email)',
              "--where", where, mode)
    no_crash(res)
    assert res.returncode == 2, res.stderr
    assert "--where does not run on public.User" in res.stderr
    assert sql(users, 'SELECT count(*) FROM "User" WHERE "emailLower" IS NOT NULL') == [(0,)]


def test_backfill_first_batch_failure_names_no_none_key(users, tmp_path):
    res = cli(users, tmp_path, "backfill", "--table", "User", "--set", "email = (1/0)::text", "--where", "true",
              "--yes")
    assert res.returncode == 1, res.stderr
    assert "the first batch failed: division by zero" in res.stderr and "key None" not in res.stderr


@pytest.mark.parametrize("command", [["runs"], ["restore", "latest"], ["deploy-migrate", "--dry-run"],
                                     ["backups", "list"], ["rollback", "--before", "20250101000000_x"]])
def test_backup_dir_under_a_file_is_a_config_error(pg_url, tmp_path, command):
    (tmp_path / "afile").write_text("not a folder\n")
    (tmp_path / "migrations").mkdir()
    # A migrate_command, so that deploy-migrate's preflight gets as far as the backup folder.
    res = cli(pg_url, tmp_path, "--backup-dir", str(tmp_path / "afile" / "backups"),
              "--migrations-dir", str(tmp_path / "migrations"), *command, MIGTOOL_MIGRATE_COMMAND="true")
    no_crash(res)
    assert res.returncode == 2, res.stderr
    assert "is not a folder" in res.stderr or "cannot read the run records" in res.stderr


@pytest.mark.parametrize("files", [
    {"compose.yaml": b"\x87\xff\x00binary"},                                   # not text at all
    {"compose.yaml": b"services: [db, app]\n"},                                  # services as a list
    {"compose.yaml": b"services:\n  db:\n    image: postgres:16\n", ".env": b"\xef\xff=\x00"},  # binary .env
    {"compose.yaml": b"services:\n  db:\n    image: postgres:16\n    environment: 5\n    healthcheck: x\n"},
    {"package.json": b"[1, 2]"},                                                 # JSON, not npm's shape
    {"package.json": b'{"scripts": ["build"]}'},
])
def test_init_on_malformed_project_files_never_crashes(tmp_path, files):
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    res = run_cli(["init", "--dry-run"], cli_env(None), tmp_path, timeout=60)
    no_crash(res)
    assert res.returncode in (0, 2), res.stderr
    if res.returncode == 2:
        assert "compose file" in res.stderr and "next:" in res.stderr
    assert not (tmp_path / "migtool.yaml").exists()  # --dry-run writes nothing


def _one_migration(tmp_path):
    folder = tmp_path / "migrations" / "20250101000000_add_thing"
    folder.mkdir(parents=True)
    (folder / "migration.sql").write_text('CREATE TABLE "Thing" (id int PRIMARY KEY);\n')
    return folder


@pytest.mark.parametrize("where", ["a folder", "under a file"])
def test_request_output_that_cannot_be_written_is_an_environment_error(pg_url, tmp_path, where):
    folder = _one_migration(tmp_path)
    (tmp_path / "afile").write_text("x")
    target = tmp_path / "out" if where == "a folder" else tmp_path / "afile" / "request.md"
    if where == "a folder":
        target.mkdir()
    res = cli(pg_url, tmp_path, "request", str(folder), "--output", str(target))
    no_crash(res)
    assert res.returncode == 3, res.stderr
    assert f"cannot write the request to {target}" in res.stderr
    assert not [p for p in tmp_path.rglob(".*.tmp*")]  # no temp file left behind


def test_request_rehearsal_report_that_is_not_text_is_a_usage_error(pg_url, tmp_path):
    folder = _one_migration(tmp_path)
    (tmp_path / "rehearsal.md").write_bytes(b"\x9d\xff\x00\x87")
    res = cli(pg_url, tmp_path, "request", str(folder), "--rehearsal", str(tmp_path / "rehearsal.md"))
    no_crash(res)
    assert res.returncode == 2 and "not a text file" in res.stderr, res.stderr


@pytest.fixture
def backed_up(users, tmp_path):
    res = cli(users, tmp_path, "--backup-dir", str(tmp_path / "backups"), "backup", "--reason", "ue")
    assert res.returncode == 0, res.stderr
    return users


def _databases(url):
    return {r[0] for r in sql(url, "SELECT datname FROM pg_database")}


@pytest.mark.parametrize("clean", [[], ["--clean"]])
def test_restore_refuses_a_template_database(backed_up, pg_server, tmp_path, clean):
    res = cli(backed_up, tmp_path, "--backup-dir", str(tmp_path / "backups"), "restore", "latest", "--yes",
              "--target-db", "template1", *clean)
    no_crash(res)
    assert res.returncode == 1 and "template1 is a template database" in res.stderr, res.stderr
    assert sql(pg_server.url("template1"), "SELECT to_regclass('public.\"User\"')::text") == [(None,)]


@pytest.mark.parametrize("name", ["", "y" * 80])
def test_restore_target_db_name_that_postgres_would_not_keep_is_a_usage_error(backed_up, tmp_path, name):
    before = _databases(backed_up)
    res = cli(backed_up, tmp_path, "--backup-dir", str(tmp_path / "backups"), "restore", "latest", "--yes",
              "--target-db", name)
    no_crash(res)
    assert res.returncode == 2, res.stderr
    assert _databases(backed_up) == before


def test_lint_changed_since_hint_is_safe_to_paste(tmp_path):
    import subprocess

    (tmp_path / "prisma" / "migrations").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    res = run_cli(["lint", "--migrations-dir", "prisma/migrations", "--changed-since", "main; touch pwned"],
                  cli_env(None), tmp_path, timeout=60)
    assert res.returncode == 2, res.stderr
    assert "next: git fetch origin 'main; touch pwned'" in res.stderr  # quoted: pasting it runs nothing else


@pytest.mark.parametrize("cron", ["", "0 3 31 2 *"])  # empty (an unset variable), and February 31st
def test_backup_schedule_that_never_runs_is_a_usage_error_and_takes_no_backup(pg_url, tmp_path, cron):
    res = cli(pg_url, tmp_path, "--backup-dir", str(tmp_path / "backups"), "backup", "--schedule", cron,
              "--max-runs", "1")
    no_crash(res)
    assert res.returncode == 2, res.stderr
    assert not list((tmp_path / "backups").glob("*.dump*")) if (tmp_path / "backups").exists() else True


def test_runs_shows_a_hand_edited_record_instead_of_crashing(tmp_path):
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "history.jsonl").write_bytes(
        b'{"run_id": "deploy-migrate-1", "pending": ["a"], "result": "applied", "exit_code": 0}\n'
        b'{"run_id": 5, "pending": 7, "seconds": "x", "backup": "str", "started_at": 12}\n'
        b'"just a string"\n\xff\xfe\n')
    res = run_cli(["runs", "--backup-dir", str(backups)], cli_env(None), tmp_path, timeout=60)
    no_crash(res)
    assert res.returncode == 0 and "deploy-migrate-1" in res.stdout, res.stderr


def test_native_resolve_applied_without_prisma_table_says_so(pg_url, tmp_path):
    _one_migration(tmp_path)
    res = cli(pg_url, tmp_path, "--migrations-dir", str(tmp_path / "migrations"), "resolve", "--native",
              "--applied", "20250101000000_add_thing")
    no_crash(res)
    assert res.returncode == 1, res.stderr
    assert "has no _prisma_migrations table" in res.stderr and "prisma migrate resolve --applied" in res.stderr
    assert "relation" not in res.stderr  # not PostgreSQL's raw error


def test_plan_with_a_mistyped_migrations_dir_warns(users, tmp_path):
    res = cli(users, tmp_path, "--migrations-dir", str(tmp_path / "prisma" / "migratoins"), "plan", "add-index",
              "User", "email", "--dry-run")
    no_crash(res)
    assert res.returncode == 0, res.stderr
    assert "no migrations folder at" in res.stderr


def test_latest_in_a_shared_backup_folder_is_this_databases_newest(pg_server, backed_up, tmp_path):
    """Another database's newer backup in the same folder is never what `latest` restores."""
    other, fresh = pg_server.create_database(), pg_server.create_database()
    try:
        backups = tmp_path / "backups"
        sql(pg_server.url(other), "CREATE TABLE other_only (id int)")
        res = cli(pg_server.url(other), tmp_path, "--backup-dir", str(backups), "backup", "--reason", "other")
        assert res.returncode == 0, res.stderr
        res = cli(backed_up, tmp_path, "--backup-dir", str(backups), "restore", "latest", "--yes",
                  "--target-db", "ue_scratch")
        assert res.returncode == 0, res.stderr
        assert "-ue.dump" in res.stdout and "other" not in res.stdout, res.stdout
        # a database with no backup of its own: refused, naming the other one
        res = cli(pg_server.url(fresh), tmp_path, "--backup-dir", str(backups), "rollback", "--to", "latest",
                  "--yes")
        no_crash(res)
        assert res.returncode == 1 and f"no backups of {fresh}" in res.stderr, res.stderr
        assert sql(pg_server.url(fresh), "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]
    finally:
        for name in (other, fresh, "ue_scratch"):
            pg_server.drop_database(name)


def test_init_when_migtool_yaml_is_a_folder_says_so(tmp_path):
    (tmp_path / "migtool.yaml").mkdir()
    res = run_cli(["init", "--yes", "--force"], cli_env(None), tmp_path, timeout=60)
    no_crash(res)
    assert res.returncode == 3, res.stderr
    assert "migtool.yaml is a folder: move it away" in res.stderr


def test_backup_schedule_stops_on_sigterm_during_a_backup(users, tmp_path):
    """docker stop while a scheduled backup runs ends the scheduler (it used to count it as a failed
    run and carry on, until docker's SIGKILL)."""
    import signal
    import subprocess
    import time

    from tests.support.backupdb import start_cli

    backups = tmp_path / "backups"
    with psycopg.connect(users) as blocker:  # the backup waits for this lock: it is mid-way, for sure
        blocker.execute('LOCK TABLE "User" IN ACCESS EXCLUSIVE MODE')
        proc = start_cli(["--target", "direct", "--backup-dir", str(backups), "backup", "--schedule",
                          "* * * * * *"], cli_env(users), tmp_path)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                waiting = sql(users, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                if waiting[0][0]:
                    break
                time.sleep(0.1)
            else:
                pytest.fail("the backup never started waiting")
            proc.send_signal(signal.SIGTERM)
            try:
                _, err = proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                pytest.fail("the scheduler kept running after SIGTERM")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err
    assert "scheduled backups stopped" in err
    assert not [p for p in backups.iterdir() if p.name.endswith(".partial")]
