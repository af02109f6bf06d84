"""drop-default-required-column: DROP DEFAULT on a NOT NULL column that the running release may omit.

The two-step "required column": ADD COLUMN c ... NOT NULL DEFAULT 'x' (fills old rows), then ALTER
COLUMN c DROP DEFAULT. Once the default is gone, every INSERT from code that does not send c fails
with a NOT NULL violation; that is exactly the release still running during the deploy.
"""

from __future__ import annotations

from migtool.lint.alter import existing_table_cmds
from migtool.lint.context import column_is_not_null
from migtool.lint.fixes import allow_line, steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import cmd_column, qi

ID = "drop-default-required-column"


def _drops_default(cmd) -> bool:
    definition = cmd.get("def")
    if definition is None:
        return True  # DROP DEFAULT
    return bool(definition.get("A_Const", {}).get("isnull"))  # SET DEFAULT NULL


def check(stmt, ctx):
    rel = stmt.node.get("relation")
    made_required: set[str] = set()  # by earlier subcommands of this statement
    for ref, _, cmd in existing_table_cmds(stmt, ctx, "AT_AddColumn", "AT_SetNotNull", "AT_DropNotNull",
                                           "AT_ColumnDefault"):
        subtype = cmd.get("subtype")
        if subtype == "AT_AddColumn":
            coldef = cmd_column(cmd) or {}
            if column_is_not_null(coldef):
                made_required.add(coldef.get("colname", ""))
            continue
        column = cmd.get("name", "")
        if subtype == "AT_SetNotNull":
            made_required.add(column)
        elif subtype == "AT_DropNotNull":
            made_required.discard(column)
        elif _drops_default(cmd) and (column in made_required or ctx.is_not_null_column(rel, column)):
            col = qi(column)
            yield Hit(
                message=f"Dropping the default of {ref}.{col}, which is NOT NULL, makes every INSERT that does not "
                        f"name {col} fail: the release still running does not send it.",
                fix=steps(
                    f"Keep the default in this release. Release code that always writes {col} (Prisma: the field "
                    "has no @default any more only once every running release sets it), and let it run everywhere.",
                    f"Then, in a later release's migration: ALTER TABLE {ref} ALTER COLUMN {col} DROP DEFAULT;",
                    f"If no running code inserts into {ref}, mark the statement: {allow_line(ID)}",
                ),
            )


RULE = Rule(
    id=ID,
    severity="danger",
    summary="DROP DEFAULT on a NOT NULL column of an existing table: old code's INSERTs fail",
    why="The running release does not send the column, so once the default is gone its INSERTs violate NOT NULL.",
    instead="Keep the default until every running release writes the column; drop it in a later release.",
    nodes=("AlterTableStmt",),
    alter_subtypes=("AT_ColumnDefault",),
    check=check,
    bad=('ALTER TABLE "User" ADD COLUMN "plan" TEXT NOT NULL DEFAULT \'free\';\n'
         'ALTER TABLE "User" ALTER COLUMN "plan" DROP DEFAULT;',
         'ALTER TABLE "User" ALTER COLUMN "email" SET NOT NULL;\n'
         'ALTER TABLE "User" ALTER COLUMN "email" SET DEFAULT NULL;'),
    good=('ALTER TABLE "User" ALTER COLUMN "bio" DROP DEFAULT;',
          'ALTER TABLE "User" ADD COLUMN "plan" TEXT DEFAULT \'free\';\n'
          'ALTER TABLE "User" ALTER COLUMN "plan" DROP DEFAULT;',
          'ALTER TABLE "User" ADD COLUMN "plan" TEXT NOT NULL DEFAULT \'free\';\n'
          'ALTER TABLE "User" ALTER COLUMN "plan" DROP NOT NULL;\n'
          'ALTER TABLE "User" ALTER COLUMN "plan" DROP DEFAULT;',
          'CREATE TABLE "T" ("a" TEXT NOT NULL DEFAULT \'x\');\nALTER TABLE "T" ALTER COLUMN "a" DROP DEFAULT;',
          'ALTER TABLE "User" ADD COLUMN "plan" TEXT NOT NULL DEFAULT \'free\';\n'
          'ALTER TABLE "User" ALTER COLUMN "plan" SET DEFAULT \'pro\';'),
    setup='CREATE TABLE "User" ("id" INT PRIMARY KEY, "email" TEXT DEFAULT \'\', "bio" TEXT); '
          'INSERT INTO "User" VALUES (1, \'a@example.com\', NULL);',
)
