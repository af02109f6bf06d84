"""reindex-blocking: REINDEX without CONCURRENTLY on something production uses."""

from __future__ import annotations

from migtool.lint.fixes import OWN_FILE
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import option_enabled, table_ref

ID = "reindex-blocking"

_KIND = {"REINDEX_OBJECT_INDEX": "INDEX", "REINDEX_OBJECT_TABLE": "TABLE", "REINDEX_OBJECT_SCHEMA": "SCHEMA",
         "REINDEX_OBJECT_DATABASE": "DATABASE", "REINDEX_OBJECT_SYSTEM": "SYSTEM"}


def check(stmt, ctx):
    node = stmt.node
    if option_enabled(node.get("params"), "concurrently"):
        return
    kind = _KIND.get(node.get("kind", ""), "TABLE")
    rel = node.get("relation")
    if kind == "TABLE" and ctx.is_new(rel):
        return
    if kind == "INDEX" and rel and ctx.is_new_index([p for p in (rel.get("schemaname"), rel.get("relname")) if p]):
        return
    if kind == "SYSTEM":
        return  # system catalogs only: no CONCURRENTLY form exists
    what = table_ref(rel) if rel else (node.get("name") or "")
    target = f"{kind} {what}".strip()
    yield Hit(
        message=f"REINDEX {target} without CONCURRENTLY blocks writes to the table(s), and reads that use the "
                "index, until it is rebuilt.",
        fix=f"Rebuild it without blocking (PostgreSQL 12+), {OWN_FILE}: REINDEX {kind} CONCURRENTLY {what};".replace(
            "  ", " "),
    )


RULE = Rule(
    id=ID,
    severity="warning",
    summary="REINDEX without CONCURRENTLY (or with CONCURRENTLY false) blocks the application",
    why="A plain REINDEX locks out writes to the table and reads through the index for the whole rebuild.",
    instead="REINDEX ... CONCURRENTLY, alone in its own migration file.",
    nodes=("ReindexStmt",),
    check=check,
    bad=('REINDEX TABLE "Order";', 'REINDEX (CONCURRENTLY false) INDEX "Order_userId_idx";'),
    good=('REINDEX TABLE CONCURRENTLY "Order";', 'REINDEX (CONCURRENTLY) INDEX "Order_userId_idx";',
          'CREATE TABLE "T" (a int); REINDEX TABLE "T";'),
    setup='CREATE TABLE "Order" ("id" INT PRIMARY KEY, "userId" INT); '
          'CREATE INDEX "Order_userId_idx" ON "Order" ("userId");',
)
