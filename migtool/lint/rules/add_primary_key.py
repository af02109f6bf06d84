"""add-primary-key: ADD PRIMARY KEY on an existing table (index build and NOT NULL scan under lock)."""

from __future__ import annotations

from migtool.lint.alter import added_constraints
from migtool.lint.rule import Hit, Rule
from migtool.lint.rules.add_unique_constraint import unique_fix
from migtool.lint.sql import auto_constraint_name, cols_sql, names

ID = "add-primary-key"


def check(stmt, ctx):
    for ref, table, con, _ in added_constraints(stmt, ctx, "CONSTR_PRIMARY"):
        if con.get("indexname"):
            continue
        cols = names(con.get("keys"))
        name = con.get("conname") or auto_constraint_name(table, cols, "pkey")
        fix = unique_fix(ref, name, cols, kind="PRIMARY KEY").rsplit("\n", 1)[0]
        yield Hit(
            message=f"Adding PRIMARY KEY ({cols_sql(cols)}) on {ref} builds a unique index and checks NOT NULL while "
                    "the table is locked against reads and writes.",
            fix=fix + "\nThe columns must be NOT NULL already: make them so through a validated CHECK (see set-not-null).",
        )


RULE = Rule(
    id=ID,
    severity="warning",
    summary="PRIMARY KEY added to an existing table (index build under an ACCESS EXCLUSIVE lock)",
    why="The index is built, and NULLs are checked, while every query on the table waits.",
    instead="CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... PRIMARY KEY USING INDEX.",
    nodes=("AlterTableStmt",),
    alter_subtypes=("AT_AddConstraint",),
    check=check,
    bad=('ALTER TABLE "Event" ADD CONSTRAINT "Event_pkey" PRIMARY KEY ("id");', "ALTER TABLE events ADD PRIMARY KEY (id);"),
    good=('ALTER TABLE "Event" ADD CONSTRAINT "Event_pkey" PRIMARY KEY USING INDEX "Event_pkey";',
          'CREATE TABLE "T" ("id" INT); ALTER TABLE "T" ADD PRIMARY KEY ("id");'),
)
