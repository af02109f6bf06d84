"""add-column-volatile-default: ADD COLUMN whose value must be computed per row, rewriting the table."""

from __future__ import annotations

from migtool.lint.alter import existing_table_cmds
from migtool.lint.fixes import LOCK_TIMEOUT, default_text, steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.rules.add_required_column import SERIAL_TYPES
from migtool.lint.sql import cmd_column, column_constraints, format_type, qi, type_base
from migtool.lint.volatility import OK, UNKNOWN, classify_default

ID = "add-column-volatile-default"


def _reason(stmt, coldef, pg_version):
    """(why this ADD COLUMN rewrites the table, the default as SQL) or None when it does not."""
    base = type_base(coldef.get("typeName"))
    if base in SERIAL_TYPES:
        return f"a {base} column takes nextval() per row", "nextval(...)"
    cons = column_constraints(coldef)
    locations = [c.get("location", -1) for c in cons]
    for con in cons:
        kind = con.get("contype")
        if kind == "CONSTR_IDENTITY":
            return "an identity column is filled from its sequence row by row", None
        if kind == "CONSTR_GENERATED" and con.get("generated_kind", "s") == "s":
            return "a stored generated column is computed for every row", None
        if kind != "CONSTR_DEFAULT":
            continue
        expr = con.get("raw_expr")
        if (expr or {}).get("A_Const", {}).get("isnull"):
            return None
        text = default_text(stmt, con, locations) or "..."
        if pg_version < 11:
            return f"PostgreSQL {pg_version} writes any default into every row (11+ does not for constants)", text
        verdict, func = classify_default(expr)
        if verdict == OK:
            return None
        if verdict == UNKNOWN:
            return (f"migtool cannot tell whether {func}() is volatile; if it is, the value is computed per row "
                    "(if it is STABLE or IMMUTABLE, there is no rewrite: mark the statement with a reason)"), text
        return f"{func}() is volatile, so the value is computed per row", text
    return None


def check(stmt, ctx):
    for ref, _, cmd in existing_table_cmds(stmt, ctx, "AT_AddColumn"):
        coldef = cmd_column(cmd) or {}
        found = _reason(stmt, coldef, ctx.pg_version)
        if found is None:
            continue
        reason, default = found
        col, typ = qi(coldef.get("colname", "")), format_type(coldef.get("typeName"))
        if type_base(coldef.get("typeName")) in SERIAL_TYPES:
            typ = {"smallserial": "smallint", "serial2": "smallint", "bigserial": "bigint", "serial8": "bigint"}.get(
                type_base(coldef.get("typeName")), "integer")
        value = default or "<value>"
        yield Hit(
            message=f"Adding {ref}.{col} rewrites the whole table under an ACCESS EXCLUSIVE lock: {reason}.",
            fix=steps(
                f"Add the column without a default (catalog-only): {LOCK_TIMEOUT} ALTER TABLE {ref} ADD COLUMN {col} {typ};",
                f"Set the default for new rows only: ALTER TABLE {ref} ALTER COLUMN {col} SET DEFAULT {value};",
                f"Backfill existing rows in batches outside the migration: UPDATE {ref} SET {col} = {value} "
                f"WHERE {col} IS NULL AND <primary key in the next batch>;",
                "If it must be NOT NULL, add that afterwards through a validated CHECK (see set-not-null).",
            ),
        )


RULE = Rule(
    id=ID,
    severity="warning",
    summary="ADD COLUMN with a volatile default (gen_random_uuid(), random(), serial...) rewrites the table",
    why="Every row is rewritten while the table is locked against reads and writes; on a big table that is an outage.",
    instead="Add the column without default, SET DEFAULT for new rows, backfill old rows in batches.",
    nodes=("AlterTableStmt",),
    alter_subtypes=("AT_AddColumn",),
    check=check,
    bad=('ALTER TABLE "User" ADD COLUMN "uid" UUID NOT NULL DEFAULT gen_random_uuid();',
         'ALTER TABLE "User" ADD COLUMN "seen" TIMESTAMPTZ DEFAULT clock_timestamp();',
         'ALTER TABLE "User" ADD COLUMN "n" SERIAL;',
         'ALTER TABLE "User" ADD COLUMN "k" INTEGER DEFAULT my_func();',
         'ALTER TABLE "User" ADD COLUMN "total" NUMERIC GENERATED ALWAYS AS ("a" + "b") STORED;'),
    good=('ALTER TABLE "User" ADD COLUMN "active" BOOLEAN NOT NULL DEFAULT true;',
          'ALTER TABLE "User" ADD COLUMN "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;',
          'ALTER TABLE "User" ADD COLUMN "at" TIMESTAMPTZ DEFAULT now();',
          'ALTER TABLE "User" ADD COLUMN "meta" JSONB NOT NULL DEFAULT \'{}\'::jsonb;',
          'CREATE TABLE "T" (id int); ALTER TABLE "T" ADD COLUMN "u" UUID DEFAULT gen_random_uuid();'),
)
