"""deploy-migrate refuses a migration that will fail on today's data, before any backup, even with
--allow-danger; proceeds after the backfill; --skip-data-checks overrides and is recorded."""

from __future__ import annotations

import json

import pytest

from tests.integration import test_deploy_direct as deploy
from tests.integration.test_deploy_direct import migtool, rows
from tests.support.prisma_table import write_migration

pytestmark = pytest.mark.integration

project = deploy.project  # the same project as deploy-migrate's own direct-target tests

NAME_REQUIRED = ("20250102000000_name_required", "ALTER TABLE users ALTER COLUMN name SET NOT NULL;\n")
NAME_UNIQUE = ("20250103000000_name_unique", "ALTER TABLE users ADD CONSTRAINT users_name_key UNIQUE (name);\n")


def backups(project) -> list[str]:
    folder = project["backups"]
    return sorted(p.name for p in folder.iterdir() if ".dump" in p.name or ".sql" in p.name) if folder.exists() else []


def test_refuses_set_not_null_over_nulls_then_proceeds_after_a_backfill(project):
    assert migtool(project, "deploy-migrate", "--yes").returncode == 0
    with_nulls = "INSERT INTO users SELECT g, CASE WHEN g % 4 = 0 THEN NULL ELSE 'n' END FROM generate_series(1, 12) g"
    rows(project["url"], with_nulls + " RETURNING id")
    write_migration(project["mdir"], *NAME_REQUIRED)

    refused = migtool(project, "deploy-migrate", "--yes", "--allow-danger", "--json")
    assert refused.returncode == 1, refused.stderr
    assert 'will fail: 3 rows of "users" have NULL "name"' in refused.stderr
    assert "Backfill first" in refused.stderr and "--skip-data-checks" in refused.stderr
    record = json.loads(refused.stdout)
    assert record["result"] == "refused"
    (failure,) = record["data_checks"]["will_fail"]
    assert (failure["migration"], failure["check"], failure["count"]) == (NAME_REQUIRED[0], "not-null", 3)
    assert backups(project) == []  # refused before any backup
    assert rows(project["url"], f"SELECT count(*) FROM _prisma_migrations WHERE migration_name = '{NAME_REQUIRED[0]}'") \
        == [(0,)]

    rows(project["url"], "UPDATE users SET name = 'backfilled' WHERE name IS NULL RETURNING id")
    applied = migtool(project, "deploy-migrate", "--yes", "--json")
    assert applied.returncode == 0, applied.stderr
    record = json.loads(applied.stdout)
    assert record["result"] == "applied" and record["data_checks"] == {"skipped": False, "will_fail": []}


def test_skip_data_checks_overrides_and_is_recorded(project):
    assert migtool(project, "deploy-migrate", "--yes").returncode == 0
    rows(project["url"], "INSERT INTO users VALUES (1, 'same'), (2, 'same') RETURNING id")
    write_migration(project["mdir"], *NAME_UNIQUE)
    refused = migtool(project, "deploy-migrate", "--yes")
    assert refused.returncode == 1 and "duplicate group" in refused.stderr

    forced = migtool(project, "deploy-migrate", "--yes", "--skip-data-checks", "--backup", "never", "--json")
    record = json.loads(forced.stdout)
    assert record["data_checks"] == {"skipped": True, "why": "--skip-data-checks"}
    # The check was right: the migration itself fails on the duplicates.
    assert forced.returncode == 1 and record["result"] == "failed"
