"""The compose target and the direct target report the same thing about the same database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.published_postgres import compose_target, published_postgres, published_url, run_migtool

pytestmark = pytest.mark.e2e


def test_status_and_history_are_identical_from_both_targets(compose_stack, migrations_dir):
    stack = compose_stack
    stack.reset_database()
    try:
        stack.with_migrations(migrations_dir).migrate()
        with published_postgres(stack) as files:
            _compare_targets(stack, published_url(stack, files), migrations_dir)
    finally:
        stack.reset_database()


def _compare_targets(stack, published_postgres: str, migrations_dir: Path) -> None:
    # Give the database something of every kind: a pending migration and a modified one.
    pending = migrations_dir / "20990101000000_later"
    pending.mkdir()
    (pending / "migration.sql").write_text('ALTER TABLE "User" ADD COLUMN "nickname" TEXT;\n')
    first = sorted(p for p in migrations_dir.iterdir() if p.is_dir())[0] / "migration.sql"
    first.write_text(first.read_text() + "-- edited after it was applied\n")

    compose = compose_target(stack, stack.compose_files) | {"MIGTOOL_MIGRATIONS_DIR": str(migrations_dir)}
    direct = {"MIGTOOL_TARGET": "direct", "DATABASE_URL": published_postgres,
              "MIGTOOL_MIGRATIONS_DIR": str(migrations_dir)}
    for args in (["status", "--json"], ["history", "-n", "20", "--json"]):
        via_compose = run_migtool(compose, *args)
        via_direct = run_migtool(direct, *args)
        assert via_compose.returncode == via_direct.returncode, (via_compose.stderr, via_direct.stderr)
        assert json.loads(via_compose.stdout) == json.loads(via_direct.stdout)
        assert stack.db_password not in via_direct.stdout + via_direct.stderr
    data = json.loads(run_migtool(direct, "status", "--json").stdout)
    assert data["summary"].get("pending") == 1 and data["summary"].get("modified") == 1
