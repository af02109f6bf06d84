"""`migtool status` against a real PostgreSQL whose _prisma_migrations was written the way Prisma does."""

import json
import os
import subprocess
import sys

import psycopg
import pytest

from migtool.config import load_config
from migtool.database import DirectDatabase
from migtool.errors import ConfigError, EnvironmentProblem
from migtool.migration_status import migration_state_summary, pending_migration_dirs
from migtool.migrations.table import PRISMA_LOCK_KEY
from tests.support.pgserver import free_port
from tests.support.prisma_table import PrismaTable, write_lock_file, write_migration

pytestmark = pytest.mark.integration

A = ("20250101000000_init", b"CREATE TABLE users (id bigint PRIMARY KEY);\n")
B = ("20250102000000_add_email", b"ALTER TABLE users ADD COLUMN email text;\n")
C = ("20250103000000_add_orders", b"CREATE TABLE orders (id bigint PRIMARY KEY);\n")
D = ("20250104000000_add_index", b"CREATE INDEX orders_id ON orders (id);\n")


def base_env(url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGTOOL_") and k != "DATABASE_URL"}
    env["DATABASE_URL"] = url
    return env


def status(url, migrations_dir, *extra, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "migtool", "status", *extra, "--target", "direct",
         "--migrations-dir", str(migrations_dir)],
        env=base_env(url), cwd=cwd or migrations_dir.parent, capture_output=True, text=True, timeout=120)


def status_json(url, migrations_dir):
    res = status(url, migrations_dir, "--json")
    assert res.stdout.strip(), res.stderr
    return res.returncode, json.loads(res.stdout)


def by_name(data):
    return {m["name"]: m for m in data["migrations"]}


@pytest.fixture
def mdir(tmp_path):
    d = tmp_path / "prisma" / "migrations"
    write_lock_file(d)
    return d


@pytest.fixture
def table(pg_url):
    t = PrismaTable(pg_url)
    t.create()
    return t


def test_no_table_means_all_pending_exit_1(pg_url, mdir):
    for name, sql in (A, B):
        write_migration(mdir, name, sql)
    code, data = status_json(pg_url, mdir)
    assert code == 1
    assert [(m["name"], m["state"]) for m in data["migrations"]] == [(A[0], "pending"), (B[0], "pending")]
    assert data["has_migrations_table"] is False
    assert data["summary"]["pending"] == 2


def test_empty_folder_and_fresh_database_exit_0(pg_url, mdir):
    res = status(pg_url, mdir)
    assert res.returncode == 0, res.stderr
    assert "no migrations" in res.stdout


def test_all_applied_exit_0(pg_url, mdir, table):
    for name, sql in (A, B):
        write_migration(mdir, name, sql)
        table.apply(name, sql)
    code, data = status_json(pg_url, mdir)
    assert code == 0
    m = by_name(data)[A[0]]
    assert m["state"] == "applied"
    assert m["checksum_file"] == m["checksum_db"] and len(m["checksum_db"]) == 64
    assert m["finished_at"] > m["started_at"]
    assert data["summary"] == {"applied": 2, "pending": 0, "rolled-back": 0, "running": 0, "failed": 0,
                               "modified": 0, "missing-locally": 0, "invalid": 0}


def test_pending_only_exit_1_and_rolled_back_counts_as_pending(pg_url, mdir, table):
    for name, sql in (A, B, C):
        write_migration(mdir, name, sql)
    table.apply(*A)
    table.fail(*B)
    table.resolve_rolled_back(B[0])
    code, data = status_json(pg_url, mdir)
    assert code == 1
    assert {n: m["state"] for n, m in by_name(data).items()} == {
        A[0]: "applied", B[0]: "rolled-back", C[0]: "pending"}


def test_every_wrong_state_at_once_exit_2(pg_url, mdir, table):
    write_migration(mdir, A[0], A[1])
    table.apply(*A)
    write_migration(mdir, B[0], b"ALTER TABLE users ADD COLUMN email varchar(320);\n")  # edited after apply
    table.apply(*B)
    table.apply("20250102120000_hotfix_from_other_branch", b"SELECT 1;\n")  # missing locally
    write_migration(mdir, C[0], C[1])
    table.fail(*C, message='relation "orders" already exists', code="42P07")
    write_migration(mdir, D[0], D[1])  # pending
    (mdir / "20250105000000_empty").mkdir()  # no migration.sql

    code, data = status_json(pg_url, mdir)
    assert code == 2
    states = {n: m["state"] for n, m in by_name(data).items()}
    assert states == {A[0]: "applied", B[0]: "modified", "20250102120000_hotfix_from_other_branch": "missing-locally",
                      C[0]: "failed", D[0]: "pending", "20250105000000_empty": "invalid"}
    assert list(states) == sorted(states)  # apply order
    failed = by_name(data)[C[0]]
    assert failed["finished_at"] is None and 'relation "orders" already exists' in failed["logs"]
    assert failed["note"] == 'ERROR: relation "orders" already exists'
    modified = by_name(data)[B[0]]
    assert modified["checksum_file"] != modified["checksum_db"]


def test_human_output_table_summary_and_next_steps(pg_url, mdir, table):
    for name, sql in (A, B, C):
        write_migration(mdir, name, sql)
    table.apply(*A)
    table.fail(*B, message='column "x" does not exist', code="42703")
    res = status(pg_url, mdir)
    assert res.returncode == 2
    lines = res.stdout.splitlines()
    assert any(A[0] in line and "applied" in line for line in lines)
    assert any(B[0] in line and "failed" in line and 'column "x" does not exist' in line for line in lines)
    assert any(C[0] in line and "pending" in line for line in lines)
    assert "3 migrations: 1 applied, 1 pending, 1 failed" in res.stdout
    assert f"prisma migrate resolve --rolled-back {B[0]}" in " ".join(res.stderr.split())


def test_rolled_back_then_reapplied_is_applied_exit_0(pg_url, mdir, table):
    write_migration(mdir, A[0], A[1])
    table.fail(*A)
    table.resolve_rolled_back(A[0])
    table.apply(*A)
    code, data = status_json(pg_url, mdir)
    assert code == 0
    m = by_name(data)[A[0]]
    assert m["state"] == "applied" and m["attempts"] == 2 and m["finished_at"] is not None


def test_resolve_applied_is_applied(pg_url, mdir, table):
    write_migration(mdir, A[0], A[1])
    table.fail(*A)
    table.resolve_applied(*A)
    code, data = status_json(pg_url, mdir)
    assert code == 0 and by_name(data)[A[0]]["state"] == "applied"


def test_crlf_checkout_of_lf_applied_migration_is_applied(pg_url, mdir, table):
    write_migration(mdir, A[0], A[1].replace(b"\n", b"\r\n"))
    table.apply(*A)
    code, data = status_json(pg_url, mdir)
    assert code == 0, data
    assert by_name(data)[A[0]]["checksum_file"] != by_name(data)[A[0]]["checksum_db"]


def test_unfinished_row_while_deploy_holds_prisma_lock_is_running(pg_url, mdir, table):
    write_migration(mdir, A[0], A[1])
    table.record_started(*A)
    with psycopg.connect(pg_url, autocommit=True) as holder:
        holder.execute(f"SELECT pg_advisory_lock({PRISMA_LOCK_KEY})")
        code, data = status_json(pg_url, mdir)
    assert code == 1
    assert by_name(data)[A[0]]["state"] == "running" and data["deploy_running"] is True
    code, data = status_json(pg_url, mdir)  # lock released: the same row is a failure
    assert code == 2 and by_name(data)[A[0]]["state"] == "failed"


def test_lock_file_for_another_provider_exit_2(pg_url, mdir, table):
    write_lock_file(mdir, "mysql")
    write_migration(mdir, A[0], A[1])
    table.apply(*A)
    res = status(pg_url, mdir)
    assert res.returncode == 2
    assert "mysql" in res.stderr and "migration_lock.toml" in res.stderr


def test_missing_migrations_dir_is_config_error_exit_2(pg_url, tmp_path):
    res = status(pg_url, tmp_path / "nowhere", cwd=tmp_path)
    assert res.returncode == 2
    assert "migrations folder not found" in res.stderr and "--migrations-dir" in res.stderr


def test_unreachable_database_exit_3_with_hint_and_no_password(pg_server, mdir):
    write_migration(mdir, A[0], A[1])
    url = f"postgresql://postgres:{pg_server.password}@127.0.0.1:{free_port()}/postgres"
    res = status(url, mdir, "--json")
    assert res.returncode == 3
    assert "database not reachable" in res.stderr and "next:" in res.stderr
    assert pg_server.password not in res.stdout + res.stderr


def test_stopped_server_exit_3(pg_server, pg_url, mdir):
    write_migration(mdir, A[0], A[1])
    pg_server.stop()
    try:
        res = status(pg_url, mdir)
    finally:
        pg_server.start()
    assert res.returncode == 3, res.stderr


def test_table_not_written_by_prisma_is_a_clear_error(pg_url, mdir):
    write_migration(mdir, A[0], A[1])
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE _prisma_migrations (id int)")
    res = status(pg_url, mdir)
    assert res.returncode == 2  # a person must look at it: not "pending work" (1)
    assert "_prisma_migrations" in res.stderr and "migration_name" in res.stderr


# ---------------------------------------------------------------- the Python interfaces


def config_for(url, mdir, tmp_path):
    return load_config(environ={"DATABASE_URL": url}, flags={"target": "direct", "migrations_dir": str(mdir)},
                       cwd=tmp_path)


def test_pending_migration_dirs_in_apply_order(pg_url, mdir, table, tmp_path):
    for name, sql in (D, C, B, A):
        write_migration(mdir, name, sql)
    table.apply(*A)
    table.fail(*C)
    table.resolve_rolled_back(C[0])
    (mdir / "20250101500000_broken").mkdir()
    dirs = pending_migration_dirs(config_for(pg_url, mdir, tmp_path))
    assert dirs == [mdir / B[0], mdir / C[0], mdir / D[0]]


def test_pending_migration_dirs_without_table_is_every_folder(pg_url, mdir, tmp_path):
    for name, sql in (A, B):
        write_migration(mdir, name, sql)
    assert pending_migration_dirs(config_for(pg_url, mdir, tmp_path)) == [mdir / A[0], mdir / B[0]]


def test_pending_migration_dirs_unreachable_raises_environment_problem(pg_server, mdir, tmp_path):
    write_migration(mdir, A[0], A[1])
    url = f"postgresql://postgres:{pg_server.password}@127.0.0.1:{free_port()}/postgres"
    with pytest.raises(EnvironmentProblem) as info:
        pending_migration_dirs(config_for(url, mdir, tmp_path))
    assert info.value.hint


def test_pending_migration_dirs_missing_folder_raises_config_error(pg_url, tmp_path):
    with pytest.raises(ConfigError):
        pending_migration_dirs(config_for(pg_url, tmp_path / "nope", tmp_path))


def test_migration_state_summary(pg_url, mdir, table):
    for name, sql in (A, B, C, D):
        write_migration(mdir, name, sql)
    table.apply(*A)
    table.apply(*B)
    table.fail(*C)
    db = DirectDatabase(load_config(environ={"DATABASE_URL": pg_url}).database_url)
    assert migration_state_summary(db, mdir) == {"last_applied": B[0], "pending": [D[0]], "failed": [C[0]]}


def test_migration_state_summary_fresh_database(pg_url, mdir):
    write_migration(mdir, A[0], A[1])
    db = DirectDatabase(load_config(environ={"DATABASE_URL": pg_url}).database_url)
    assert migration_state_summary(db, mdir) == {"last_applied": None, "pending": [A[0]], "failed": []}


def test_prisma_url_with_schema_reads_the_table_in_that_schema(pg_url, mdir):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA tenant1")
    t = PrismaTable(pg_url + "?options=-c%20search_path%3Dtenant1")
    t.create()
    write_migration(mdir, *A)
    write_migration(mdir, *B)
    t.apply(*A)
    code, data = status_json(pg_url + "?schema=tenant1&connection_limit=1", mdir)
    assert code == 1, data
    assert by_name(data)[A[0]]["state"] == "applied"
    assert by_name(data)[B[0]]["state"] == "pending"
    # The public schema has no table: everything would be pending there.
    code, data = status_json(pg_url + "?schema=public", mdir)
    assert {m["state"] for m in data["migrations"]} == {"pending"}
