"""truncate: TRUNCATE of a table that exists in production."""

from __future__ import annotations

from migtool.lint.fixes import BACKUP, allow_line, steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import table_ref

ID = "truncate"


def check(stmt, ctx):
    rels = [r.get("RangeVar", r) for r in stmt.node.get("relations", ())]
    existing = [r for r in rels if not ctx.is_new(r)]
    if not existing:
        return
    refs = ", ".join(table_ref(r) for r in existing)
    cascade = " CASCADE also empties every table that references it." if stmt.node.get("behavior") == "DROP_CASCADE" else ""
    yield Hit(
        message=f"TRUNCATE {refs} deletes every row, under an ACCESS EXCLUSIVE lock.{cascade}",
        fix=steps(
            f"Make sure emptying {refs} in production is intended, and {BACKUP}.",
            "To remove only some rows, DELETE them in small batches outside the migration instead.",
            f"Then mark the statement: {allow_line(ID)}",
        ),
    )


RULE = Rule(
    id=ID,
    severity="danger",
    summary="TRUNCATE of an existing table: every row is deleted",
    why="All rows are gone (CASCADE reaches referencing tables too), and the table is locked meanwhile.",
    instead="Back up first and make sure it is intended; delete selected rows in batches instead.",
    nodes=("TruncateStmt",),
    check=check,
    bad=('TRUNCATE "Session";', "TRUNCATE a, b CASCADE;"),
    good=('CREATE TABLE "Staging" (id int); TRUNCATE "Staging";',),
    setup='CREATE TABLE "Session" ("id" INT); CREATE TABLE a (id INT); CREATE TABLE b (id INT);',
)
