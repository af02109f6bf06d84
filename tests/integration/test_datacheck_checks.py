"""Data checks against a real PostgreSQL with seeded bad data: exact counts on small tables, examples,
derived state from earlier statements, samples for type changes, and time-outs that report instead of hang."""

from __future__ import annotations

import psycopg
import pytest

from migtool.config import Secret
from migtool.database import DirectDatabase
from migtool.datacheck import certain_failures, check_sources
from migtool.datacheck.runner import Settings

pytestmark = pytest.mark.integration

SEED = """
CREATE TABLE "User" (id serial PRIMARY KEY, email text, phone text, age text, nick varchar(20), score int);
INSERT INTO "User" (email, phone, age, nick, score)
SELECT 'u' || g || '@x', CASE WHEN g % 10 = 0 THEN NULL ELSE '555-' || g END,
       CASE WHEN g % 25 = 0 THEN 'abc' || g ELSE g::text END,
       CASE WHEN g % 100 = 0 THEN 'a-very-long-nick-' || g ELSE 'n' || g END, g
FROM generate_series(1, 500) g;
UPDATE "User" SET email = 'dup@x' WHERE id IN (1, 2, 3);
UPDATE "User" SET email = 'dup2@x' WHERE id IN (4, 5);
CREATE TABLE "Order" (id serial PRIMARY KEY, "userId" int, total int);
INSERT INTO "Order" ("userId", total)
SELECT CASE WHEN g <= 7 THEN 100000 + g ELSE (g % 500) + 1 END, CASE WHEN g % 50 = 0 THEN -1 ELSE g END
FROM generate_series(1, 300) g;
INSERT INTO "Order" ("userId", total) VALUES (NULL, 5);
-- Added NOT VALID by a migration applied earlier: VALIDATE reads its definition from the catalog.
ALTER TABLE "Order" ADD CONSTRAINT "Order_total_check" CHECK (total >= 0) NOT VALID;
ALTER TABLE "Order" ADD CONSTRAINT "Order_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"(id) NOT VALID;
CREATE TABLE "Empty" (id int, v text);
"""


@pytest.fixture
def db(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(SEED)
    return DirectDatabase(Secret(pg_url))


def only(results, kind=None):
    found = [r for r in results if r.check.kind != "table-size" and (kind is None or r.check.kind == kind)]
    assert len(found) == 1, [(r.check.kind, r.text) for r in results]
    return found[0]


def run(db, sql, **settings):
    return check_sources(db, [("m.sql", sql)], Settings(**settings) if settings else None)


def test_set_not_null_counts_the_nulls_exactly(db):
    r = only(run(db, 'ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;'))
    assert (r.result, r.count, r.exact, r.label) == ("will-fail", 50, True, "exact")
    assert r.text == 'will fail: 50 rows of "User" have NULL "phone"'
    assert r.rows == 500 and r.rows_exact and r.size_bytes > 0
    assert r.to_data()["check"] == "not-null"


def test_not_null_that_holds_says_checked(db):
    r = only(run(db, 'ALTER TABLE "User" ALTER COLUMN "email" SET NOT NULL;'))
    assert (r.result, r.count) == ("ok", 0)
    assert r.text == 'checked: no NULL "email" in 500 rows of "User"'


def test_required_column_on_a_table_with_rows(db):
    r = only(run(db, 'ALTER TABLE "User" ADD COLUMN "tenant" TEXT NOT NULL;'))
    assert (r.result, r.count) == ("will-fail", 500)
    assert "would be NULL in all of them" in r.text
    empty = only(run(db, 'ALTER TABLE "Empty" ADD COLUMN "tenant" TEXT NOT NULL;'))
    assert (empty.result, empty.count) == ("ok", 0)


def test_unique_reports_duplicate_groups_with_an_example(db):
    r = only(run(db, 'CREATE UNIQUE INDEX CONCURRENTLY "User_email_key" ON "User"("email");'))
    assert (r.result, r.count, r.exact) == ("will-fail", 2, True)
    assert r.extra["rows"] == 5
    assert r.example["key"] in ({"email": "dup@x"}, {"email": "dup2@x"}) and r.example["rows"] in (2, 3)
    ok = only(run(db, 'ALTER TABLE "User" ADD CONSTRAINT "u" UNIQUE ("phone");'))  # NULLs never collide
    assert (ok.result, ok.count) == ("ok", 0)
    partial = only(run(db, 'CREATE UNIQUE INDEX "p" ON "User"(lower("email")) WHERE id > 3;'))
    assert (partial.result, partial.count) == ("will-fail", 1)  # only dup2@x is left in the partial index


def test_foreign_key_orphans_with_an_example(db):
    r = only(run(db, 'ALTER TABLE "Order" ADD CONSTRAINT "fk2" FOREIGN KEY ("userId") REFERENCES "User"("id");'))
    assert (r.result, r.count) == ("will-fail", 7)  # the NULL userId passes (MATCH SIMPLE)
    assert r.example["userId"] > 100000
    assert 'rows of "Order" reference no row of User ("userId")' in r.text
    # No referenced columns: the primary key, from the catalog.
    r2 = only(run(db, 'ALTER TABLE "Order" ADD CONSTRAINT "fk3" FOREIGN KEY ("userId") REFERENCES "User";'))
    assert (r2.result, r2.count) == ("will-fail", 7)


def test_check_constraint_counts_violations(db):
    r = only(run(db, 'ALTER TABLE "Order" ADD CONSTRAINT "pos" CHECK ("total" >= 0);'))
    assert (r.result, r.count, r.example) == ("will-fail", 6, {"total": -1})
    ok = only(run(db, 'ALTER TABLE "Order" ADD CONSTRAINT "pos" CHECK ("total" > -5);'))
    assert ok.result == "ok"


def test_validate_constraint_reads_its_definition_from_the_catalog(db):
    r = only(run(db, 'ALTER TABLE "Order" VALIDATE CONSTRAINT "Order_total_check";'))
    assert (r.check.kind, r.result, r.count) == ("check", "will-fail", 6)
    fk = only(run(db, 'ALTER TABLE "Order" VALIDATE CONSTRAINT "Order_userId_fkey";'))
    assert (fk.check.kind, fk.result, fk.count) == ("foreign-key", "will-fail", 7)
    missing = only(run(db, 'ALTER TABLE "Order" VALIDATE CONSTRAINT "nope";'))
    assert missing.result == "unknown" and "no constraint nope" in missing.text


def test_type_change_counts_unconvertible_values(db):
    # PostgreSQL 15: no pg_input_is_valid, so rows are converted one by one in rolled-back subtransactions;
    # 500 rows fit in the bound, so the count is exact.
    r = only(run(db, 'ALTER TABLE "User" ALTER COLUMN "age" TYPE integer USING "age"::integer;'))
    assert (r.result, r.count, r.exact) == ("will-fail", 20, True)
    assert r.example.startswith("abc") and "invalid input syntax for type integer" in r.detail
    shorter = only(run(db, 'ALTER TABLE "User" ALTER COLUMN "nick" TYPE varchar(10);'))
    assert (shorter.result, shorter.count) == ("will-fail", 5)
    assert "too long" in shorter.detail
    wider = only(run(db, 'ALTER TABLE "User" ALTER COLUMN "nick" TYPE text;'))
    assert (wider.result, wider.label) == ("ok", "derived")


def test_type_change_sample_is_labelled(db):
    r = only(run(db, 'ALTER TABLE "User" ALTER COLUMN "age" TYPE integer USING "age"::integer;',
                 conversion_rows=100))
    assert (r.result, r.exact, r.label, r.scanned) == ("will-fail", False, "sample", 100)
    assert r.count >= 4 and "sample: 100 rows tried" in r.text


def test_type_change_without_an_automatic_cast_fails_whatever_the_data(db):
    r = only(run(db, 'ALTER TABLE "User" ALTER COLUMN "age" TYPE integer;'))
    assert r.result == "will-fail" and r.count is None
    assert "no automatic cast from text to integer" in r.text


def test_earlier_statements_of_the_deploy_are_followed(db):
    backfilled = ('ALTER TABLE "User" ADD COLUMN "tenant" TEXT;\n'
                  'UPDATE "User" SET "tenant" = \'t\' WHERE "tenant" IS NULL;\n'
                  'ALTER TABLE "User" ALTER COLUMN "tenant" SET NOT NULL;\n')
    assert only(run(db, backfilled)).result == "ok"
    partly = ('ALTER TABLE "User" ADD COLUMN "tenant" TEXT;\n'
              'UPDATE "User" SET "tenant" = "phone";\n'
              'ALTER TABLE "User" ALTER COLUMN "tenant" SET NOT NULL;\n')
    r = only(run(db, partly))
    assert (r.result, r.count) == ("will-fail", 50)  # the NULL phones stay NULL in the copy
    assert "after the backfill at m.sql:2" in r.text
    fixed = ('UPDATE "User" SET "phone" = \'none\' WHERE "phone" IS NULL;\n'
             'ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;\n')
    assert only(run(db, fixed)).result == "ok"
    unknown = ('DELETE FROM "User" WHERE "phone" IS NULL;\n'
               'ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;\n')
    r = only(run(db, unknown))
    assert r.result == "unknown" and "inserted or deleted earlier in this deploy" in r.text
    new_table = 'CREATE TABLE "T" (a int);\nALTER TABLE "T" ALTER COLUMN "a" SET NOT NULL;\n'
    assert [r for r in run(db, new_table) if r.check.kind != "table-size"] == []


def test_a_check_that_runs_out_of_time_reports_instead_of_hanging(db):
    r = only(run(db, 'ALTER TABLE "Order" ADD CONSTRAINT "slow" CHECK (pg_sleep(0.05) IS NOT NULL);',
                 timeout_ms=300))
    assert (r.result, r.label) == ("unknown", "timeout")
    assert r.text == "could not check within 0.3 s"
    assert r.elapsed_ms < 2000


def test_a_locked_table_is_skipped_not_waited_for(db, pg_url):
    with psycopg.connect(pg_url) as holder:
        holder.execute('LOCK TABLE "Order" IN ACCESS EXCLUSIVE MODE')
        r = only(run(db, 'ALTER TABLE "Order" ADD CONSTRAINT "pos" CHECK ("total" >= 0);'))
        holder.rollback()
    assert r.result == "unknown" and "strong lock" in r.text and r.elapsed_ms < 2000


def test_certain_failures_for_deploy_migrate(db, tmp_path):
    applied = tmp_path / "20250101000000_init" / "migration.sql"
    bad = tmp_path / "20250301000000_phone_required" / "migration.sql"
    good = tmp_path / "20250302000000_email_required" / "migration.sql"
    for path, sql in ((applied, 'ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;'),
                      (bad, 'ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;'),
                      (good, 'ALTER TABLE "User" ALTER COLUMN "email" SET NOT NULL;')):
        path.parent.mkdir()
        path.write_text(sql)
    failures = certain_failures(db, [applied, bad, good], applied_names=["20250101000000_init"], timeout=5)
    assert [(f.check.file, f.count) for f in failures] == [(str(bad), 50)]


def test_validate_of_a_not_null_check_follows_the_backfill_before_it(db, pg_url):
    """The example app's contract step: CHECK ("phone" IS NOT NULL) NOT VALID was applied; the pending
    migration backfills, then validates."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute('ALTER TABLE "User" ADD CONSTRAINT "User_phone_not_null" CHECK ("phone" IS NOT NULL) NOT VALID')
    validate = 'ALTER TABLE "User" VALIDATE CONSTRAINT "User_phone_not_null";'
    r = only(run(db, validate))
    assert (r.check.kind, r.result, r.count) == ("not-null", "will-fail", 50)
    backfilled = only(run(db, 'UPDATE "User" SET "phone" = \'unknown\' WHERE "phone" IS NULL;\n' + validate))
    assert (backfilled.result, backfilled.label) == ("ok", "derived")
    partial = only(run(db, 'UPDATE "User" SET "phone" = \'unknown\' WHERE "phone" IS NULL AND "id" <= 250;\n'
                   + validate))
    assert (partial.result, partial.count) == ("will-fail", 25)
