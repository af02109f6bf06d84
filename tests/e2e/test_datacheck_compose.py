"""Data checks through the compose target: psql inside the postgres service, exact counts, read-only."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.e2e.conftest import COMPOSE_FILE, REPO_ROOT
from tests.support.prisma_table import write_migration

pytestmark = pytest.mark.e2e


def test_lint_against_the_compose_database_counts_the_nulls(compose_stack, migrations_dir):
    stack = compose_stack
    stack.reset_database()
    try:
        stack.with_migrations(migrations_dir).migrate()
        stack.psql('INSERT INTO "User" ("email", "name") SELECT \'dc\' || g || \'@x\', CASE WHEN g % 3 = 0 THEN NULL '
                   "ELSE 'n' END FROM generate_series(1, 30) g;")
        nulls = int(stack.psql_rows('SELECT count(*) AS n FROM "User" WHERE "name" IS NULL')[0]["n"])
        write_migration(migrations_dir, "20990101000000_name_required",
                        'ALTER TABLE "User" ALTER COLUMN "name" SET NOT NULL;\n')
        env = {k: v for k, v in stack.env.items() if not k.startswith(("MIGTOOL_", "COMPOSE_")) and k != "DATABASE_URL"}
        res = subprocess.run(
            [sys.executable, "-m", "migtool", "lint", "--json", "--target", "compose", "--compose-file",
             str(COMPOSE_FILE), "--compose-project", stack.project_name, "--compose-env-file", str(stack.env_file),
             "--migrations-dir", str(migrations_dir)],
            env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=180)
        assert res.returncode == 1, res.stderr
        finding = next(f for f in json.loads(res.stdout)["findings"] if f["rule"] == "set-not-null")
        assert finding["severity"] == "danger"
        assert (finding["data"]["result"], finding["data"]["count"], finding["data"]["exact"]) == ("will-fail", nulls, True)
        assert nulls == 10
        # Nothing was written: the migration is still pending and the rows are as they were.
        assert stack.psql_rows('SELECT count(*) AS n FROM "User" WHERE "name" IS NULL')[0]["n"] == str(nulls)
        assert stack.psql_rows("SELECT count(*) AS n FROM _prisma_migrations "
                               "WHERE migration_name = '20990101000000_name_required'")[0]["n"] == "0"
    finally:
        stack.reset_database()
