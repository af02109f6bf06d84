"""drop-table: DROP TABLE of a table that exists in production."""

from __future__ import annotations

from migtool.lint.fixes import BACKUP, allow_line, steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import drop_objects, object_ref

ID = "drop-table"


def check(stmt, ctx):
    if stmt.node.get("removeType") != "OBJECT_TABLE":
        return
    for parts in drop_objects(stmt.node):
        if ctx.is_new_relation(parts):
            continue
        ref = object_ref(parts)
        yield Hit(
            message=f"DROP TABLE {ref} deletes the table and every row in it; code still running that uses it fails.",
            fix=steps(
                f"Release code that no longer reads or writes {ref} (for Prisma: remove the model from "
                "schema.prisma) and let it run everywhere.",
                f"In a later release, {BACKUP}, then drop it: DROP TABLE {ref};",
                f"Once both are true, mark the statement: {allow_line(ID)}",
            ),
        )


RULE = Rule(
    id=ID,
    severity="danger",
    summary="DROP TABLE of an existing table: its data is lost, old code that uses it breaks",
    why="The data is gone unless a backup exists, and the release still running fails on every query of it.",
    instead="Stop using the table in one release; back up; drop it in a later release.",
    nodes=("DropStmt",),
    check=check,
    bad=('DROP TABLE "Order";', "DROP TABLE IF EXISTS a, b CASCADE;"),
    good=('CREATE TABLE "Tmp" (id int); DROP TABLE "Tmp";', 'DROP INDEX CONCURRENTLY "x";', "DROP VIEW v;"),
    setup='CREATE TABLE "Order" ("id" INT PRIMARY KEY); CREATE TABLE a (id INT); CREATE TABLE b (id INT);',
)
