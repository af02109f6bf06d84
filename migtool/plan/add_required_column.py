"""add-required-column: a NOT NULL column that old code's inserts do not know about.

add it nullable -> backfill -> release code that always sets it -> DEFAULT + CHECK (col IS NOT NULL)
NOT VALID -> catch up -> VALIDATE (its own migration) -> SET NOT NULL, drop the redundant CHECK.
The DEFAULT comes with the CHECK, as in the example's migrations: an old instance still inserting
without the column then gets the default instead of an error.
"""

from __future__ import annotations

from migtool.errors import ConfigError
from migtool.plan.backfill import backfill_command, backfill_sql, is_small
from migtool.plan.model import LOCK_TIMEOUT, Migration, Plan, Release, header
from migtool.plan.naming import not_null_check_name, prisma_default, prisma_type, qi, slug
from migtool.plan.schema import Schema, closest
from migtool.plan.sqltext import column_type, default_expression


def ensure_new_column(schema: Schema, table: str, column: str) -> None:
    t = schema.table(table)
    if column in t.columns:
        raise ConfigError(f'column "{column}" already exists in table "{table}" ({schema.source})',
                          hint="pick another name, or plan the change of the existing column "
                               "(migtool plan change-column-type / rename-column)")
    near = closest(column, list(t.columns))
    if near is not None and near.lower() == column.lower():
        raise ConfigError(f'table "{table}" already has a column "{near}"; "{column}" differs only in case',
                          hint="use the existing column, or a clearly different name")


def build(schema: Schema, table: str, column: str, type_text: str, default: str, *, batch_size: int,
          command: str) -> Plan:
    ensure_new_column(schema, table, column)
    t = schema.table(table)
    sql_type = column_type(type_text)
    value = default_expression(default)
    tq, cq = qi(table), qi(column)
    s = slug(table, column)
    check = not_null_check_name(table, column)
    field = f"{column} {prisma_type(sql_type)}"
    model = f"model {table} {{"

    add = Migration(f"add_{s}", header(
        f"Expand: add {cq} as a nullable column with no default: a catalog-only change (no table rewrite,",
        "the lock is held for milliseconds). Code that does not know the column keeps working.",
    ) + f"{LOCK_TIMEOUT}\n\n-- AlterTable\nALTER TABLE {tq} ADD COLUMN {cq} {sql_type};\n",
        f"add {cq} as a nullable column (catalog-only, brief lock)")
    where = f"{cq} IS NULL"
    assignment = f"{cq} = {value}"
    backfill = Migration(f"backfill_{s}", backfill_sql(
        t, assignment, where, batch_size, f"{table}.{column}",
        f"Backfill {cq} of existing rows with {value}."),
        "backfill existing rows " + ("(one UPDATE: small table)" if is_small(t) else
                                     f"(batches of {batch_size}, each committed)"))
    default_and_check = Migration(f"{s}_default_and_check", header(
        "Contract, step 1: a default, so an old instance inserting without the column still writes a value;",
        "then CHECK (... IS NOT NULL) NOT VALID: enforced for new and updated rows at once, existing rows",
        "are not scanned, so the ACCESS EXCLUSIVE lock is held only for a moment.",
    ) + f"{LOCK_TIMEOUT}\n\n-- AlterTable\nALTER TABLE {tq} ALTER COLUMN {cq} SET DEFAULT {value};\n\n"
        f"-- AddCheckConstraint\nALTER TABLE {tq} ADD CONSTRAINT {qi(check)} CHECK ({cq} IS NOT NULL) NOT VALID;\n",
        f"SET DEFAULT {value}, and CHECK ({cq} IS NOT NULL) NOT VALID (brief lock, no scan)")
    catch_up = Migration(f"backfill_{s}_remaining", header(
        "Contract, step 2: rows the previous release inserted after the backfill (normally few).",
    ) + f"-- migtool:allow backfill-in-migration catch-up of the rows inserted since the backfill only\n"
        f"UPDATE {tq} SET {assignment} WHERE {where};\n",
        "catch up rows inserted since the backfill")
    validate = Migration(f"validate_{s}_not_null", header(
        "Contract, step 3: VALIDATE scans the table under SHARE UPDATE EXCLUSIVE: reads and writes continue.",
    ) + f"-- ValidateCheckConstraint\nALTER TABLE {tq} VALIDATE CONSTRAINT {qi(check)};\n",
        "VALIDATE the check (scans without blocking writes)")
    set_not_null = Migration(f"{s}_set_not_null", header(
        "Contract, step 4: with the validated CHECK in place PostgreSQL 12+ sets NOT NULL without a scan,",
        "so the ACCESS EXCLUSIVE lock is brief; the CHECK is redundant afterwards.",
    ) + f"{LOCK_TIMEOUT}\n\n-- AlterTable\nALTER TABLE {tq} ALTER COLUMN {cq} SET NOT NULL;\n\n"
        f"-- DropCheckConstraint\nALTER TABLE {tq} DROP CONSTRAINT {qi(check)};\n",
        "SET NOT NULL (no scan thanks to the check), drop the check")

    big_note = [] if is_small(t) else [
        f"For a very big {tq}, leave the backfill folder out of release 2 and run the backfill outside the "
        f"deploy once release 2 runs everywhere (resumable, batches sized by time): "
        f"`{backfill_command(t, assignment, where)}`"]
    releases = [
        Release("expand", ["No change needed: old code never names the column.",
                           f"Code may start reading {cq}; it is NULL for old rows until the backfill."],
                [model, f"  {field}?", "}"], [add]),
        Release("code that always sets the column, and the backfill",
                [f"Set {cq} on every insert (for example `{column}: input.{column} ?? {_js_default(value)}`) and "
                 "never write NULL to it.",
                 "The backfill runs before this release starts; rows the previous release inserts meanwhile are "
                 "caught up in release 3."],
                [model, f"  {field}?  // still optional here: old rows are being backfilled", "}"], [backfill]),
        Release("contract: enforce NOT NULL",
                [f"Nothing new: the previous release already sets {cq}. The Prisma field becomes required."],
                [model, f"  {field} {prisma_default(value)}", "}"],
                [default_and_check, catch_up, validate, set_not_null],
                before_deploy=["release 2 runs on every instance (no instance of release 1 is left)"]),
    ]
    notes = [f"{tq} is {'small' if is_small(t) else 'big or of unknown size'} "
             f"({'about ' + str(t.rows) + ' rows' if t.rows is not None else 'no row estimate'}): "
             + ("the backfill is one UPDATE." if is_small(t) else "the backfill runs in committed batches."),
             *big_note,
             "On PostgreSQL 11+ a constant default could also be added at once "
             f"(ALTER TABLE {tq} ADD COLUMN {cq} {sql_type} NOT NULL DEFAULT {value}, catalog-only); this plan "
             "keeps the phases so a volatile default works too and every existing row gets a real value."]
    return Plan("add-required-column", f"add required column {tq}.{cq}", command, releases, notes, schema.source)


def _js_default(value: str) -> str:
    if value.startswith("'") and value.endswith("'"):
        return '"' + value[1:-1].replace("''", "'") + '"'
    return value
