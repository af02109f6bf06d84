"""rename-column: ALTER TABLE ... RENAME COLUMN on a table that exists in production."""

from __future__ import annotations

from migtool.lint.fixes import steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import qi, table_ref

ID = "rename-column"
_RELATIONS = ("OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_FOREIGN_TABLE")


def check(stmt, ctx):
    node = stmt.node
    if node.get("renameType") != "OBJECT_COLUMN" or node.get("relationType") not in _RELATIONS:
        return
    rel = node.get("relation")
    if ctx.is_new(rel):
        return
    ref, old, new = table_ref(rel), qi(node.get("subname", "")), qi(node.get("newname", ""))
    if node.get("relationType") != "OBJECT_TABLE":
        yield Hit(
            message=f"Renaming column {old} of view {ref} to {new} breaks the release still running: its queries "
                    f"name {old}.",
            fix=steps(
                f"Keep {old}: add {new} as an extra column at the end of the view (CREATE OR REPLACE VIEW {ref} "
                f"AS SELECT <the same columns>, {old} AS {new} FROM ...), so both names work.",
                f"In a later release, when no code reads {old}, recreate the view without it.",
            ),
        )
        return
    yield Hit(
        message=f"Renaming {ref}.{old} to {new} breaks the release still running: its queries name {old}.",
        fix=steps(
            f"To rename only in code, keep the column and map it (Prisma: {node.get('newname')} Type @map(\"{node.get('subname')}\")).",
            "Otherwise expand/contract over several releases:",
            f"  expand: ALTER TABLE {ref} ADD COLUMN {new} <type of {old}>;",
            f"  release code that writes both {old} and {new}, then backfill in batches: "
            f"UPDATE {ref} SET {new} = {old} WHERE {new} IS NULL AND <primary key in the next batch>;",
            f"  release code that reads {new} only;",
            f"  contract, in a later release: ALTER TABLE {ref} DROP COLUMN {old};",
        ),
    )


RULE = Rule(
    id=ID,
    severity="danger",
    summary="RENAME COLUMN on an existing table: the running release still uses the old name",
    why="Between the migration and the new release's rollout, every query of the old code that names the column fails.",
    instead="Rename in code only (Prisma @map), or add the new column, write both, backfill, switch reads, drop the old one later.",
    nodes=("RenameStmt",),
    check=check,
    bad=('ALTER TABLE "User" RENAME COLUMN "name" TO "fullName";',
         'ALTER VIEW "ActiveUser" RENAME COLUMN "name" TO "fullName";'),
    good=('CREATE TABLE "T" (a int); ALTER TABLE "T" RENAME COLUMN "a" TO "b";',
          'CREATE VIEW "V" AS SELECT 1 AS a; ALTER VIEW "V" RENAME COLUMN "a" TO "b";',
          'ALTER INDEX "a_idx" RENAME TO "b_idx";'),
    setup='CREATE TABLE "User" ("id" INT PRIMARY KEY, "name" TEXT); '
          'CREATE TABLE "Person" ("id" INT, "name" TEXT); CREATE VIEW "ActiveUser" AS SELECT * FROM "Person"; '
          'INSERT INTO "User" VALUES (1, \'a\');',
)
