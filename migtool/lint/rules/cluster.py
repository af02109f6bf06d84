"""cluster: CLUSTER rewrites a table under an ACCESS EXCLUSIVE lock."""

from __future__ import annotations

from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import table_ref

ID = "cluster"


def check(stmt, ctx):
    rel = stmt.node.get("relation")
    if rel and ctx.is_new(rel):
        return
    what = table_ref(rel) if rel else "every previously clustered table"
    yield Hit(
        message=f"CLUSTER rewrites {what} under an ACCESS EXCLUSIVE lock: nothing can read or write meanwhile.",
        fix="Leave physical ordering out of migrations; if it matters, use pg_repack --order-by outside the migration.",
    )


RULE = Rule(
    id=ID,
    severity="warning",
    summary="CLUSTER: whole-table rewrite under an ACCESS EXCLUSIVE lock",
    why="The table is unreadable and unwritable for the whole rewrite.",
    instead="pg_repack --order-by outside the migration, or nothing.",
    nodes=("ClusterStmt",),
    check=check,
    bad=('CLUSTER "Event" USING "Event_createdAt_idx";', "CLUSTER;"),
    good=('CREATE TABLE "T" (a int); CLUSTER "T" USING "T_a_idx";',),
    setup='CREATE TABLE "Event" ("id" INT, "createdAt" TIMESTAMP); '
          'CREATE INDEX "Event_createdAt_idx" ON "Event" ("createdAt");',
)
