"""refresh-matview-blocking: REFRESH MATERIALIZED VIEW without CONCURRENTLY."""

from __future__ import annotations

from migtool.lint.fixes import steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import qi, table_ref

ID = "refresh-matview-blocking"


def check(stmt, ctx):
    node = stmt.node
    rel = node.get("relation")
    if node.get("concurrent") or ctx.is_new(rel) or node.get("skipData"):
        return
    ref = table_ref(rel)
    index = qi(f"{(rel or {}).get('relname', 'view')}_refresh_key")
    yield Hit(
        message=f"REFRESH MATERIALIZED VIEW {ref} without CONCURRENTLY takes an ACCESS EXCLUSIVE lock: the running "
                "release cannot read it until the refresh is done.",
        fix=steps(
            f"Give the view a unique index (once): CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {index} ON {ref} "
            "(<unique column>);",
            f"Then refresh without blocking reads: REFRESH MATERIALIZED VIEW CONCURRENTLY {ref};",
        ),
    )


RULE = Rule(
    id=ID,
    severity="warning",
    summary="REFRESH MATERIALIZED VIEW without CONCURRENTLY blocks reads of the view",
    why="A plain refresh holds ACCESS EXCLUSIVE on the view for the whole rebuild: every query on it waits.",
    instead="A unique index on the view, then REFRESH MATERIALIZED VIEW CONCURRENTLY.",
    nodes=("RefreshMatViewStmt",),
    check=check,
    bad=('REFRESH MATERIALIZED VIEW "Stats";',),
    good=('REFRESH MATERIALIZED VIEW CONCURRENTLY "Stats";',
          'CREATE MATERIALIZED VIEW "M" AS SELECT 1 AS a; REFRESH MATERIALIZED VIEW "M";'),
    setup='CREATE TABLE "User" ("id" INT PRIMARY KEY); INSERT INTO "User" VALUES (1); '
          'CREATE MATERIALIZED VIEW "Stats" AS SELECT "id" FROM "User";',
)
