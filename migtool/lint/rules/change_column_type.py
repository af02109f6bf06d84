"""change-column-type: ALTER COLUMN ... TYPE on a table that exists in production."""

from __future__ import annotations

from migtool.lint.alter import existing_table_cmds
from migtool.lint.fixes import steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import cmd_column, format_type, qi, type_base

ID = "change-column-type"

# Without knowing the old type we cannot prove a change is a widening, but these targets usually
# are one (varchar(n) -> varchar(m >= n) or text), which PostgreSQL does without a rewrite.
_MAYBE_WIDENING = frozenset({"text", "varchar", "citext"})


def check(stmt, ctx):
    for ref, _, cmd in existing_table_cmds(stmt, ctx, "AT_AlterColumnType"):
        coldef = cmd_column(cmd) or {}
        type_name = coldef.get("typeName")
        new_type = format_type(type_name)
        col_name = cmd.get("name", "")
        col, col_new = qi(col_name), qi(f"{col_name}_new")
        using = coldef.get("raw_default") is not None
        fix = steps(
            f"Expand: ALTER TABLE {ref} ADD COLUMN {col_new} {new_type};",
            f"Release code that writes both {col} and {col_new}; backfill in batches: "
            f"UPDATE {ref} SET {col_new} = {col}::{new_type} WHERE {col_new} IS NULL AND <primary key in the next batch>;",
            f"Release code that reads {col_new} (Prisma: map the field with @map(\"{col_name}_new\")).",
            f"Contract, in a later release: ALTER TABLE {ref} DROP COLUMN {col};",
        )
        if type_base(type_name) in _MAYBE_WIDENING and not using:
            yield Hit(
                message=f"Changing {ref}.{col} to {new_type} is safe only if it widens the column (varchar(n) to a "
                        "larger n, or to text); from any other type it rewrites the table under an ACCESS EXCLUSIVE "
                        "lock and old code may break.",
                fix=f"If it only widens, mark it: -- migtool:allow {ID} widens varchar, no rewrite\n" + fix,
                severity="warning",
            )
            continue
        how = " with a USING conversion" if using else ""
        yield Hit(
            message=f"Changing the type of {ref}.{col} to {new_type}{how} rewrites the table under an ACCESS "
                    "EXCLUSIVE lock, and the release still running may read or write values of the old type.",
            fix=fix,
        )


RULE = Rule(
    id=ID,
    severity="danger",
    summary="ALTER COLUMN TYPE on an existing table: table rewrite under lock, old code may break",
    why="Most type changes rewrite every row while reads and writes wait, and code still running expects the old type.",
    instead="Add a column with the new type, write both, backfill in batches, switch reads, drop the old column later.",
    nodes=("AlterTableStmt",),
    alter_subtypes=("AT_AlterColumnType",),
    check=check,
    bad=('ALTER TABLE "Order" ALTER COLUMN "id" SET DATA TYPE BIGINT;',
         'ALTER TABLE "User" ALTER COLUMN "role" TYPE "Role_new" USING ("role"::text::"Role_new");',
         'ALTER TABLE "User" ALTER COLUMN "email" SET DATA TYPE VARCHAR(100);'),
    good=('CREATE TABLE "T" (a int); ALTER TABLE "T" ALTER COLUMN "a" TYPE bigint;',
          'ALTER TABLE "User" ALTER COLUMN "email" SET DEFAULT \'\';'),
)
