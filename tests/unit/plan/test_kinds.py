"""Every plan kind, from a hand-built schema: its phases, Prisma's names and quoting, and that every
generated migration passes the lint core with no danger or warning finding."""

import pytest
from pglast import parse_sql

from migtool.errors import ConfigError
from migtool.lint import lint_sources
from migtool.plan import add_foreign_key, add_index, add_required_column, copy_column, drop
from migtool.plan.model import render_markdown
from migtool.plan.schema import Column, Index, Schema, Table


def schema(rows: int | None = None) -> Schema:
    user = Table("User", primary_key=["id"], rows=rows, referenced_by=[("Order", "Order_userId_fkey")])
    for c in (Column("id", "integer", True, "nextval('\"User_id_seq\"'::regclass)"), Column("email", "text", True),
              Column("name", "text"), Column("createdAt", "timestamp(3) without time zone", True, "CURRENT_TIMESTAMP")):
        user.columns[c.name] = c
    user.indexes = [Index("User_pkey", ["id"], True), Index("User_email_key", ["email"], True)]
    order = Table("Order", primary_key=["id"], rows=rows)
    for c in (Column("id", "integer", True), Column("userId", "integer", True), Column("total", "numeric(10,2)", True),
              Column("note", "text")):
        order.columns[c.name] = c
    return Schema({"User": user, "Order": order}, source="test schema")


def lint_clean(plan):
    report = lint_sources([(m.name, m.sql) for m in plan.migrations], 15)
    active = [(f.file, f.rule, f.severity) for f in report.findings if not f.suppressed]
    assert [a for a in active if a[2] in ("danger", "warning")] == []
    return report


def statements(sql: str) -> list[str]:
    return [type(s.stmt).__name__ for s in parse_sql(sql)]


def alone_when_needed(plan):
    """CONCURRENTLY and COMMIT-in-DO only work as the only statement of their file."""
    for m in plan.migrations:
        if "CONCURRENTLY" in m.sql.split("\n")[-2] or "DO $$" in m.sql:
            assert len(statements(m.sql)) == 1, m.name


def test_add_required_column_phases():
    plan = add_required_column.build(schema(), "User", "phone", "TEXT", "UNKNOWN", batch_size=500, command="c")
    names = [[m.name for m in r.migrations] for r in plan.releases]
    assert names == [["add_user_phone"], ["backfill_user_phone"],
                     ["user_phone_default_and_check", "backfill_user_phone_remaining", "validate_user_phone_not_null",
                      "user_phone_set_not_null"]]
    add, backfill, check, _, validate, set_nn = plan.migrations
    assert 'ALTER TABLE "User" ADD COLUMN "phone" TEXT;' in add.sql
    assert "batch_size CONSTANT integer := 500" in backfill.sql  # size unknown: batches
    assert check.sql.index("SET DEFAULT 'UNKNOWN'") < check.sql.index('CHECK ("phone" IS NOT NULL) NOT VALID')
    assert statements(validate.sql) == ["AlterTableStmt"]  # VALIDATE alone, after the NOT VALID file
    assert 'SET NOT NULL' in set_nn.sql and 'DROP CONSTRAINT "User_phone_not_null"' in set_nn.sql
    assert plan.releases[0].schema_prisma[1] == "  phone String?"
    assert plan.releases[2].schema_prisma[1] == '  phone String @default("UNKNOWN")'
    report = lint_clean(plan)
    # the batched backfill and the catch-up UPDATE are deliberate: suppressed, each saying why
    assert {(f.file, f.rule, f.suppressed) for f in report.findings} <= {
        ("backfill_user_phone", "backfill-in-migration", True),
        ("backfill_user_phone_remaining", "backfill-in-migration", True)}
    assert all(f.suppression_reason for f in report.findings)
    alone_when_needed(plan)


def test_a_small_table_is_backfilled_with_one_update():
    plan = add_required_column.build(schema(rows=50), "User", "phone", "TEXT", "0", batch_size=500, command="c")
    backfill = plan.migrations[1].sql
    assert statements(backfill) == ["UpdateStmt"]
    assert 'UPDATE "User" SET "phone" = 0 WHERE "phone" IS NULL;' in backfill
    lint_clean(plan)


def test_add_required_column_refuses_an_existing_column():
    with pytest.raises(ConfigError, match='column "email" already exists'):
        add_required_column.build(schema(), "User", "email", "TEXT", "x", batch_size=1, command="c")
    with pytest.raises(ConfigError, match="differs only in case"):
        add_required_column.build(schema(), "User", "Email", "TEXT", "x", batch_size=1, command="c")


def test_rename_column_keeps_both_written_then_drops_the_old_one():
    plan = copy_column.build_rename(schema(), "User", "email", "emailAddress", batch_size=100, command="c")
    titles = [r.title for r in plan.releases]
    assert titles == ["expand", "switch reads and writes to the new column", "contract: drop the old column"]
    first = [m.name for m in plan.releases[0].migrations]
    assert first == ["add_user_email_address", "backfill_user_email_address", "user_email_address_key"]
    add = plan.migrations[0].sql
    assert statements(add) == ["VariableSetStmt", "AlterTableStmt", "CreateFunctionStmt", "CreateTrigStmt"]
    assert plan.releases[0].migrations[2].sql.rstrip().endswith(
        'CREATE UNIQUE INDEX CONCURRENTLY "User_emailAddress_key" ON "User"("emailAddress");')
    # "email" is NOT NULL, so the new column becomes NOT NULL through a validated CHECK
    assert [m.name for m in plan.releases[1].migrations] == [
        "user_email_address_not_null_check", "validate_user_email_address_not_null", "user_email_address_set_not_null"]
    assert plan.releases[1].schema_prisma[1] == "  emailAddress String @unique"
    drop_sql = plan.releases[2].migrations[0].sql
    assert drop_sql.index("DROP TRIGGER") < drop_sql.index('DROP COLUMN "email"')
    assert "-- migtool:allow drop-column contract step" in drop_sql
    lint_clean(plan)
    alone_when_needed(plan)


def test_rename_without_trigger_needs_a_release_that_writes_both():
    plan = copy_column.build_rename(schema(), "User", "name", "fullName", batch_size=100, command="c", trigger=False)
    assert [r.title for r in plan.releases][:2] == ["expand", "backfill"]
    assert "CREATE TRIGGER" not in "".join(m.sql for m in plan.migrations)
    assert plan.releases[1].before_deploy  # release 1 (writing both) must be everywhere first
    lint_clean(plan)


def test_rename_moves_the_default_with_the_contract_step():
    plan = copy_column.build_rename(schema(), "User", "createdAt", "created", batch_size=100, command="c")
    drop_sql = plan.migrations[-1].sql
    assert 'ALTER TABLE "User" ALTER COLUMN "created" SET DEFAULT CURRENT_TIMESTAMP;' in drop_sql
    assert "@default(now())" in plan.releases[1].schema_prisma[1]
    lint_clean(plan)


def test_change_column_type_casts_and_maps_the_field():
    plan = copy_column.build_change_type(schema(), "Order", "total", "DECIMAL(12,2)", batch_size=100, command="c")
    add = plan.migrations[0].sql
    assert 'ADD COLUMN "total_decimal" DECIMAL(12,2);' in add
    assert 'NEW."total_decimal" := NEW."total"::DECIMAL(12,2);' in add
    assert 'NEW."total" := NEW."total_decimal"::numeric(10,2);' in add
    assert '"total_decimal" = "total"::DECIMAL(12,2)' in plan.migrations[1].sql
    assert plan.releases[1].schema_prisma[1] == '  total Decimal @db.Decimal(12, 2) @map("total_decimal")'
    lint_clean(plan)
    with pytest.raises(ConfigError, match="already has type"):
        copy_column.build_change_type(schema(), "Order", "total", "NUMERIC(10, 2)", batch_size=1, command="c")


def test_add_foreign_key_not_valid_then_validate():
    plan = add_foreign_key.build(schema(), "Order", "userId", "User", command="c", orphans=3)
    add, validate = plan.migrations
    assert ('ALTER TABLE "Order" ADD CONSTRAINT "Order_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") '
            'ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;') in add.sql
    assert statements(validate.sql) == ["AlterTableStmt"] and "VALIDATE CONSTRAINT" in validate.sql
    check = plan.releases[0].before_deploy[0]
    assert "when planned: 3 orphan rows" in check and 'LEFT JOIN "User" AS p ON p."id" = c."userId"' in check
    assert any("migtool plan add-index Order userId" in n for n in plan.notes)
    lint_clean(plan)


def test_an_optional_reference_sets_null_on_delete():
    s = schema()
    s.tables["Order"].columns["referrerId"] = Column("referrerId", "integer")
    plan = add_foreign_key.build(s, "Order", "referrerId", "User.id", command="c")
    assert "ON DELETE SET NULL" in plan.migrations[0].sql
    assert "user User? @relation(fields: [referrerId], references: [id])" in plan.releases[0].schema_prisma[1]


def test_add_index_is_alone_in_its_file():
    plan = add_index.build(schema(), "Order", ["userId", "total"], unique=False, command="c")
    [m] = plan.migrations
    assert statements(m.sql) == ["IndexStmt"]
    assert 'CREATE INDEX CONCURRENTLY "Order_userId_total_idx" ON "Order"("userId", "total");' in m.sql
    assert plan.releases[0].schema_prisma[1] == "  @@index([userId, total])"
    lint_clean(plan)
    with pytest.raises(ConfigError, match="already has index"):
        add_index.build(schema(), "User", ["email"], unique=True, command="c")


def test_drop_column_stops_using_it_first():
    plan = drop.build_drop_column(schema(), "User", "email", command="c")
    assert [m.name for m in plan.releases[0].migrations] == ["user_email_drop_not_null"]  # NOT NULL, no default
    assert "migtool backup --reason before-drop-user-email" in " ".join(plan.releases[1].before_deploy)
    assert "User_email_key" in plan.notes[0]
    lint_clean(plan)
    nullable = drop.build_drop_column(schema(), "User", "name", command="c")
    assert nullable.releases[0].migrations == []


def test_drop_table_drops_the_references_first_and_offers_soft_delete():
    plan = drop.build_drop_table(schema(), "User", command="c")
    sql = plan.migrations[0].sql
    assert sql.index('ALTER TABLE "Order" DROP CONSTRAINT "Order_userId_fkey";') < sql.index('DROP TABLE "User";')
    assert any("Soft-delete alternative" in n for n in plan.notes)
    lint_clean(plan)


def test_plan_md_marks_releases_and_copy_commands():
    plan = add_index.build(schema(), "Order", ["userId"], unique=False, command="migtool plan add-index Order userId")
    plan.migrations[0].folder = "20250101000000_order_user_id_idx"
    text = render_markdown(plan, "prisma/plans/x", "prisma/migrations")
    assert "## Release 1: add the index" in text
    assert "cp -r prisma/plans/x/20250101000000_order_user_id_idx prisma/migrations/" in text
    assert "`migtool plan add-index Order userId`" in text
