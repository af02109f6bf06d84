"""The compose target's environment problems and Prisma schemas, against the real stack (one session stack):
a wrong db_name/db_user is exit 3 with the key to fix; a mixed-case schema (config key, or the `schema`
of the app's DATABASE_URL in the compose file) is read with its case; an outage during `backups verify`
(postgres service stopped) is exit 3 and leaves the previous verdict in place."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
MIGRATIONS = REPO / "examples/prisma-app/prisma/migrations"
PRISMA_TABLE = """
CREATE TABLE "MySchema"._prisma_migrations (
    id VARCHAR(36) PRIMARY KEY NOT NULL, checksum VARCHAR(64) NOT NULL, finished_at TIMESTAMPTZ,
    migration_name VARCHAR(255) NOT NULL, logs TEXT, rolled_back_at TIMESTAMPTZ,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(), applied_steps_count INTEGER NOT NULL DEFAULT 0);
"""


def migtool(stack, cwd: Path, *args: str, files=None, **env_extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGTOOL_") and k != "DATABASE_URL"}
    env.update(MIGTOOL_TARGET="compose", MIGTOOL_COMPOSE_PROJECT=stack.project_name,
               MIGTOOL_COMPOSE_ENV_FILE=str(stack.env_file),
               MIGTOOL_COMPOSE_FILE=os.pathsep.join(str(f) for f in (files or stack.compose_files)),
               MIGTOOL_MIGRATIONS_DIR=str(MIGRATIONS), MIGTOOL_BACKUP_DIR=str(cwd / "backups"), **env_extra)
    return subprocess.run([sys.executable, "-m", "migtool", *args], env=env, capture_output=True, text=True,
                          timeout=600, cwd=cwd)


@pytest.mark.parametrize(("key", "word"), [("MIGTOOL_DB_NAME", "database"), ("MIGTOOL_DB_USER", "role")])
def test_wrong_db_name_or_user_is_exit_3_with_the_key(compose_stack, tmp_path, key, word):
    res = migtool(compose_stack, tmp_path, "status", **{key: "no_such_thing"})
    assert res.returncode == 3, res.stdout + res.stderr
    assert f'{word} "no_such_thing" does not exist' in res.stderr
    assert key.removeprefix("MIGTOOL_").lower() in res.stderr  # the hint names the key to fix


@pytest.fixture
def my_schema(compose_stack):
    compose_stack.reset_database()
    first = sorted(p.name for p in MIGRATIONS.iterdir() if (p / "migration.sql").is_file())[0]
    compose_stack.psql('DROP SCHEMA IF EXISTS "MySchema" CASCADE; CREATE SCHEMA "MySchema";' + PRISMA_TABLE +
                       "INSERT INTO \"MySchema\"._prisma_migrations (id, checksum, finished_at, migration_name, "
                       f"started_at, applied_steps_count) VALUES ('1', 'x', now(), '{first}', now(), 1);")
    yield first
    compose_stack.psql('DROP SCHEMA IF EXISTS "MySchema" CASCADE;')


def test_mixed_case_schema_on_the_compose_target(compose_stack, tmp_path, my_schema):
    res = migtool(compose_stack, tmp_path, "status", "--json", MIGTOOL_SCHEMA="MySchema")
    states = {m["name"]: m["state"] for m in json.loads(res.stdout)["migrations"]}
    assert states[my_schema] in ("applied", "modified"), res.stderr  # checksum 'x' is ours, not Prisma's
    assert states[my_schema] != "pending"

    # No key: the schema comes from the app's DATABASE_URL in the compose file.
    override = tmp_path / "schema-override.yml"
    override.write_text("services:\n  migrate:\n    environment:\n"
                        "      DATABASE_URL: postgresql://u:p@postgres:5432/db?schema=MySchema\n")
    res = migtool(compose_stack, tmp_path, "status", "--json", files=(*compose_stack.compose_files, override))
    states = {m["name"]: m["state"] for m in json.loads(res.stdout)["migrations"]}
    assert states[my_schema] != "pending", res.stderr


def test_verify_with_the_postgres_service_stopped_keeps_the_previous_pass(compose_stack, tmp_path):
    compose_stack.reset_database()
    assert migtool(compose_stack, tmp_path, "backup", "--reason", "outage").returncode == 0
    name = next(p.name for p in (tmp_path / "backups").iterdir() if p.name.endswith(".dump.zst"))
    assert migtool(compose_stack, tmp_path, "backups", "verify", name).returncode == 0
    compose_stack.compose("stop", "postgres")
    try:
        res = migtool(compose_stack, tmp_path, "backups", "verify", name)
        status = migtool(compose_stack, tmp_path, "status")
    finally:
        compose_stack.compose("up", "-d", "--wait", "postgres", "app")
    assert res.returncode == 3, res.stdout + res.stderr
    assert "could not check" in res.stderr and "is bad" not in res.stderr
    assert status.returncode == 3, status.stderr
    listing = json.loads(migtool(compose_stack, tmp_path, "backups", "list", "--json").stdout)
    assert listing[0]["verified"] is True and listing[0]["last_check_could_not_run"]
