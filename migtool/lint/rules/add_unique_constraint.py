"""add-unique-constraint: ADD CONSTRAINT ... UNIQUE (or ADD COLUMN ... UNIQUE) on an existing table."""

from __future__ import annotations

from migtool.lint.alter import added_constraints
from migtool.lint.fixes import OWN_FILE, steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import auto_constraint_name, cols_sql, names, qi

ID = "add-unique-constraint"


def unique_fix(ref: str, name: str, cols: list[str], kind: str = "UNIQUE") -> str:
    return steps(
        f"Build the index without blocking writes, {OWN_FILE}: "
        f"CREATE UNIQUE INDEX CONCURRENTLY {qi(name)} ON {ref} ({cols_sql(cols)});",
        f"Then attach it (brief lock): ALTER TABLE {ref} ADD CONSTRAINT {qi(name)} {kind} USING INDEX {qi(name)};",
        "With Prisma, @unique is a unique index already: step 1 alone is enough.",
    )


def check(stmt, ctx):
    for ref, table, con, coldef in added_constraints(stmt, ctx, "CONSTR_UNIQUE", in_new_columns=True):
        if coldef is not None:
            cols = [coldef.get("colname", "")]
        elif con.get("indexname"):
            continue
        else:
            cols = names(con.get("keys"))
        name = con.get("conname") or auto_constraint_name(table, cols, "key")
        yield Hit(
            message=f"Adding UNIQUE ({cols_sql(cols)}) on {ref} builds its index while writes to {ref} are "
                    "blocked for the whole build.",
            fix=unique_fix(ref, name, cols),
        )


RULE = Rule(
    id=ID,
    severity="warning",
    summary="UNIQUE constraint added to an existing table (index built under a write-blocking lock)",
    why="The unique index is built in the same statement, with writes blocked until it is done.",
    instead="CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... UNIQUE USING INDEX.",
    nodes=("AlterTableStmt",),
    alter_subtypes=("AT_AddConstraint", "AT_AddColumn"),
    check=check,
    bad=('ALTER TABLE "User" ADD CONSTRAINT "User_email_key" UNIQUE ("email");',
         'ALTER TABLE "User" ADD COLUMN "handle" TEXT UNIQUE;'),
    good=('ALTER TABLE "User" ADD CONSTRAINT "User_email_key" UNIQUE USING INDEX "User_email_key";',
          'CREATE TABLE "T" ("a" TEXT); ALTER TABLE "T" ADD CONSTRAINT "T_a_key" UNIQUE ("a");'),
)
