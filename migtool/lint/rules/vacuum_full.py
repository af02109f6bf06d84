"""vacuum-full: VACUUM FULL rewrites tables under an ACCESS EXCLUSIVE lock."""

from __future__ import annotations

from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import option_enabled, table_ref

ID = "vacuum-full"


def check(stmt, ctx):
    node = stmt.node
    if not option_enabled(node.get("options"), "full"):
        return
    rels = [r.get("VacuumRelation", {}).get("relation") for r in node.get("rels", ())]
    existing = [r for r in rels if r and not ctx.is_new(r)]
    if rels and not existing:
        return
    what = ", ".join(table_ref(r) for r in existing) if existing else "every table in the database"
    yield Hit(
        message=f"VACUUM FULL rewrites {what} under an ACCESS EXCLUSIVE lock: nothing can read or write meanwhile.",
        fix="Use plain VACUUM (no lock against the application) in migrations; to reclaim space online, use "
            "pg_repack outside the migration.",
    )


RULE = Rule(
    id=ID,
    severity="warning",
    summary="VACUUM FULL: whole-table rewrite under an ACCESS EXCLUSIVE lock",
    why="The table is unreadable and unwritable for the whole rewrite.",
    instead="Plain VACUUM, or pg_repack outside the migration.",
    nodes=("VacuumStmt",),
    check=check,
    bad=('VACUUM FULL "Event";', "VACUUM (FULL, ANALYZE);"),
    good=('VACUUM ANALYZE "Event";', 'VACUUM (FULL FALSE) "Event";', 'VACUUM (FULL off, ANALYZE) "Event";'),
    setup='CREATE TABLE "Event" ("id" INT);',
)
