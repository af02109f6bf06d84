"""`migtool status` exit codes scripts rely on (1 = only pending work): environment problems are 3 with
the fix, on both targets; a table that is not Prisma's shape is 2; a mixed-case Prisma schema is found."""

import json
import os
import subprocess
import sys
from urllib.parse import quote

import psycopg
import pytest

from migtool.config import Secret
from migtool.database import DirectDatabase
from migtool.migration_status import migration_state_summary
from tests.support.prisma_table import PrismaTable, write_lock_file, write_migration

pytestmark = pytest.mark.integration

A = ("20250101000000_init", b"CREATE TABLE users (id bigint PRIMARY KEY);\n")
B = ("20250102000000_add_email", b"ALTER TABLE users ADD COLUMN email text;\n")

COMPOSE_YML = """\
services:
  postgres:
    image: postgres:15
    environment:
      POSTGRES_USER: app
      POSTGRES_DB: app
  migrate:
    image: postgres:15
    environment:
      DATABASE_URL: postgresql://app:pw@postgres:5432/app?schema=MySchema
"""


def env_for(url=None, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGTOOL_") and k != "DATABASE_URL"}
    if url is not None:
        env["DATABASE_URL"] = url
    env.update(extra)
    return env


def migtool(args, env, cwd):
    return subprocess.run([sys.executable, "-m", "migtool", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def mdir(tmp_path):
    d = tmp_path / "prisma" / "migrations"
    write_lock_file(d)
    write_migration(d, *A)
    write_migration(d, *B)
    return d


@pytest.fixture
def docker_down(tmp_path):
    """A real compose file and a Docker engine that is not there (nothing listens on the socket)."""
    (tmp_path / "docker-compose.yml").write_text(COMPOSE_YML)
    return env_for(DOCKER_HOST=f"unix://{tmp_path}/no-docker.sock", MIGTOOL_COMPOSE_FILE="docker-compose.yml")


@pytest.mark.parametrize("given", [False, True], ids=["credentials-from-compose", "db-user-and-name-given"])
def test_docker_unreachable_is_exit_3_with_the_fix(tmp_path, mdir, docker_down, given):
    env = dict(docker_down)
    if given:  # the path that used to say "query failed" (exit 1, no hint)
        env.update(MIGTOOL_DB_USER="app", MIGTOOL_DB_NAME="app", MIGTOOL_SCHEMA="public")
    for extra in ([], ["--json"]):
        res = migtool(["status", "--migrations-dir", str(mdir), *extra], env, tmp_path)
        assert res.returncode == 3, res.stdout + res.stderr
        assert "Docker engine is not reachable" in res.stderr
        assert "next:" in res.stderr and "docker info" in res.stderr


def test_history_with_docker_unreachable_is_exit_3(tmp_path, docker_down):
    env = {**docker_down, "MIGTOOL_DB_USER": "app", "MIGTOOL_DB_NAME": "app"}
    res = migtool(["history"], env, tmp_path)
    assert res.returncode == 3, res.stderr
    assert "Docker engine is not reachable" in res.stderr


def test_lint_without_paths_falls_back_to_all_migrations_when_docker_is_down(tmp_path, mdir, docker_down):
    env = {**docker_down, "MIGTOOL_DB_USER": "app", "MIGTOOL_DB_NAME": "app"}
    res = migtool(["lint", "--migrations-dir", str(mdir)], env, tmp_path)
    assert res.returncode in (0, 1), res.stderr  # findings or none, but it linted
    assert "cannot ask the database which migrations are pending" in res.stderr
    assert "20250102000000_add_email" in res.stdout + res.stderr or "2 migration" in res.stdout + res.stderr


def test_permission_denied_on_prisma_table_is_exit_3_with_grant(pg_server, pg_url, pg_dbname, mdir, tmp_path):
    PrismaTable(pg_url).create()
    PrismaTable(pg_url).apply(*A)
    role = f"reader_{pg_dbname}"
    with pg_server.admin() as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'reader-pw'")
    try:
        url = f"postgresql://{role}:reader-pw@{pg_server.host}:{pg_server.port}/{pg_dbname}"
        res = migtool(["status", "--target", "direct", "--migrations-dir", str(mdir)], env_for(url), tmp_path)
        assert res.returncode == 3, res.stdout + res.stderr
        assert "permission denied" in res.stderr and "GRANT SELECT ON" in res.stderr
        res = migtool(["history", "--target", "direct"], env_for(url), tmp_path)
        assert res.returncode == 3 and "permission denied" in res.stderr
    finally:
        with pg_server.admin() as conn:
            conn.execute(f'DROP OWNED BY {role}; DROP ROLE {role}')


def test_wrong_database_name_is_exit_3_on_the_direct_target(pg_server, mdir, tmp_path):
    url = pg_server.url("no_such_database_here")
    res = migtool(["status", "--target", "direct", "--migrations-dir", str(mdir)], env_for(url), tmp_path)
    assert res.returncode == 3, res.stderr
    assert "next:" in res.stderr


def test_table_missing_columns_is_exit_2(pg_url, mdir, tmp_path):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE _prisma_migrations (id varchar(36), migration_name text, started_at timestamptz)")
    res = migtool(["status", "--target", "direct", "--migrations-dir", str(mdir)], env_for(pg_url), tmp_path)
    assert res.returncode == 2, res.stderr
    assert "does not look like Prisma's migrations table" in res.stderr and "checksum" in res.stderr


# ---------------------------------------------------------------- a mixed-case Prisma schema


def in_schema(url: str, schema: str) -> str:
    return url + "?options=" + quote(f'-c search_path="{schema}"')


@pytest.fixture
def my_schema(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute('CREATE SCHEMA "MySchema"')
        # A lower-case namesake must not be what we read.
        conn.execute("CREATE SCHEMA myschema")
    table = PrismaTable(in_schema(pg_url, "MySchema"))
    table.create()
    table.apply(*A)
    PrismaTable(in_schema(pg_url, "myschema")).create()
    return pg_url


def test_mixed_case_schema_from_the_url(my_schema, mdir, tmp_path):
    url = my_schema + "?schema=MySchema"
    res = migtool(["status", "--target", "direct", "--migrations-dir", str(mdir), "--json"], env_for(url), tmp_path)
    assert res.returncode == 1, res.stderr  # B is pending
    states = {m["name"]: m["state"] for m in json.loads(res.stdout)["migrations"]}
    assert states == {A[0]: "applied", B[0]: "pending"}
    summary = migration_state_summary(DirectDatabase(Secret(url)), mdir)
    assert summary["last_applied"] == A[0]


def test_mixed_case_schema_from_the_config_key(my_schema, mdir, tmp_path):
    (tmp_path / "migtool.yaml").write_text("target: direct\nschema: MySchema\n")
    res = migtool(["status", "--migrations-dir", str(mdir), "--json"], env_for(my_schema), tmp_path)
    assert res.returncode == 1, res.stderr
    assert {m["name"]: m["state"] for m in json.loads(res.stdout)["migrations"]}[A[0]] == "applied"
    res = migtool(["history", "--json"], env_for(my_schema), tmp_path)
    assert [e["name"] for e in json.loads(res.stdout)["entries"]] == [A[0]]
    # and the backup manifest records it
    res = migtool(["backup", "--backup-dir", "b", "--migrations-dir", str(mdir), "--json"], env_for(my_schema),
                  tmp_path)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["migrations"]["last_applied"] == A[0]


def test_default_schema_is_public(my_schema, mdir, tmp_path):
    res = migtool(["status", "--target", "direct", "--migrations-dir", str(mdir), "--json"], env_for(my_schema),
                  tmp_path)
    assert res.returncode == 1, res.stderr  # public has no table: everything is pending
    assert {m["state"] for m in json.loads(res.stdout)["migrations"]} == {"pending"}


def test_schema_with_a_space_and_quotes_in_its_name(pg_url, mdir, tmp_path):
    odd = 'Odd "S" Schema'
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute('CREATE SCHEMA "Odd ""S"" Schema"')
    table = PrismaTable(pg_url + "?options=" + quote('-c search_path="Odd\\ ""S""\\ Schema"'))
    table.create()
    table.apply(*A)
    url = pg_url + "?schema=" + quote(odd)
    res = migtool(["status", "--target", "direct", "--migrations-dir", str(mdir), "--json"], env_for(url), tmp_path)
    assert res.returncode == 1, res.stderr
    assert {m["name"]: m["state"] for m in json.loads(res.stdout)["migrations"]}[A[0]] == "applied"
    with DirectDatabase(Secret(url)).connect() as conn:  # the session's search_path is the schema too
        assert conn.execute("SELECT current_schema()").fetchone()[0] == odd
