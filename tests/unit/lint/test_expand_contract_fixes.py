"""Danger findings explain the expand/contract steps with the statement's own names."""

from migtool.lint import lint_sql


def one(sql, rule):
    found = [f for f in lint_sql(sql) if f.rule == rule]
    assert len(found) == 1, found
    return found[0]


def test_rename_column_offers_prisma_map_and_expand_contract():
    f = one('ALTER TABLE "User" RENAME COLUMN "name" TO "fullName";', "rename-column")
    assert '@map("name")' in f.fix
    assert 'ALTER TABLE "User" ADD COLUMN "fullName"' in f.fix
    assert 'UPDATE "User" SET "fullName" = "name" WHERE "fullName" IS NULL' in f.fix
    assert 'ALTER TABLE "User" DROP COLUMN "name";' in f.fix


def test_rename_table_offers_map_and_a_compatibility_view():
    f = one('ALTER TABLE app."Order" RENAME TO "Purchase";', "rename-table")
    assert '@@map("Order")' in f.fix
    assert 'CREATE VIEW "app"."Order" AS SELECT * FROM "app"."Purchase";' in f.fix


def test_drop_column_says_stop_using_it_first_and_how_to_acknowledge():
    f = one('ALTER TABLE "User" DROP COLUMN "legacy";', "drop-column")
    assert f.severity == "danger"
    assert "@ignore" in f.fix and "migtool backup" in f.fix
    assert "-- migtool:allow drop-column" in f.fix


def test_drop_table_names_each_existing_table_once():
    found = [f for f in lint_sql('CREATE TABLE "Tmp" (a int); DROP TABLE "Tmp", "Old", app."Older";')
             if f.rule == "drop-table"]
    assert [f.message.split()[2] for f in found] == ['"Old"', '"app"."Older"']


def test_add_required_column_suggests_a_default_or_nullable_first():
    f = one('ALTER TABLE "User" ADD COLUMN "tenantId" TEXT NOT NULL;', "add-required-column")
    assert 'ALTER TABLE "User" ADD COLUMN "tenantId" text NOT NULL DEFAULT <value>;' in f.fix
    assert "@default" in f.fix


def test_truncate_cascade_is_called_out():
    f = one('TRUNCATE "User" CASCADE;', "truncate")
    assert "CASCADE" in f.message


def test_backfill_is_only_advice():
    f = one('UPDATE "User" SET "a" = 1;', "backfill-in-migration")
    assert f.severity == "advice"
