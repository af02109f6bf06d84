"""drop-index-blocking: DROP INDEX without CONCURRENTLY."""

from __future__ import annotations

from migtool.lint.fixes import OWN_FILE
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import drop_objects, object_ref

ID = "drop-index-blocking"


def check(stmt, ctx):
    node = stmt.node
    if node.get("removeType") != "OBJECT_INDEX" or node.get("concurrent"):
        return
    existing = [parts for parts in drop_objects(node) if not ctx.is_new_index(parts)]
    if not existing:
        return
    refs = [object_ref(p) for p in existing]
    concurrent = " ".join(f"DROP INDEX CONCURRENTLY IF EXISTS {r};" for r in refs)
    yield Hit(
        message=f"DROP INDEX {', '.join(refs)} without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on its table: "
                "every query on it waits.",
        fix=f"Drop each index concurrently, {OWN_FILE}: {concurrent}",
    )


RULE = Rule(
    id=ID,
    severity="warning",
    summary="DROP INDEX without CONCURRENTLY locks the table against reads and writes",
    why="Plain DROP INDEX takes ACCESS EXCLUSIVE on the table; queued behind a long query it stalls all traffic.",
    instead="DROP INDEX CONCURRENTLY, one index per statement, alone in its own migration file.",
    nodes=("DropStmt",),
    check=check,
    bad=('DROP INDEX "Order_userId_idx";', 'DROP INDEX IF EXISTS "a", "b";'),
    good=('DROP INDEX CONCURRENTLY "Order_userId_idx";',
          'CREATE TABLE "T" (a int); CREATE INDEX "T_a_idx" ON "T"(a); DROP INDEX "T_a_idx";'),
    setup='CREATE TABLE "Order" ("id" INT PRIMARY KEY, "userId" INT); CREATE INDEX "Order_userId_idx" ON "Order" '
          '("userId"); CREATE INDEX "a" ON "Order" ("id"); CREATE INDEX "b" ON "Order" ("userId", "id");',
)
