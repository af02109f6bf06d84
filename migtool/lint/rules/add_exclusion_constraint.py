"""add-exclusion-constraint: ADD CONSTRAINT ... EXCLUDE on an existing table."""

from __future__ import annotations

from migtool.lint.alter import added_constraints
from migtool.lint.fixes import LOCK_TIMEOUT, constraint_clause, steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import qi

ID = "add-exclusion-constraint"


def check(stmt, ctx):
    for ref, table, con, _ in added_constraints(stmt, ctx, "CONSTR_EXCLUSION"):
        name = con.get("conname") or f"{table}_excl"
        clause = constraint_clause(stmt, con, name, "EXCLUDE (...)")
        yield Hit(
            message=f"Adding exclusion constraint {qi(name)} on {ref} builds its index under an ACCESS EXCLUSIVE lock: "
                    "reads and writes wait for the whole build (there is no CONCURRENTLY form).",
            fix=steps(
                "There is no online way to add an exclusion constraint. If equality is enough, use a unique index "
                "built concurrently instead (see add-unique-constraint).",
                f"Otherwise run it when the table is small or traffic is low, in a migration of its own, bounded: "
                f"{LOCK_TIMEOUT} ALTER TABLE {ref} ADD {clause};",
            ),
        )


RULE = Rule(
    id=ID,
    severity="warning",
    summary="EXCLUDE constraint added to an existing table (index built under ACCESS EXCLUSIVE)",
    why="The exclusion index is built inside the ALTER TABLE while every query on the table waits.",
    instead="A unique index built CONCURRENTLY if equality suffices; otherwise a quiet time and a lock_timeout.",
    nodes=("AlterTableStmt",),
    alter_subtypes=("AT_AddConstraint",),
    check=check,
    bad=('ALTER TABLE "Booking" ADD CONSTRAINT "Booking_no_overlap" EXCLUDE USING gist ("during" WITH &&);',),
    good=('CREATE TABLE "B" ("during" tstzrange); '
          'ALTER TABLE "B" ADD CONSTRAINT "B_no_overlap" EXCLUDE USING gist ("during" WITH &&);',),
    setup='CREATE TABLE "Booking" ("id" INT PRIMARY KEY, "during" tstzrange);',
)
