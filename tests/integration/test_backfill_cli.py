"""migtool backfill against a real PostgreSQL: keys of every shape, the plan, and what it refuses."""

import json

import pytest

from tests.support.backupdb import cli_env, run_cli
from tests.support.sql import sql

pytestmark = pytest.mark.integration


def backfill(url, tmp_path, *args):
    return run_cli(["backfill", "--target", "direct", *args], cli_env(url), tmp_path, timeout=120)


@pytest.fixture
def prisma_like(pg_url):
    """Prisma's shapes: a text (cuid-like) key on "User", a composite uuid+int key in another schema."""
    sql(pg_url, """
        CREATE TABLE "User" (id text PRIMARY KEY, email text NOT NULL, "emailLower" text);
        INSERT INTO "User" SELECT 'c' || md5(g::text), 'Person' || g || '@Example.COM', NULL
        FROM generate_series(1, 7000) g;
        CREATE SCHEMA app;
        CREATE TABLE app."Membership" ("orgId" uuid, "userId" int, role text, "roleUpper" text,
                                       PRIMARY KEY ("orgId", "userId"));
        INSERT INTO app."Membership" SELECT ('00000000-0000-0000-0000-00000000000' || (g % 7))::uuid, g,
               (ARRAY['owner', 'member'])[1 + g % 2], NULL FROM generate_series(1, 5000) g;
        CREATE TABLE no_key (a int, b int);
    """)
    return pg_url


def test_text_key_backfill_updates_every_row_once(prisma_like, tmp_path):
    res = backfill(prisma_like, tmp_path, "--table", "User", "--set", '"emailLower" = lower(email)',
                   "--batch-size", "1000", "--yes", "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["state"] == "done" and summary["rows_updated"] == 7000 and summary["remaining"] == 0
    assert summary["batches"] == 8  # 7 full batches and the short one that ends the walk
    assert sql(prisma_like, 'SELECT count(*) FROM "User" WHERE "emailLower" IS DISTINCT FROM lower(email)') == [(0,)]
    (state, done, last), = sql(prisma_like, "SELECT state, rows_done, last_key FROM migtool_backfill")
    assert (state, done) == ("done", 7000)
    assert last == [sql(prisma_like, 'SELECT max(id) FROM "User"')[0][0]]
    # idempotent: nothing is left, so a second run updates nothing
    again = backfill(prisma_like, tmp_path, "--table", "User", "--set", '"emailLower" = lower(email)', "--yes",
                     "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["rows_updated"] == 0


def test_composite_uuid_key_in_another_schema(prisma_like, tmp_path):
    res = backfill(prisma_like, tmp_path, "--table", "app.Membership", "--set", '"roleUpper" = upper(role)',
                   "--where", "\"roleUpper\" IS NULL AND role = 'owner'", "--batch-size", "300", "--yes")
    assert res.returncode == 0, res.stderr
    assert "2,500 rows updated" in res.stdout
    rows = sql(prisma_like, 'SELECT role, "roleUpper", count(*) FROM app."Membership" GROUP BY 1, 2 ORDER BY 1')
    assert rows == [("member", None, 2500), ("owner", "OWNER", 2500)]
    assert sql(prisma_like, "SELECT count(*) FROM app.migtool_backfill WHERE state = 'done'") == [(1,)]


def test_percent_in_expressions_is_sql_not_a_placeholder(prisma_like, tmp_path):
    res = backfill(prisma_like, tmp_path, "--table", "User", "--set", '"emailLower" = (length(email) % 7)::text',
                   "--where", "\"emailLower\" IS NULL AND email LIKE 'Person1%'", "--batch-size", "500", "--yes")
    assert res.returncode == 0, res.stderr
    assert sql(prisma_like, """SELECT count(*) FILTER (WHERE "emailLower" = (length(email) % 7)::text),
                                      count(*) FILTER (WHERE "emailLower" IS NOT NULL)
                               FROM "User" """) == sql(prisma_like, """SELECT count(*), count(*) FROM "User"
                                                                      WHERE email LIKE 'Person1%'""")
    dry = backfill(prisma_like, tmp_path, "--table", "User", "--set", '"emailLower" = (length(email) % 7)::text',
                   "--dry-run")
    assert dry.returncode == 0 and "CAST(length(email) % 7 AS text)" in dry.stdout


def test_dry_run_changes_nothing_and_shows_the_plan(prisma_like, tmp_path):
    res = backfill(prisma_like, tmp_path, "--table", "User", "--set", '"emailLower" = lower(email)', "--dry-run",
                   "--json")
    assert res.returncode == 0, res.stderr
    plan = json.loads(res.stdout)
    assert plan["rows_to_update"] == 7000 and plan["rows_exact"] is True
    assert plan["sample_batch"]["rows"] == 1000 and plan["estimated_seconds"] is not None
    assert 'ORDER BY "id" LIMIT 1000' in plan["batch_sql"] and "OFFSET" not in plan["batch_sql"]
    assert sql(prisma_like, 'SELECT count(*) FROM "User" WHERE "emailLower" IS NOT NULL') == [(0,)]
    assert sql(prisma_like, "SELECT to_regclass('migtool_backfill')") == [(None,)]
    text = backfill(prisma_like, tmp_path, "--table", "User", "--set", '"emailLower" = lower(email)', "--dry-run")
    assert text.returncode == 0 and "7,000 to update (counted)" in text.stdout and "one batch:" in text.stdout


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--table", "no_key", "--set", "b = a"], 1, "has no primary key"),
    (["--table", "user", "--set", "x = 1"], 2, "did you mean public.User"),
    (["--table", "User", "--set", "\"emailLower\" = 'x'; DROP TABLE no_key"], 2, "not several statements"),
    (["--table", "User", "--set", "\"emailLower\" = 'x'", "--where", "true; DROP TABLE no_key"], 2,
     "not several statements"),
    (["--table", "User", "--set", "id = 'x'"], 1, "primary key column"),
    (["--table", "User", "--set", "nope = 1"], 1, "has no column"),
    (["--table", "User", "--set", '"emailLower" = lower(email)'], 1, "not asking without a terminal"),
])
def test_refusals_change_nothing(prisma_like, tmp_path, args, code, message):
    yes = [] if "not asking" in message else ["--yes"]
    res = backfill(prisma_like, tmp_path, *args, *yes)
    assert res.returncode == code, res.stderr
    assert message in res.stderr
    assert sql(prisma_like, "SELECT to_regclass('no_key') IS NOT NULL") == [(True,)]
    assert sql(prisma_like, 'SELECT count(*) FROM "User" WHERE "emailLower" IS NOT NULL') == [(0,)]


def test_a_failing_expression_stops_with_progress_kept(prisma_like, tmp_path):
    sql(prisma_like, "CREATE TABLE nums (id int PRIMARY KEY, d int, q int)")
    sql(prisma_like, "INSERT INTO nums SELECT g, CASE WHEN g = 2500 THEN 0 ELSE 1 END, NULL "
                     "FROM generate_series(1, 4000) g")
    res = backfill(prisma_like, tmp_path, "--table", "nums", "--set", "q = 10 / d", "--batch-size", "1000", "--yes")
    assert res.returncode == 1
    assert "division by zero" in res.stderr and "--resume" in res.stderr
    assert sql(prisma_like, "SELECT state, rows_done, last_key FROM migtool_backfill") == [("failed", 2000, ["2000"])]
    assert sql(prisma_like, "SELECT count(*) FROM nums WHERE q IS NOT NULL") == [(2000,)]
    # Fixed data, same job: refused without --resume/--restart; --restart walks from the first key
    # and, thanks to the condition, updates only the rows that are left.
    sql(prisma_like, "UPDATE nums SET d = 5 WHERE d = 0")
    again = backfill(prisma_like, tmp_path, "--table", "nums", "--set", "q = 10 / d", "--yes")
    assert again.returncode == 1 and "stopped (failed)" in again.stderr
    res = backfill(prisma_like, tmp_path, "--table", "nums", "--set", "q = 10 / d", "--restart", "--yes", "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["rows_updated"] == 2000 and summary["resumed_from"] is None and summary["rows_done_total"] == 2000
    assert sql(prisma_like, "SELECT count(*) FROM nums WHERE q IS DISTINCT FROM 10 / d") == [(0,)]
