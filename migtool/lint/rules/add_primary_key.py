"""add-primary-key: a PRIMARY KEY added to an existing table (index build and NOT NULL scan under lock),
as ADD CONSTRAINT ... PRIMARY KEY or as ADD COLUMN ... PRIMARY KEY (serial, identity or uuid)."""

from __future__ import annotations

from migtool.lint.alter import added_constraints
from migtool.lint.fixes import LOCK_TIMEOUT, steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.rules.add_required_column import SERIAL_TYPES
from migtool.lint.rules.add_unique_constraint import dropped_constraints, unique_fix
from migtool.lint.sql import (
    auto_constraint_name,
    cols_sql,
    column_constraints,
    format_type,
    names,
    qi,
    type_base,
)

ID = "add-primary-key"
_SERIAL_BASE = {"smallserial": "smallint", "serial2": "smallint", "bigserial": "bigint", "serial8": "bigint"}


def _fill(ref: str, table: str, coldef) -> tuple[str, list[str]]:
    """(the column's plain type, the steps that give it values) for ADD COLUMN ... PRIMARY KEY."""
    column = coldef.get("colname", "")
    col = qi(column)
    base = type_base(coldef.get("typeName"))
    kinds = {c.get("contype"): c for c in column_constraints(coldef)}
    if base in SERIAL_TYPES or "CONSTR_IDENTITY" in kinds:
        typ = _SERIAL_BASE.get(base, "integer") if base in SERIAL_TYPES else format_type(coldef.get("typeName"))
        seq = f"{table}_{column}_seq"
        default = f"nextval('{qi(seq)}')"
        first = (f"Number new rows from a sequence: CREATE SEQUENCE {qi(seq)} OWNED BY {ref}.{col}; "
                 f"ALTER TABLE {ref} ALTER COLUMN {col} SET DEFAULT {default};")
    else:
        typ = format_type(coldef.get("typeName"))
        default = "gen_random_uuid()" if base == "uuid" else "<value>"
        first = f"Fill new rows: ALTER TABLE {ref} ALTER COLUMN {col} SET DEFAULT {default};"
    return typ, [
        first,
        f"Backfill old rows in batches outside the migration: UPDATE {ref} SET {col} = DEFAULT WHERE {col} IS NULL "
        "AND <primary key in the next batch>;",
    ]


def _new_column_fix(ref: str, table: str, name: str, coldef) -> str:
    column = coldef.get("colname", "")
    col = qi(column)
    typ, fill = _fill(ref, table, coldef)
    check_name = qi(f"{table}_{column}_not_null")
    return steps(
        f"Add the column alone (catalog-only): {LOCK_TIMEOUT} ALTER TABLE {ref} ADD COLUMN {col} {typ};",
        *fill,
        f"Build the key's index {_own_file()}: CREATE UNIQUE INDEX CONCURRENTLY {qi(name)} ON {ref} ({col});",
        f"Prove NOT NULL without a long lock: ALTER TABLE {ref} ADD CONSTRAINT {check_name} CHECK ({col} IS NOT NULL) "
        f"NOT VALID; then, in the next migration file: ALTER TABLE {ref} VALIDATE CONSTRAINT {check_name};",
        f"Attach the key (brief lock, no scan): {LOCK_TIMEOUT} ALTER TABLE {ref} ADD CONSTRAINT {qi(name)} "
        f"PRIMARY KEY USING INDEX {qi(name)};",
    )


def _own_file() -> str:
    return "alone in a migration file of its own (CONCURRENTLY cannot run in a transaction)"


def check(stmt, ctx):
    dropped = None
    for ref, table, con, coldef in added_constraints(stmt, ctx, "CONSTR_PRIMARY", in_new_columns=True):
        if coldef is not None:
            name = con.get("conname") or auto_constraint_name(table, [], "pkey")
            yield Hit(
                message=f"Adding {ref}.{qi(coldef.get('colname', ''))} as PRIMARY KEY fills every row and builds a "
                        "unique index while the table is locked against reads and writes.",
                fix=_new_column_fix(ref, table, name, coldef),
            )
            continue
        if con.get("indexname"):
            continue
        cols = names(con.get("keys"))
        name = con.get("conname") or auto_constraint_name(table, cols, "pkey")
        if dropped is None:
            dropped = dropped_constraints(stmt)
        fix = unique_fix(ref, name, cols, kind="PRIMARY KEY", con=con, replaces=name in dropped).rsplit("\n", 1)[0]
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
    alter_subtypes=("AT_AddConstraint", "AT_AddColumn"),
    check=check,
    bad=('ALTER TABLE "Event" ADD CONSTRAINT "Event_pkey" PRIMARY KEY ("id");',
         "ALTER TABLE events ADD PRIMARY KEY (id);",
         'ALTER TABLE "Tag" DROP CONSTRAINT "Tag_pkey",\nADD CONSTRAINT "Tag_pkey" PRIMARY KEY ("id");',
         'ALTER TABLE "Event" ADD COLUMN "seq" SERIAL PRIMARY KEY;',
         'ALTER TABLE "Event" ADD COLUMN "seq" BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY;',
         'ALTER TABLE "Event" ADD COLUMN "uid" UUID NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY;'),
    good=('ALTER TABLE "Event" ADD CONSTRAINT "Event_pkey" PRIMARY KEY USING INDEX "Event_pkey";',
          'CREATE TABLE "T" ("id" INT); ALTER TABLE "T" ADD PRIMARY KEY ("id");',
          'CREATE TABLE "T" ("a" INT); ALTER TABLE "T" ADD COLUMN "id" SERIAL PRIMARY KEY;'),
    setup='CREATE TABLE "Event" ("id" INT NOT NULL); CREATE TABLE events (id INT NOT NULL); '
          'CREATE TABLE "Tag" ("id" INT NOT NULL, "name" TEXT NOT NULL, CONSTRAINT "Tag_pkey" PRIMARY KEY ("name")); '
          'INSERT INTO "Event" VALUES (1), (2); INSERT INTO events VALUES (1); INSERT INTO "Tag" VALUES (1, \'a\');',
)
