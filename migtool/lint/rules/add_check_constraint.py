"""add-check-constraint: ADD CONSTRAINT ... CHECK on an existing table without NOT VALID."""

from __future__ import annotations

from migtool.lint.alter import added_constraints
from migtool.lint.fixes import constraint_clause, not_valid_fix
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import qi

ID = "add-check-constraint"


def check(stmt, ctx):
    for ref, table, con, _ in added_constraints(stmt, ctx, "CONSTR_CHECK"):
        if con.get("skip_validation"):
            continue
        name = con.get("conname") or f"{table}_check"
        clause = constraint_clause(stmt, con, name, "CHECK (...)")
        yield Hit(
            message=f"Adding CHECK constraint {qi(name)} on {ref} scans every row under an ACCESS EXCLUSIVE lock "
                    "(reads and writes wait).",
            fix=not_valid_fix(ref, clause, name, add="Add it for new rows only",
                              validate="scans without blocking writes"),
        )


RULE = Rule(
    id=ID,
    severity="warning",
    summary="CHECK constraint added to an existing table without NOT VALID",
    why="Every row is checked while the table is locked against reads and writes.",
    instead="ADD CONSTRAINT ... CHECK (...) NOT VALID, then VALIDATE CONSTRAINT in a later migration.",
    nodes=("AlterTableStmt",),
    alter_subtypes=("AT_AddConstraint",),
    check=check,
    bad=('ALTER TABLE "Order" ADD CONSTRAINT "Order_total_positive" CHECK ("total" >= 0);',),
    good=('ALTER TABLE "Order" ADD CONSTRAINT "Order_total_positive" CHECK ("total" >= 0) NOT VALID;',
          'CREATE TABLE "T" ("a" INT); ALTER TABLE "T" ADD CONSTRAINT "c" CHECK ("a" > 0);'),
    setup='CREATE TABLE "Order" ("id" INT PRIMARY KEY, "total" INT); INSERT INTO "Order" VALUES (1, 5);',
)
