"""`migtool plan` as a user meets it: names checked against the live schema (and the migrations folder
without a database), typos refused with the closest match, folders placed after the newest migration,
nothing overwritten, --dry-run writes nothing, data checks run when the database is reachable."""

from __future__ import annotations

import psycopg
import pytest

from migtool.cli import main
from tests.support.example_project import EXAMPLE_MIGRATIONS, clear_settings, example_project

pytestmark = pytest.mark.integration

NOWHERE = "postgresql://nobody@127.0.0.1:1/none"


@pytest.fixture
def project(tmp_path, monkeypatch):
    return example_project(tmp_path, monkeypatch)


@pytest.fixture
def live(project, pg_url, monkeypatch):
    """The example's schema in a real database (only there: the folder has just the init migration)."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for folder in sorted(p for p in EXAMPLE_MIGRATIONS.iterdir() if p.is_dir()):
            conn.execute((folder / "migration.sql").read_text())
        conn.execute("""INSERT INTO "User" ("email", "name") VALUES ('a@x', 'Ann'), ('b@x', 'Ann'), ('c@x', 'Bo')""")
        conn.execute("""INSERT INTO "Order" ("userId", "total") VALUES (1, 5), (2, 6)""")
        conn.execute('ALTER TABLE "Order" ADD COLUMN "referrerId" INTEGER')
        conn.execute('UPDATE "Order" SET "referrerId" = 99 WHERE "id" = 1')  # an orphan
    monkeypatch.setenv("DATABASE_URL", pg_url)
    return pg_url


def plan(capsys, *argv):
    code = main(["plan", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_typo_in_a_table_is_refused_with_the_closest_live_match(live, project, capsys):
    code, out, err = plan(capsys, "add-index", "Oder", "userId")
    assert code == 2
    assert 'table "Oder" not found (live schema of' in err and 'did you mean "Order"?' in err
    assert "next: migtool plan add-index Order userId" in err
    assert not (project / "prisma" / "plans").exists()
    assert live not in err


def test_typo_in_a_column_without_a_database_uses_the_migrations_folder(project, capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", NOWHERE)
    code, _, err = plan(capsys, "rename-column", "User", "phnoe", "mobile")
    assert code == 2
    assert "database not reachable" in err
    assert 'column "phnoe" not found in table "User" (migrations folder' in err
    assert 'did you mean "phone"?' in err
    assert "next: migtool plan rename-column User phone mobile" in err


def test_a_column_only_the_live_schema_has_is_accepted(live, project, capsys):
    code, out, err = plan(capsys, "add-foreign-key", "Order", "referrerId", "User")
    assert code == 0, err
    assert "when planned: 1 orphan rows" in out  # the check ran on the live data
    assert "1 orphan rows exist now" in out


def test_folders_go_after_the_newest_migration_and_nothing_is_overwritten(project, capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", NOWHERE)
    newest = project / "prisma" / "migrations" / "29990101000000_from_the_future"
    newest.mkdir()
    (newest / "migration.sql").write_text("SELECT 1;\n")
    code, out, err = plan(capsys, "add-required-column", "User", "bio", "TEXT", "--default", "none")
    assert code == 0, err
    out_dir = project / "prisma" / "plans" / "add_user_bio"
    folders = sorted(p.name for p in out_dir.iterdir() if p.is_dir())
    assert folders[0] == "29990101000001_add_user_bio" and len(folders) == 6
    assert [f[:14] for f in folders] == sorted(f[:14] for f in folders) and len({f[:14] for f in folders}) == 6
    plan_md = (out_dir / "PLAN.md").read_text()
    assert plan_md == out
    assert "## Release 1: expand" in plan_md and 'bio String @default("none")' in plan_md
    assert f"cp -r prisma/plans/add_user_bio/{folders[0]} prisma/migrations/" in plan_md
    before = {p: p.read_text() for p in out_dir.rglob("*.sql")}
    code, _, err = plan(capsys, "add-required-column", "User", "bio", "TEXT", "--default", "none",
                        "--out", str(out_dir))
    # a second run picks later timestamps, so only PLAN.md clashes: refused before writing anything
    assert code == 1 and "already exists; nothing was written" in err
    assert {p: p.read_text() for p in out_dir.rglob("*.sql")} == before


def test_dry_run_prints_the_sql_and_writes_nothing(project, capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", NOWHERE)
    code, out, err = plan(capsys, "add-index", "Order", "status", "createdAt", "--unique", "--dry-run")
    assert code == 0, err
    assert 'CREATE UNIQUE INDEX CONCURRENTLY "Order_status_createdAt_key" ON "Order"("status", "createdAt");' in out
    assert "@@unique([status, createdAt])" in out
    assert "nothing written" in err
    assert not (project / "prisma" / "plans").exists()


def test_written_plan_lints_clean_through_the_cli(project, capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", NOWHERE)
    assert plan(capsys, "rename-column", "User", "email", "emailAddress", "--out", "out")[0] == 0
    code = main(["lint", "out", "--fail-on", "warning"])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert "0 danger, 0 warning" in err


def test_no_database_and_no_migrations_folder_is_a_usage_error(tmp_path, capsys, monkeypatch):
    clear_settings(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", NOWHERE)
    code, _, err = plan(capsys, "drop-table", "User", "--target", "direct", "--migrations-dir", "nowhere")
    assert code == 2
    assert "cannot check table and column names" in err and "no migrations folder at nowhere" in err


def test_request_on_a_planned_expand_step_names_the_planned_backfill(project, capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", NOWHERE)
    assert plan(capsys, "add-required-column", "User", "bio", "TEXT", "--default", "none", "--out", "out")[0] == 0
    [first] = [p for p in (project / "out").iterdir() if p.name.endswith("_add_user_bio")]
    assert first.joinpath("migration.sql").read_text().startswith(
        "-- Plan: `migtool plan add-required-column User bio TEXT --default none`, release 1 of 3")
    code = main(["request", str(first)])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "- Yes: a planned backfill phase of `migtool plan add-required-column User bio TEXT --default none`" in out
