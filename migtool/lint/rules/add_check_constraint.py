"""add-check-constraint: ADD CONSTRAINT ... CHECK on an existing table without NOT VALID."""

from __future__ import annotations

from migtool.lint.fixes import LOCK_TIMEOUT, clause_text, steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import cmd_constraint, qi, table_cmds, table_name, table_ref

ID = "add-check-constraint"


def check(stmt, ctx):
    rel = stmt.node.get("relation")
    if ctx.is_new(rel):
        return
    ref, table = table_ref(rel), table_name(rel)
    for cmd in table_cmds(stmt.node):
        if cmd.get("subtype") != "AT_AddConstraint":
            continue
        con = cmd_constraint(cmd) or {}
        if con.get("contype") != "CONSTR_CHECK" or con.get("skip_validation"):
            continue
        name = con.get("conname") or f"{table}_check"
        clause = clause_text(stmt, con.get("location")) or "CHECK (...)"
        if not clause.upper().startswith("CONSTRAINT"):
            clause = f"CONSTRAINT {qi(name)} {clause}"
        yield Hit(
            message=f"Adding CHECK constraint {qi(name)} on {ref} scans every row under an ACCESS EXCLUSIVE lock "
                    "(reads and writes wait).",
            fix=steps(
                f"Add it for new rows only (brief lock): {LOCK_TIMEOUT} ALTER TABLE {ref} ADD {clause} NOT VALID;",
                f"In the next migration file (scans without blocking writes): ALTER TABLE {ref} VALIDATE CONSTRAINT {qi(name)};",
            ),
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
)
