"""`migtool lint` and `migtool status` against a real database: data checks become part of the findings,
out-of-order pending migrations are reported, and compose-style psql execution reads the same results."""

from __future__ import annotations

import json
import os

import psycopg
import pytest

from migtool.cli import main
from migtool.config import Secret
from migtool.database import DirectDatabase
from migtool.datacheck import check_sources
from migtool.datacheck.plan import plan_sources
from migtool.datacheck.runner import PsqlExecutor, Runner, Settings
from tests.support.prisma_table import PrismaTable, write_migration

pytestmark = pytest.mark.integration

INIT = ('CREATE TABLE "User" ("id" SERIAL PRIMARY KEY, "email" TEXT, "phone" TEXT);\n'
        'CREATE TABLE "Order" ("id" SERIAL PRIMARY KEY, "userId" INTEGER, "total" INTEGER);\n')
ROWS = ('INSERT INTO "User" ("email", "phone") SELECT \'u\' || g, CASE WHEN g % 4 = 0 THEN NULL ELSE \'1\' END '
        'FROM generate_series(1, 40) g;\n'
        'INSERT INTO "Order" ("userId", "total") SELECT CASE WHEN g <= 3 THEN 999 ELSE 1 END, g '
        'FROM generate_series(1, 20) g;\n')
LATER = 'ALTER TABLE "User" ADD COLUMN "nick" TEXT;\n'
PHONE_REQUIRED = 'ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;\n'
FK_NOT_VALID = ('ALTER TABLE "Order" ADD CONSTRAINT "Order_userId_fkey" FOREIGN KEY ("userId") '
                'REFERENCES "User"("id") NOT VALID;\n')
VALIDATE = 'ALTER TABLE "Order" VALIDATE CONSTRAINT "Order_userId_fkey";\n'


@pytest.fixture
def project(tmp_path, monkeypatch, pg_url):
    for var in list(os.environ):
        if var.startswith("MIGTOOL_") or var in ("DATABASE_URL", "DB_USER", "DB_NAME"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIGTOOL_TARGET", "direct")
    monkeypatch.setenv("DATABASE_URL", pg_url)
    mig = tmp_path / "prisma" / "migrations"
    table = PrismaTable(pg_url)
    table.create()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        # Applied: init and a later migration (run for real, and recorded the way Prisma records them).
        for name, sql in (("20250101000000_init", INIT + ROWS), ("20250301000000_nick", LATER),
                          ("20250302000000_fk", FK_NOT_VALID)):
            conn.execute(sql)
            write_migration(mig, name, sql)
            table.apply(name, (mig / name / "migration.sql").read_bytes())
    return mig


def lint_json(capsys):
    code = main(["lint", "--json"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def test_lint_reports_will_fail_with_counts_and_out_of_order(project, capsys):
    # Pending: one written on a branch before the applied 20250301 one (out of order), one after.
    write_migration(project, "20250201000000_phone_required", PHONE_REQUIRED)
    write_migration(project, "20250401000000_validate_fk", VALIDATE)
    code, data, err = lint_json(capsys)
    assert code == 1, err
    by_rule = {}
    for f in data["findings"]:
        by_rule.setdefault(f["rule"], []).append(f)

    nn = by_rule["set-not-null"][0]
    assert nn["severity"] == "danger"  # a certain failure outranks "may lock"
    assert nn["data"]["check"] == "not-null" and nn["data"]["result"] == "will-fail"
    assert (nn["data"]["count"], nn["data"]["exact"], nn["data"]["rows"]) == (10, True, 40)
    assert nn["data"]["text"] == 'will fail: 10 rows of "User" have NULL "phone"'

    (fk,) = by_rule["fails-on-data"]  # VALIDATE CONSTRAINT is the safe step, yet the orphans make it fail
    assert fk["file"].endswith("20250401000000_validate_fk/migration.sql")
    assert (fk["data"]["check"], fk["data"]["count"], fk["data"]["example"]) == ("foreign-key", 3, {"userId": 999})
    assert "Clean the orphans" in fk["fix"]

    (late,) = by_rule["out-of-order-migration"]
    assert late["severity"] == "warning" and late["file"].endswith("20250201000000_phone_required/migration.sql")
    assert "older than 20250302000000_fk" in late["message"]


def test_text_output_shows_the_check(project, capsys):
    write_migration(project, "20250401000000_phone_required", PHONE_REQUIRED)
    code = main(["lint"])
    out, err = capsys.readouterr()
    assert code == 1
    assert 'data: will fail: 10 rows of "User" have NULL "phone"' in out


def test_a_backfill_earlier_in_the_deploy_is_taken_into_account(project, capsys):
    write_migration(project, "20250401000000_backfill", 'UPDATE "User" SET "phone" = \'?\' WHERE "phone" IS NULL;\n')
    write_migration(project, "20250402000000_phone_required", PHONE_REQUIRED)
    code, data, err = lint_json(capsys)
    nn = next(f for f in data["findings"] if f["rule"] == "set-not-null")
    assert nn["severity"] == "warning" and nn["data"]["result"] == "ok", nn
    assert not [f for f in data["findings"] if f["rule"] in ("fails-on-data", "out-of-order-migration")]


def test_status_reports_out_of_order(project, capsys):
    write_migration(project, "20250201000000_phone_required", PHONE_REQUIRED)
    code = main(["status", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert data["out_of_order"] == ["20250201000000_phone_required"]
    main(["status"])
    captured = capsys.readouterr()
    assert "out of order: 20250201000000_phone_required is older than the applied 20250302000000_fk" in captured.err


def test_psql_execution_reads_the_same_results(pg_url):
    """The compose target runs checks through psql (one run per query); the results are the same."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(INIT + ROWS)
    db = DirectDatabase(Secret(pg_url))
    sql = PHONE_REQUIRED + 'ALTER TABLE "User" ALTER COLUMN "email" TYPE integer USING "email"::integer;\n'
    direct = [(r.check.kind, r.result, r.count) for r in check_sources(db, [("m.sql", sql)])]
    executor = PsqlExecutor(db, lock_timeout_ms=50)
    via_psql = [(r.check.kind, r.result, r.count) for r in Runner(executor, Settings()).run(plan_sources([("m.sql", sql)]))]
    assert via_psql == direct
    assert ("not-null", "will-fail", 10) in direct and ("type-change", "will-fail", 40) in direct
    slow = plan_sources([("m.sql", 'ALTER TABLE "User" ADD CONSTRAINT "s" CHECK (pg_sleep(0.2) IS NOT NULL);')])
    (result,) = [r for r in Runner(executor, Settings(timeout_ms=300)).run(slow) if r.check.kind == "check"]
    assert result.label == "timeout" and result.text == "could not check within 0.3 s"
