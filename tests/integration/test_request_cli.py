"""`migtool request` on the example's migrations: with row estimates from a live database (explicit
paths, and the pending ones found through `_prisma_migrations`), and without a database."""

from __future__ import annotations

import json

import psycopg
import pytest

from migtool.cli import main
from tests.support.example_project import EXAMPLE_MIGRATIONS, example_project
from tests.support.prisma_table import PrismaTable

pytestmark = pytest.mark.integration

PHONE = ["20250203090000_add_user_phone", "20250204090000_backfill_user_phone",
         "20250210090000_user_phone_default_and_check", "20250211090000_validate_user_phone_check",
         "20250212090000_user_phone_set_not_null"]


@pytest.fixture
def project(tmp_path, monkeypatch):
    return example_project(tmp_path, monkeypatch)


def request(capsys, *argv):
    code = main(["request", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _paths(names):
    return [f"prisma/migrations/{n}" for n in names]


def _live(monkeypatch, pg_url, upto: int) -> PrismaTable:
    """The database with the example's first `upto` migrations applied (and recorded), 2000 users, analyzed."""
    table = PrismaTable(pg_url)
    table.create()
    names = sorted(p.name for p in EXAMPLE_MIGRATIONS.iterdir() if p.is_dir())
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for name in names[:upto]:
            script = (EXAMPLE_MIGRATIONS / name / "migration.sql").read_bytes()
            conn.execute(script.decode())
            table.apply(name, script)
        conn.execute("""INSERT INTO "User" ("email") SELECT 'u' || g FROM generate_series(1, 2000) g""")
        conn.execute("ANALYZE")
    monkeypatch.setenv("DATABASE_URL", pg_url)
    return table


def test_request_without_a_database_says_unknown(project, capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    code, out, _ = request(capsys, *_paths(PHONE))
    assert code == 0
    assert out.startswith("## Schema Change Request")
    assert '- `20250203090000_add_user_phone`: add column "User"."phone" (TEXT, nullable)' in out
    assert '| "User" | unknown (database not reachable) |' in out
    assert "**Yes**" in out  # the example is the safe way: nothing old code trips over
    assert "- Yes: `20250204090000_backfill_user_phone`: DO block updating \"User\" (batched backfill)" in out
    assert "`migtool backup --reason before-add-user-phone`" in out
    assert "`migtool rollback --before 20250203090000_add_user_phone`" in out
    assert "`migtool rollback --to BACKUP`" in out
    assert "- [ ] `migtool lint prisma/migrations/20250203090000_add_user_phone" in out


def test_request_with_live_row_estimates(project, capsys, monkeypatch, pg_url):
    _live(monkeypatch, pg_url, upto=2)
    code, out, err = request(capsys, *_paths(PHONE[:1]), "--reason", "support needs a phone number")
    assert code == 0, err
    assert '| "User" | about 2,000 (pg_class.reltuples) |' in out
    assert "support needs a phone number" in out
    assert pg_url not in out and pg_url not in err


def test_request_without_paths_covers_the_pending_migrations(project, capsys, monkeypatch, pg_url):
    _live(monkeypatch, pg_url, upto=3)  # init, the index, add_user_phone applied: the rest pending
    code, out, err = request(capsys, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["migrations"] == PHONE[1:]
    assert data["tables"] == [{"table": "User", "estimated_rows": "about 2,000 (pg_class.reltuples)"}]
    assert data["backward_compatible"] is True


def test_request_for_a_breaking_migration_gives_the_rollout_plan(project, capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    folder = project / "prisma" / "migrations" / "20990101000000_rename_name"
    folder.mkdir()
    (folder / "migration.sql").write_text('-- reason: the product says "full name"\n'
                                          'ALTER TABLE "User" RENAME COLUMN "name" TO "fullName";\n')
    code, out, _ = request(capsys, str(folder), "--format", "github", "--output", "req.md")
    assert code == 0 and out == ""
    text = (project / "req.md").read_text()
    assert text.startswith("<!-- migtool:request -->")
    assert "**No**" in text and "`rename-column`" in text
    assert "`migtool plan rename-column User name fullName` writes the phased migrations" in text
    assert 'the product says "full name"' in text
    assert "<details><summary><code>20990101000000_rename_name</code></summary>" in text


def test_request_without_paths_and_without_a_database_exits_3(project, capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    code, _, err = request(capsys)
    assert code == 3
    assert "cannot tell which migrations are pending" in err
    assert "migtool request prisma/migrations/<folder>" in err


def test_request_shows_the_rows_a_data_check_proves_will_fail(project, capsys, monkeypatch, pg_url):
    _live(monkeypatch, pg_url, upto=3)  # "phone" exists, NULL on all 2,000 users
    folder = project / "prisma" / "migrations" / "20990101000000_phone_required"
    folder.mkdir()
    (folder / "migration.sql").write_text('ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;\n')
    code, out, err = request(capsys, "prisma/migrations/20990101000000_phone_required")
    assert code == 0, err
    row = next(line for line in out.splitlines() if line.startswith('| "User" |'))
    assert "about 2,000 (pg_class.reltuples)" in row and "will fail" in row and "2,000" in row.split("will fail")[1], row
