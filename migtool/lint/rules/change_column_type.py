"""change-column-type: ALTER COLUMN ... TYPE on a table that exists in production."""

from __future__ import annotations

from migtool.lint.alter import existing_table_cmds
from migtool.lint.fixes import clause_text, steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import cmd_column, format_type, qi, type_base

ID = "change-column-type"

# Without knowing the old type we cannot prove a change is a widening, but these targets usually
# are one (varchar(n) -> varchar(m >= n) or text), which PostgreSQL does without a rewrite.
_MAYBE_WIDENING = frozenset({"text", "varchar", "citext"})


def _using_text(stmt, expr) -> str | None:
    """The USING expression's source text, from the first location in its tree."""
    location = _first_location(expr)
    if location is None:
        return None
    start = stmt.data.rfind(b"USING", stmt.start, location + 1)
    start = stmt.data.rfind(b"using", stmt.start, location + 1) if start < 0 else start
    if start < 0:
        return None
    text = clause_text(stmt, start + len(b"USING"))
    return text.strip() if text else None


def _first_location(node):
    if isinstance(node, dict):
        found = [node["location"]] if isinstance(node.get("location"), int) and node["location"] >= 0 else []
        for value in node.values():
            loc = _first_location(value)
            if loc is not None:
                found.append(loc)
        return min(found) if found else None
    if isinstance(node, list):
        locs = [x for x in (_first_location(v) for v in node) if x is not None]
        return min(locs) if locs else None
    return None


def check(stmt, ctx):
    for ref, _, cmd in existing_table_cmds(stmt, ctx, "AT_AlterColumnType"):
        coldef = cmd_column(cmd) or {}
        type_name = coldef.get("typeName")
        new_type = format_type(type_name)
        col_name = cmd.get("name", "")
        col, col_new = qi(col_name), qi(f"{col_name}_new")
        using = coldef.get("raw_default") is not None
        # The conversion as written (USING ...), else a plain cast.
        convert = (_using_text(stmt, coldef["raw_default"]) if using else None) or f"{col}::{new_type}"
        fix = steps(
            f"Expand: ALTER TABLE {ref} ADD COLUMN {col_new} {new_type};",
            f"Release code that writes both {col} and {col_new}; backfill in batches: "
            f"UPDATE {ref} SET {col_new} = {convert} WHERE {col_new} IS NULL AND <primary key in the next batch>;",
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
    setup='CREATE TYPE "Role" AS ENUM (\'USER\', \'ADMIN\'); CREATE TYPE "Role_new" AS ENUM (\'USER\', \'ADMIN\', \'GUEST\'); '
          'CREATE TABLE "Order" ("id" INT PRIMARY KEY); CREATE TABLE "User" ("id" INT PRIMARY KEY, "role" "Role", '
          '"email" VARCHAR(50)); INSERT INTO "Order" VALUES (1); INSERT INTO "User" VALUES (1, \'ADMIN\', \'a@b\');',
)
