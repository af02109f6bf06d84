"""The compose target and the direct target report the same thing about the same database."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PUBLISH = HERE / "compose.publish-postgres.yml"


def _compose(stack, files, *args):
    argv = ["docker", "compose", "-p", stack.project_name, "--env-file", str(stack.env_file)]
    for f in files:
        argv += ["-f", str(f)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    return subprocess.run([*argv, *args], env=env, capture_output=True, text=True, check=True, timeout=300)


@contextlib.contextmanager
def published_postgres(stack):
    """Recreate postgres with a loopback port; put it back as it was afterwards.

    Anything that runs compose without the override (e.g. `run --rm migrate`) recreates postgres
    without the port again, so use this after the migrations ran.
    """
    files = [*stack.compose_files, PUBLISH]
    _compose(stack, files, "up", "-d", "--wait", "postgres")
    try:
        port = _compose(stack, files, "port", "postgres", "5432").stdout.strip().rpartition(":")[2]
        yield f"postgresql://{stack.db_user}:{stack.db_password}@127.0.0.1:{port}/{stack.db_name}"
    finally:
        _compose(stack, stack.compose_files, "up", "-d", "--wait", "postgres", "app")


def _migtool(env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MIGTOOL_", "COMPOSE_")) and k != "DATABASE_URL"}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-m", "migtool", *args], env=env, capture_output=True, text=True,
                          timeout=300, cwd=REPO)


def test_status_and_history_are_identical_from_both_targets(compose_stack, migrations_dir):
    stack = compose_stack
    stack.reset_database()
    try:
        stack.with_migrations(migrations_dir).migrate()
        with published_postgres(stack) as url:
            _compare_targets(stack, url, migrations_dir)
    finally:
        stack.reset_database()


def _compare_targets(stack, published_postgres: str, migrations_dir: Path) -> None:
    # Give the database something of every kind: a pending migration and a modified one.
    pending = migrations_dir / "20990101000000_later"
    pending.mkdir()
    (pending / "migration.sql").write_text('ALTER TABLE "User" ADD COLUMN "nickname" TEXT;\n')
    first = sorted(p for p in migrations_dir.iterdir() if p.is_dir())[0] / "migration.sql"
    first.write_text(first.read_text() + "-- edited after it was applied\n")

    compose = {"MIGTOOL_TARGET": "compose", "MIGTOOL_COMPOSE_PROJECT": stack.project_name,
               "MIGTOOL_COMPOSE_ENV_FILE": str(stack.env_file),
               "MIGTOOL_COMPOSE_FILE": os.pathsep.join(str(f) for f in stack.compose_files),
               "MIGTOOL_MIGRATIONS_DIR": str(migrations_dir)}
    direct = {"MIGTOOL_TARGET": "direct", "DATABASE_URL": published_postgres,
              "MIGTOOL_MIGRATIONS_DIR": str(migrations_dir)}
    for args in (["status", "--json"], ["history", "-n", "20", "--json"]):
        via_compose = _migtool(compose, *args)
        via_direct = _migtool(direct, *args)
        assert via_compose.returncode == via_direct.returncode, (via_compose.stderr, via_direct.stderr)
        assert json.loads(via_compose.stdout) == json.loads(via_direct.stdout)
        assert stack.db_password not in via_direct.stdout + via_direct.stderr
    data = json.loads(_migtool(direct, "status", "--json").stdout)
    assert data["summary"].get("pending") == 1 and data["summary"].get("modified") == 1
