"""rename-table: RENAME TO, or SET SCHEMA, of a table or view that exists in production."""

from __future__ import annotations

from migtool.lint.fixes import steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import qi, table_ref

ID = "rename-table"
_RENAMED = {"OBJECT_TABLE": "TABLE", "OBJECT_VIEW": "VIEW", "OBJECT_MATVIEW": "MATERIALIZED VIEW"}


def _rename(node, ctx):
    what = _RENAMED.get(node.get("renameType"))
    rel = node.get("relation")
    if what is None or ctx.is_new(rel):
        return
    ref, new = table_ref(rel), qi(node.get("newname", ""))
    schema = rel.get("schemaname")
    new_ref = f"{qi(schema)}.{new}" if schema else new
    kind = what.lower()
    code_only = (f"To rename only in code, keep the {kind} and map the model "
                 f"(Prisma: @@map(\"{rel.get('relname')}\")).")
    if what == "MATERIALIZED VIEW":
        yield Hit(
            message=f"Renaming {kind} {ref} to {new} breaks the release still running: its queries name {ref}.",
            fix=steps(code_only, f"Otherwise rename it once no release reads {ref} any more."),
        )
        return
    yield Hit(
        message=f"Renaming {kind} {ref} to {new} breaks the release still running: its queries name {ref}.",
        fix=steps(
            code_only,
            "Otherwise keep the old name working until no release uses it, in the same migration:",
            f"  ALTER {what} {ref} RENAME TO {new};",
            f"  CREATE VIEW {ref} AS SELECT * FROM {new_ref};  -- a simple view is updatable: old code keeps working",
            f"and in a later release, when no code uses the old name: DROP VIEW {ref};",
        ),
    )


def _set_schema(node, ctx):
    what = _RENAMED.get(node.get("objectType"))
    rel = node.get("relation")
    if what is None or not rel or ctx.is_new(rel):
        return
    ref = table_ref(rel)
    new_ref = f"{qi(node.get('newschema', ''))}.{qi(rel.get('relname', ''))}"
    kind = what.lower()
    fix = steps(
        f"Keep the {kind} where the running release looks for it, or keep the old name working in the same "
        "migration:",
        f"  ALTER {what} {ref} SET SCHEMA {qi(node.get('newschema', ''))};",
        f"  CREATE VIEW {ref} AS SELECT * FROM {new_ref};  -- old code keeps working through the view",
        f"and in a later release, when no code uses the old name: DROP VIEW {ref};",
    ) if what != "MATERIALIZED VIEW" else f"Move it once no release reads {ref} any more."
    yield Hit(
        message=f"Moving {kind} {ref} to schema {qi(node.get('newschema', ''))} breaks the release still running: "
                f"its queries find {ref} through the search_path.",
        fix=fix,
    )


def check(stmt, ctx):
    if stmt.kind == "AlterObjectSchemaStmt":
        yield from _set_schema(stmt.node, ctx)
    else:
        yield from _rename(stmt.node, ctx)


RULE = Rule(
    id=ID,
    severity="danger",
    summary="RENAME or SET SCHEMA of an existing table or view: the running release still uses the old name",
    why="Until the new release is everywhere, old code queries a table that no longer exists under that name.",
    instead="Rename in code only (Prisma @@map), or rename and create an updatable view with the old name; drop it later.",
    nodes=("RenameStmt", "AlterObjectSchemaStmt"),
    check=check,
    bad=('ALTER TABLE "Order" RENAME TO "Purchase";',
         'ALTER VIEW "ActiveUser" RENAME TO "Active";',
         'ALTER TABLE "Order" SET SCHEMA "archive";',
         'ALTER MATERIALIZED VIEW "Stats" RENAME TO "Stats2";'),
    good=('CREATE TABLE "Tmp" (id int); ALTER TABLE "Tmp" RENAME TO "Final";',
          'ALTER TABLE "Order" RENAME CONSTRAINT "a" TO "b";',
          'CREATE TABLE "Tmp" (id int); ALTER TABLE "Tmp" SET SCHEMA "archive";',
          'CREATE VIEW "V" AS SELECT 1 AS a; ALTER VIEW "V" RENAME TO "W";'),
    setup='CREATE SCHEMA "archive"; CREATE TABLE "User" ("id" INT PRIMARY KEY); '
          'CREATE TABLE "Order" ("id" INT PRIMARY KEY); CREATE VIEW "ActiveUser" AS SELECT * FROM "User"; '
          'CREATE MATERIALIZED VIEW "Stats" AS SELECT count(*) AS n FROM "User";',
)
