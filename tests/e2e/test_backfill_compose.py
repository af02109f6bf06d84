"""migtool backfill through the compose target: refused (with the fix) while the postgres
service publishes no port, then run over the published port with the compose file's credentials."""

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
SEED = """
DROP TABLE IF EXISTS bf_e2e, migtool_backfill;
CREATE TABLE bf_e2e (id int PRIMARY KEY, a int NOT NULL, b int);
INSERT INTO bf_e2e SELECT g, g, NULL FROM generate_series(1, 3000) g;
"""


def _compose(stack, files, *args):
    argv = ["docker", "compose", "-p", stack.project_name, "--env-file", str(stack.env_file)]
    for f in files:
        argv += ["-f", str(f)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    return subprocess.run([*argv, *args], env=env, capture_output=True, text=True, check=True, timeout=300)


@contextlib.contextmanager
def published_postgres(stack):
    """Postgres recreated with a loopback port for the test, and put back as it was afterwards."""
    files = [*stack.compose_files, PUBLISH]
    _compose(stack, files, "up", "-d", "--wait", "postgres")
    try:
        yield files
    finally:
        _compose(stack, stack.compose_files, "up", "-d", "--wait", "postgres", "app")


def _backfill(stack, files, *args):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MIGTOOL_", "COMPOSE_")) and k != "DATABASE_URL"}
    env.update({"MIGTOOL_TARGET": "compose", "MIGTOOL_COMPOSE_PROJECT": stack.project_name,
                "MIGTOOL_COMPOSE_ENV_FILE": str(stack.env_file),
                "MIGTOOL_COMPOSE_FILE": os.pathsep.join(str(f) for f in files)})
    return subprocess.run([sys.executable, "-m", "migtool", "backfill", "--table", "bf_e2e", "--set", "b = a * 2",
                           "--batch-size", "500", "--yes", *args], env=env, capture_output=True, text=True,
                          timeout=300, cwd=REPO)


def test_backfill_through_the_compose_target(compose_stack):
    stack = compose_stack
    stack.psql(SEED)
    try:
        refused = _backfill(stack, stack.compose_files)
        assert refused.returncode == 2, refused.stderr
        assert "publishes no port" in refused.stderr and "127.0.0.1::5432" in refused.stderr
        assert stack.psql_rows("SELECT count(*) AS n FROM bf_e2e WHERE b IS NOT NULL") == [{"n": "0"}]

        with published_postgres(stack) as files:
            res = _backfill(stack, files, "--json")
            assert res.returncode == 0, res.stderr
            summary = json.loads(res.stdout)
            assert summary["rows_updated"] == 3000 and summary["remaining"] == 0 and summary["batches"] == 7
            assert stack.db_password not in res.stdout + res.stderr
        assert stack.psql_rows("SELECT count(*) AS n FROM bf_e2e WHERE b IS DISTINCT FROM a * 2") == [{"n": "0"}]
        assert stack.psql_rows("SELECT state, rows_done FROM migtool_backfill") == [{"state": "done",
                                                                                   "rows_done": "3000"}]
    finally:
        stack.psql("DROP TABLE IF EXISTS bf_e2e, migtool_backfill;")
