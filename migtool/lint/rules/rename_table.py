"""rename-table: ALTER TABLE ... RENAME TO on a table that exists in production."""

from __future__ import annotations

from migtool.lint.fixes import steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import qi, table_ref

ID = "rename-table"


def check(stmt, ctx):
    node = stmt.node
    if node.get("renameType") != "OBJECT_TABLE":
        return
    rel = node.get("relation")
    if ctx.is_new(rel):
        return
    ref, new = table_ref(rel), qi(node.get("newname", ""))
    schema = rel.get("schemaname")
    new_ref = f"{qi(schema)}.{new}" if schema else new
    yield Hit(
        message=f"Renaming {ref} to {new} breaks the release still running: its queries name {ref}.",
        fix=steps(
            f"To rename only in code, keep the table and map the model (Prisma: @@map(\"{rel.get('relname')}\")).",
            "Otherwise keep the old name working until no release uses it, in the same migration:",
            f"  ALTER TABLE {ref} RENAME TO {new};",
            f"  CREATE VIEW {ref} AS SELECT * FROM {new_ref};  -- a simple view is updatable: old code keeps working",
            f"and in a later release, when no code uses the old name: DROP VIEW {ref};",
        ),
    )


RULE = Rule(
    id=ID,
    severity="danger",
    summary="RENAME of an existing table: the running release still uses the old name",
    why="Until the new release is everywhere, old code queries a table that no longer exists under that name.",
    instead="Rename in code only (Prisma @@map), or rename and create an updatable view with the old name; drop it later.",
    nodes=("RenameStmt",),
    check=check,
    bad=('ALTER TABLE "Order" RENAME TO "Purchase";',),
    good=('CREATE TABLE "Tmp" (id int); ALTER TABLE "Tmp" RENAME TO "Final";',
          'ALTER TABLE "Order" RENAME CONSTRAINT "a" TO "b";'),
)
