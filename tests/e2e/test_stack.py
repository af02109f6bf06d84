"""Smoke tests of the real docker compose stack (deploy/docker-compose.yml)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import EXAMPLE_MIGRATIONS_DIR, ComposeStack

pytestmark = pytest.mark.e2e

EXAMPLE_MIGRATIONS = sorted(p.name for p in EXAMPLE_MIGRATIONS_DIR.iterdir() if p.is_dir())


def _service_health(stack: ComposeStack) -> dict[str, str]:
    out = stack.compose("ps", "--format", "json").stdout
    # compose prints one JSON object per line (newer) or one JSON array (older).
    entries = (
        json.loads(out)
        if out.lstrip().startswith("[")
        else [json.loads(line) for line in out.splitlines() if line]
    )
    return {entry["Service"]: entry.get("Health") or entry.get("State") for entry in entries}


def _applied_migrations(stack: ComposeStack) -> list[dict[str, str]]:
    return stack.psql_rows(
        "SELECT migration_name, finished_at IS NOT NULL AS finished, rolled_back_at IS NOT NULL AS rolled_back "
        'FROM "_prisma_migrations" ORDER BY started_at, migration_name'
    )


def test_stack_migrates_and_serves(compose_stack: ComposeStack) -> None:
    stack = compose_stack
    compose_stack.reset_database()
    assert _service_health(stack) == {"postgres": "healthy", "app": "healthy"}
    assert len(EXAMPLE_MIGRATIONS) >= 5

    # Production's command: the migrate service is in a profile, `run` starts it anyway.
    first = stack.migrate()
    assert "All migrations have been successfully applied." in first.stdout, first.stdout

    rows = _applied_migrations(stack)
    assert [r["migration_name"] for r in rows] == EXAMPLE_MIGRATIONS
    assert all(r["finished"] == "t" and r["rolled_back"] == "f" for r in rows), rows

    again = stack.migrate()
    assert "No pending migrations to apply." in again.stdout, again.stdout

    # The app keeps serving: health, then a write/read round trip.
    status, body = stack.http("GET", "/health")
    assert (status, body) == (200, {"status": "ok"})

    status, created = stack.http("POST", "/users", {"email": "smoke@example.test", "name": "Smoke"})
    assert status == 201, created
    assert created["email"] == "smoke@example.test"
    assert created["phone"] == "unknown"  # the contract migrations' default

    status, users = stack.http("GET", "/users")
    assert status == 200
    assert any(u["id"] == created["id"] and u["name"] == "Smoke" for u in users), users

    status, duplicate = stack.http("POST", "/users", {"email": "smoke@example.test"})
    assert status == 409, duplicate


def test_failed_migration_is_atomic_and_resolvable(compose_stack: ComposeStack, migrations_dir: Path) -> None:
    """The migrations override: a failing migration leaves nothing behind, and
    `prisma migrate resolve --rolled-back` lets a fixed version deploy."""
    compose_stack.reset_database()
    stack = compose_stack.with_migrations(migrations_dir)
    bad = migrations_dir / "20990101000000_broken"
    bad.mkdir()
    (bad / "migration.sql").write_text(
        "CREATE TABLE \"Half\" (id int);\nDO $$ BEGIN RAISE EXCEPTION 'boom; with a semicolon'; END $$;\n"
    )

    failed = stack.migrate(check=False)
    assert failed.returncode != 0
    assert "boom; with a semicolon" in failed.stdout + failed.stderr

    rows = {r["migration_name"]: r for r in _applied_migrations(stack)}
    assert rows["20990101000000_broken"]["finished"] == "f"
    # One script, one implicit transaction: the CREATE TABLE was rolled back.
    assert stack.psql("SELECT to_regclass('public.\"Half\"') IS NULL AS gone").splitlines()[1] == "t"

    resolved = stack.compose(
        "run", "--rm", "migrate", "pnpm", "db:migrate:resolve", "--rolled-back", "20990101000000_broken"
    )
    assert "marked as rolled back" in resolved.stdout, resolved.stdout

    (bad / "migration.sql").write_text('CREATE TABLE "Half" (id int);\n')
    fixed = stack.migrate()
    assert "20990101000000_broken" in fixed.stdout
    assert stack.psql("SELECT to_regclass('public.\"Half\"') IS NOT NULL AS present").splitlines()[1] == "t"

    # Leave the shared stack as the other tests expect it: the example's schema only.
    compose_stack.reset_database()
    compose_stack.migrate()
