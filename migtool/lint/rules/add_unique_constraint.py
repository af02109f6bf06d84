"""add-unique-constraint: ADD CONSTRAINT ... UNIQUE (or ADD COLUMN ... UNIQUE) on an existing table."""

from __future__ import annotations

from migtool.lint.fixes import OWN_FILE, steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import (
    auto_constraint_name,
    cmd_column,
    cmd_constraint,
    cols_sql,
    column_constraints,
    names,
    qi,
    table_cmds,
    table_name,
    table_ref,
)

ID = "add-unique-constraint"


def unique_fix(ref: str, name: str, cols: list[str], kind: str = "UNIQUE") -> str:
    return steps(
        f"Build the index without blocking writes, {OWN_FILE}: "
        f"CREATE UNIQUE INDEX CONCURRENTLY {qi(name)} ON {ref} ({cols_sql(cols)});",
        f"Then attach it (brief lock): ALTER TABLE {ref} ADD CONSTRAINT {qi(name)} {kind} USING INDEX {qi(name)};",
        "With Prisma, @unique is a unique index already: step 1 alone is enough.",
    )


def check(stmt, ctx):
    rel = stmt.node.get("relation")
    if ctx.is_new(rel):
        return
    ref, table = table_ref(rel), table_name(rel)
    for cmd in table_cmds(stmt.node):
        subtype = cmd.get("subtype")
        found = []
        if subtype == "AT_AddConstraint":
            con = cmd_constraint(cmd) or {}
            if con.get("contype") == "CONSTR_UNIQUE" and not con.get("indexname"):
                found.append((con, names(con.get("keys"))))
        elif subtype == "AT_AddColumn":
            coldef = cmd_column(cmd) or {}
            found += [(c, [coldef.get("colname", "")]) for c in column_constraints(coldef)
                      if c.get("contype") == "CONSTR_UNIQUE"]
        for con, cols in found:
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
