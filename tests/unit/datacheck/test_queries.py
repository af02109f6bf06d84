"""The SQL the checks run: read-only shapes, quoting, samples, and what each counts."""

from __future__ import annotations

import pytest

from migtool.datacheck import queries
from migtool.datacheck.model import Check, Table
from migtool.datacheck.plan import plan_sources


def check(sql: str) -> Check:
    (c,) = [c for c in plan_sources([("m.sql", sql)]) if c.kind != "table-size"]
    return c


def test_literals_and_identifiers_are_quoted():
    assert queries.literal("it's") == "'it''s'"
    assert Table('we"ird', "s").sql == '"s"."we""ird"'
    assert queries.regclass_arg(Table("User")) == "'\"User\"'"


def test_not_null_counts_with_one_indexable_scan():
    sql = queries.not_null_sql(check('ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;'))
    assert sql == ("SELECT json_build_object('count', count(*))::text FROM \"User\" AS t "
                   "WHERE (\"phone\" IS NULL)")


def test_samples_are_repeatable_and_count_what_they_read():
    sql = queries.not_null_sql(check('ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;'), 2.0)
    assert 'FROM "User" AS t TABLESAMPLE SYSTEM (2) REPEATABLE (17)' in sql
    assert "'scanned', (SELECT count(*) FROM \"User\" TABLESAMPLE SYSTEM (2) REPEATABLE (17))" in sql


@pytest.mark.parametrize(("rows", "target", "expected"), [(0, 100, 100.0), (50, 100, 100.0),
                                                          (5_000_000, 100_000, 2.0), (10**12, 1, 0.0001)])
def test_sample_percent(rows, target, expected):
    assert queries.sample_percent(rows, target) == pytest.approx(expected)


def test_unique_skips_nulls_unless_nulls_not_distinct():
    sql = queries.unique_sql(check('CREATE UNIQUE INDEX "i" ON "U" ("a", lower("b")) WHERE "d" IS NULL;'))
    assert "WHERE \"a\" IS NOT NULL AND (lower(b)) IS NOT NULL AND (d IS NULL) GROUP BY \"a\", (lower(b))" in sql
    assert "HAVING count(*) > 1" in sql and "json_build_object('a', \"a\", 'lower(b)', (lower(b)))" in sql
    nnd = queries.unique_sql(check('CREATE UNIQUE INDEX "i" ON "U" ("a") NULLS NOT DISTINCT;'))
    assert "IS NOT NULL" not in nnd


def test_foreign_key_looks_for_missing_parents_match_simple():
    c = check('ALTER TABLE "Order" ADD CONSTRAINT "f" FOREIGN KEY ("a", "b") REFERENCES "P"("x", "y");')
    sql = queries.foreign_key_sql(c, c.ref_columns)
    assert ('WHERE c."a" IS NOT NULL AND c."b" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "P" AS p '
            'WHERE p."x" = c."a" AND p."y" = c."b")') in sql
    c.ref_is_new = True  # a parent table created by this deploy has no rows: every set key is an orphan
    assert "NOT EXISTS" not in queries.foreign_key_sql(c, ())


def test_check_counts_rows_where_the_expression_is_false():
    sql = queries.check_constraint_sql(check('ALTER TABLE "O" ADD CONSTRAINT "c" CHECK ("total" >= 0);'))
    assert "WHERE (total >= 0) IS FALSE" in sql and "json_build_object('total', \"total\")" in sql


def test_type_checks():
    c = check('ALTER TABLE "U" ALTER COLUMN "age" TYPE integer USING "age"::integer;')
    assert "NOT pg_input_is_valid(\"age\"::text, 'integer')" in queries.input_valid_sql(c)
    block, select = queries.conversion_sample_sql(c, 1000)
    assert block.startswith("DO $migtool$") and "_target integer;" in block
    assert "SELECT (CAST(age AS integer)) INTO _target FROM \"U\" WHERE ctid = _r.tid;" in block
    assert "EXCEPTION WHEN OTHERS THEN" in block and "LIMIT 1000" in block
    assert "INSERT" not in block.upper() and "UPDATE" not in block.upper()
    assert select == "SELECT current_setting('migtool.datacheck')"
    plain = check('ALTER TABLE "U" ALTER COLUMN "nick" TYPE varchar(3);')
    assert 'WHERE "nick" IS NOT NULL LIMIT' in queries.conversion_sample_sql(plain, 10)[0]
    info = queries.type_info_sql(plain)
    assert "'varchar(3)'::regtype" in info and "castcontext IN ('a', 'i')" in info


def test_catalog_lookups():
    assert "c.conname = 'fk'" in queries.constraint_sql(Table("Order"), "fk")
    assert "i.indisprimary" in queries.primary_key_sql(Table("User"))
    assert "to_regclass('\"User\"')" in queries.table_info_sql(Table("User"))
