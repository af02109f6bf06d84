"""set-not-null: ALTER COLUMN ... SET NOT NULL on a table that exists in production."""

from __future__ import annotations

from migtool.lint.alter import existing_table_cmds
from migtool.lint.fixes import LOCK_TIMEOUT, steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import qi

ID = "set-not-null"


def check(stmt, ctx):
    for ref, table, cmd in existing_table_cmds(stmt, ctx, "AT_SetNotNull"):
        column = cmd.get("name", "")
        if ctx.pg_version >= 12 and ctx.has_validated_not_null_check(stmt.node.get("relation"), column):
            continue
        col, check_name = qi(column), qi(f"{table}_{column}_not_null")
        if ctx.pg_version < 12:
            yield Hit(
                message=f"SET NOT NULL on {ref}.{col} scans the whole table under an ACCESS EXCLUSIVE lock "
                        f"(PostgreSQL {ctx.pg_version} cannot use a CHECK constraint to skip the scan), and fails if a "
                        "row is NULL.",
                fix=steps(
                    f"Keep the column nullable and enforce it with a CHECK constraint instead: ALTER TABLE {ref} "
                    f"ADD CONSTRAINT {check_name} CHECK ({col} IS NOT NULL) NOT VALID;",
                    f"In the next migration: ALTER TABLE {ref} VALIDATE CONSTRAINT {check_name};",
                    "Set NOT NULL itself after upgrading to PostgreSQL 12 or later (then no scan).",
                ),
            )
            continue
        yield Hit(
            message=f"SET NOT NULL on {ref}.{col} scans the whole table under an ACCESS EXCLUSIVE lock (reads and "
                    "writes wait), and fails if a row is NULL.",
            fix=steps(
                f"Backfill NULLs in batches first. Then: {LOCK_TIMEOUT} ALTER TABLE {ref} ADD CONSTRAINT {check_name} "
                f"CHECK ({col} IS NOT NULL) NOT VALID;",
                f"Next migration file (scans without blocking writes): ALTER TABLE {ref} VALIDATE CONSTRAINT {check_name};",
                f"Next migration file (PostgreSQL 12+ trusts the validated CHECK, no scan): {LOCK_TIMEOUT} "
                f"ALTER TABLE {ref} ALTER COLUMN {col} SET NOT NULL; ALTER TABLE {ref} DROP CONSTRAINT {check_name};",
            ),
        )


RULE = Rule(
    id=ID,
    severity="warning",
    summary="SET NOT NULL on an existing column without a validated CHECK (col IS NOT NULL) first",
    why="PostgreSQL scans every row under ACCESS EXCLUSIVE (all queries wait) and the statement fails if a NULL remains.",
    instead="Add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it in a later migration, then SET NOT NULL (PostgreSQL 12+ skips the scan).",
    nodes=("AlterTableStmt",),
    alter_subtypes=("AT_SetNotNull",),
    check=check,
    bad=('ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;',
         'ALTER TABLE "User" ADD CONSTRAINT "c" CHECK ("phone" IS NOT NULL) NOT VALID;\n'
         'ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;',
         'ALTER TABLE "User" ADD CONSTRAINT "c" CHECK ("name" IS NOT NULL);\n'
         'ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;'),
    good=('ALTER TABLE "User" ADD CONSTRAINT "c" CHECK ("phone" IS NOT NULL) NOT VALID;\n'
          'ALTER TABLE "User" VALIDATE CONSTRAINT "c";\n'
          'ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;',
          'CREATE TABLE "T" (a int); ALTER TABLE "T" ALTER COLUMN "a" SET NOT NULL;',
          'ALTER TABLE "User" ALTER COLUMN "phone" DROP NOT NULL;'),
    setup='CREATE TABLE "User" ("id" INT PRIMARY KEY, "phone" TEXT, "name" TEXT); '
          'INSERT INTO "User" VALUES (1, \'555\', \'a\');',
)
