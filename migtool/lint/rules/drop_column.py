"""drop-column: ALTER TABLE ... DROP COLUMN on a table that exists in production."""

from __future__ import annotations

from migtool.lint.alter import existing_table_cmds
from migtool.lint.fixes import BACKUP, allow_line, steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import qi

ID = "drop-column"


def check(stmt, ctx):
    for ref, _, cmd in existing_table_cmds(stmt, ctx, "AT_DropColumn"):
        col = qi(cmd.get("name", ""))
        yield Hit(
            message=f"Dropping {ref}.{col} deletes its data, and the release still running fails on queries that "
                    "name it (Prisma selects every column of the model by name).",
            fix=steps(
                f"Release code that no longer reads or writes {col} (for Prisma: remove the field from "
                "schema.prisma, or mark it @ignore) and let it run everywhere.",
                f"In a later release, {BACKUP}, then: ALTER TABLE {ref} DROP COLUMN {col};",
                f"Once both are true, mark the statement: {allow_line(ID)}",
            ),
        )


RULE = Rule(
    id=ID,
    severity="danger",
    summary="DROP COLUMN on an existing table: data loss, and old code that selects it breaks",
    why="The column's data is gone, and the release still running names the column in its queries.",
    instead="Stop using the column in one release (Prisma: remove the field or @ignore it); back up; drop it later.",
    nodes=("AlterTableStmt",),
    alter_subtypes=("AT_DropColumn",),
    check=check,
    bad=('ALTER TABLE "User" DROP COLUMN "name";', "ALTER TABLE IF EXISTS users DROP COLUMN IF EXISTS bio, ADD COLUMN x int;"),
    good=('CREATE TABLE "T" (a int, b int); ALTER TABLE "T" DROP COLUMN "b";', 'ALTER TABLE "User" ADD COLUMN "bio" TEXT;'),
    setup='CREATE TABLE "User" ("id" INT PRIMARY KEY, "name" TEXT); CREATE TABLE users (id INT, bio TEXT);',
)
