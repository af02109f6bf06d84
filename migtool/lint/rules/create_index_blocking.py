"""create-index-blocking: CREATE INDEX without CONCURRENTLY on a table that exists in production."""

from __future__ import annotations

import re

from migtool.lint.fixes import OWN_FILE, steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import qi, table_ref

ID = "create-index-blocking"

_INDEX_KEYWORD = re.compile(r"^(CREATE\s+(?:UNIQUE\s+)?INDEX)\b", re.IGNORECASE)


def check(stmt, ctx):
    node = stmt.node
    if node.get("concurrent"):
        return
    rel = node.get("relation")
    if ctx.is_new(rel):
        return
    ref = table_ref(rel)
    concurrent_sql = _INDEX_KEYWORD.sub(r"\1 CONCURRENTLY", " ".join(stmt.text.split()), count=1)
    name = qi(node["idxname"]) if node.get("idxname") else "<index name>"
    yield Hit(
        message=f"CREATE INDEX on {ref} without CONCURRENTLY blocks every write to {ref} until the index is built.",
        fix=steps(
            f"Build it concurrently, {OWN_FILE}: {concurrent_sql};",
            f"If the build fails it leaves an invalid index: DROP INDEX CONCURRENTLY IF EXISTS {name}; "
            "then mark the migration rolled back (prisma migrate resolve --rolled-back) and deploy again.",
        ),
    )


RULE = Rule(
    id=ID,
    severity="warning",
    summary="CREATE INDEX without CONCURRENTLY on an existing table blocks writes during the build",
    why="A plain index build holds a SHARE lock: INSERT, UPDATE and DELETE wait until it finishes.",
    instead="CREATE INDEX CONCURRENTLY, alone in its own migration file.",
    nodes=("IndexStmt",),
    check=check,
    bad=('CREATE INDEX "Order_userId_idx" ON "Order"("userId");', 'CREATE UNIQUE INDEX "User_email_key" ON "User"("email");'),
    good=('CREATE INDEX CONCURRENTLY "Order_userId_idx" ON "Order"("userId");',
          'CREATE TABLE "Post" ("id" INT, "slug" TEXT); CREATE UNIQUE INDEX "Post_slug_key" ON "Post"("slug");'),
    setup='CREATE TABLE "Order" ("id" INT PRIMARY KEY, "userId" INT); CREATE TABLE "User" ("id" INT, "email" TEXT);',
)
