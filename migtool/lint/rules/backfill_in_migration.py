"""backfill-in-migration: UPDATE of existing rows inside a migration."""

from __future__ import annotations

from migtool.lint.fixes import steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import table_ref

ID = "backfill-in-migration"


def check(stmt, ctx):
    rel = stmt.node.get("relation")
    if not rel or ctx.is_new(rel):
        return
    ref = table_ref(rel)
    yield Hit(
        message=f"UPDATE of {ref} inside a migration locks every row it touches until the migration commits "
                "(a Prisma migration file is one transaction); on a big table that blocks writers for long.",
        fix=steps(
            f"For a big table, backfill in batches that commit separately: a DO block looping over batches of "
            f"{ref} with COMMIT after each, as the only statement of its migration file, or a script outside "
            "the migration.",
            "Keep it here only if the table is small; then mark it: "
            "-- migtool:allow backfill-in-migration <table is small>",
        ),
    )


RULE = Rule(
    id=ID,
    severity="advice",
    summary="UPDATE of an existing table inside a migration (long row locks on big tables)",
    why="The whole update is one transaction: rows stay locked, and a big table takes long and bloats.",
    instead="Backfill in batches that commit separately (DO block with COMMIT alone in its file, or a script).",
    nodes=("UpdateStmt",),
    check=check,
    bad=('UPDATE "User" SET "phone" = \'unknown\' WHERE "phone" IS NULL;',),
    good=('CREATE TABLE "T" ("a" INT); UPDATE "T" SET "a" = 1;',),
    setup='CREATE TABLE "User" ("id" INT PRIMARY KEY, "phone" TEXT);',
)
