"""rename-column and change-column-type share one shape: a new column beside the old one, kept in
sync by a trigger while both releases run, backfilled in batches, then reads switch to it and the old
column is dropped in a later (contract) release.

The trigger copies whichever column a writer changed into the other, so old code (writing only the
old column) and new code (writing only the new one) can run side by side.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from migtool.errors import ConfigError
from migtool.plan.add_required_column import ensure_new_column
from migtool.plan.backfill import backfill_command, backfill_sql, is_small
from migtool.plan.model import LOCK_TIMEOUT, Migration, Plan, Release, header
from migtool.plan.naming import (
    index_name,
    not_null_check_name,
    prisma_default,
    prisma_type,
    qi,
    slug,
    sync_function_name,
)
from migtool.plan.schema import Column, Schema, Table
from migtool.plan.sqltext import canonical_type, column_type


@dataclass
class Copy:
    kind: str
    table: Table
    old: Column
    new_name: str
    new_type: str
    field_name: str  # the Prisma field name after the switch
    trigger: bool = True

    @property
    def to_new(self) -> str:
        """old -> new as SQL (a cast when the type changes)."""
        return f"NEW.{qi(self.old.name)}" + ("" if self.new_type == self.old.type else f"::{self.new_type}")

    @property
    def to_old(self) -> str:
        return f"NEW.{qi(self.new_name)}" + ("" if self.new_type == self.old.type else f"::{self.old.type}")


def type_slug(sql_type: str) -> str:
    word = re.match(r"\s*\"?([A-Za-z_][A-Za-z0-9_ ]*)", sql_type)
    return slug(word.group(1)) if word else "new"


def _sync_sql(c: Copy) -> str:
    fn = qi(sync_function_name(c.table.name, c.old.name, c.new_name))
    o, n = qi(c.old.name), qi(c.new_name)
    return f"""-- Keep both columns written while old and new code run side by side: whichever column a
-- statement sets is copied into the other one.
CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.{n} IS NULL THEN
            NEW.{n} := {c.to_new};
        ELSIF NEW.{o} IS NULL THEN
            NEW.{o} := {c.to_old};
        END IF;
    ELSIF NEW.{o} IS DISTINCT FROM OLD.{o} AND NEW.{n} IS NOT DISTINCT FROM OLD.{n} THEN
        NEW.{n} := {c.to_new};
    ELSIF NEW.{n} IS DISTINCT FROM OLD.{n} AND NEW.{o} IS NOT DISTINCT FROM OLD.{o} THEN
        NEW.{o} := {c.to_old};
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER {fn} BEFORE INSERT OR UPDATE ON {qi(c.table.name)}
    FOR EACH ROW EXECUTE FUNCTION {fn}();
"""


def build_copy(c: Copy, schema: Schema, *, batch_size: int, command: str, title: str) -> Plan:
    t, tq = c.table, qi(c.table.name)
    o, n = qi(c.old.name), qi(c.new_name)
    s = slug(t.name, c.new_name)
    model = f"model {t.name} {{"
    cast = "" if c.new_type == c.old.type else f"::{c.new_type}"
    fn = sync_function_name(t.name, c.old.name, c.new_name)

    add_sql = header(
        f"Expand: add {n} beside {o}, nullable and without a default (catalog-only, brief lock).",
    ) + f"{LOCK_TIMEOUT}\n\n-- AlterTable\nALTER TABLE {tq} ADD COLUMN {n} {c.new_type};\n"
    if c.trigger:
        add_sql += "\n" + _sync_sql(c)
    add = Migration(f"add_{s}", add_sql, f"add {n} ({c.new_type}, nullable)"
                    + (" and the trigger that keeps both columns written" if c.trigger else ""))
    assignment = f"{n} = {o}{cast}"
    where = f"{n} IS DISTINCT FROM {o}{cast}"
    backfill = Migration(f"backfill_{s}", backfill_sql(t, assignment, where, batch_size, f"{t.name}.{c.new_name}",
                                                       f"Backfill {n} from {o}{' with the cast' if cast else ''}."),
                         f"copy {o} into {n} for existing rows"
                         + (" (one UPDATE: small table)" if is_small(t) else f" (batches of {batch_size})"))

    indexes = []
    for idx in t.indexes:
        if c.old.name not in idx.columns or idx.columns == t.primary_key:
            continue
        cols = [c.new_name if col == c.old.name else col for col in idx.columns]
        name = index_name(t.name, cols, idx.unique)
        unique = "UNIQUE " if idx.unique else ""
        indexes.append(Migration(f"{slug(t.name, *cols)}_{'key' if idx.unique else 'idx'}", header(
            f"The copy of {qi(idx.name)} for {n}. CONCURRENTLY keeps writes flowing; it cannot run in a",
            "transaction, so it is the only statement of this file. If it fails it leaves an INVALID index:",
            f"DROP INDEX CONCURRENTLY {qi(name)}, mark this migration rolled back, deploy again.",
        ) + f"CREATE {unique}INDEX CONCURRENTLY {qi(name)} ON {tq}({', '.join(qi(x) for x in cols)});\n",
            f"CREATE {unique}INDEX CONCURRENTLY {qi(name)} (the copy of {qi(idx.name)})"))

    not_null = []
    check = not_null_check_name(t.name, c.new_name)
    if c.old.not_null:
        not_null = [
            Migration(f"{s}_not_null_check", header(
                f"{o} is NOT NULL, so {n} becomes NOT NULL too: first a CHECK added NOT VALID (no scan, brief lock).",
            ) + f"{LOCK_TIMEOUT}\n\n-- AddCheckConstraint\n"
                f"ALTER TABLE {tq} ADD CONSTRAINT {qi(check)} CHECK ({n} IS NOT NULL) NOT VALID;\n",
                f"CHECK ({n} IS NOT NULL) NOT VALID"),
            Migration(f"validate_{s}_not_null", header(
                "VALIDATE scans under SHARE UPDATE EXCLUSIVE: reads and writes continue.",
            ) + f"-- ValidateCheckConstraint\nALTER TABLE {tq} VALIDATE CONSTRAINT {qi(check)};\n",
                "VALIDATE the check (no write lock)"),
            Migration(f"{s}_set_not_null", header(
                "With the validated CHECK, PostgreSQL 12+ sets NOT NULL without a scan; then drop the CHECK.",
            ) + f"{LOCK_TIMEOUT}\n\n-- AlterTable\nALTER TABLE {tq} ALTER COLUMN {n} SET NOT NULL;\n\n"
                f"-- DropCheckConstraint\nALTER TABLE {tq} DROP CONSTRAINT {qi(check)};\n",
                f"SET NOT NULL on {n} (no scan), drop the check"),
        ]

    drop_sql = header(
        f"Contract: {o} is no longer used by the running release. Back up first (migtool backup).",
    ) + f"{LOCK_TIMEOUT}\n\n"
    if c.trigger:
        drop_sql += (f"DROP TRIGGER {qi(fn)} ON {tq};\n\nDROP FUNCTION {qi(fn)}();\n\n")
    if c.old.default is not None and not c.old.default.startswith("nextval("):
        default = c.old.default if not cast else f"({c.old.default}){cast}"
        drop_sql += f"-- AlterTable\nALTER TABLE {tq} ALTER COLUMN {n} SET DEFAULT {default};\n\n"
    drop_sql += (f"-- migtool:allow drop-column contract step of `{command}`: no running release uses it, "
                 f"backed up first\nALTER TABLE {tq} DROP COLUMN {o};\n")
    drop = Migration(f"drop_{slug(t.name, c.old.name)}", drop_sql,
                     ("drop the trigger, " if c.trigger else "") + f"drop {o}"
                     + (f" and move its default to {n}" if "SET DEFAULT" in drop_sql else ""))

    new_field = f"{c.field_name} {prisma_type(c.new_type)}{'' if c.old.not_null else '?'}"
    if c.field_name != c.new_name:
        new_field += f' @map("{c.new_name}")'
    if c.old.default is not None and not c.old.default.startswith("nextval("):
        new_field += " " + prisma_default(c.old.default)
    if any(i.unique and i.columns == [c.old.name] for i in t.indexes):
        new_field += " @unique"
    old_field = f"{c.old.name} {prisma_type(c.old.type)}{'' if c.old.not_null else '?'}"
    release1_code = (["No change needed: the trigger fills the new column from the old one."] if c.trigger else
                     [f"Write both {o} and {n} on every insert and update (no trigger keeps them in sync)."])
    if c.trigger:
        first = [add, backfill, *indexes]
        releases = [
            Release("expand", release1_code,
                    [model, f"  {old_field}",
                     f"  {c.new_name} {prisma_type(c.new_type)}?  // optional in this release", "}"], first),
        ]
    else:
        releases = [
            Release("expand", release1_code,
                    [model, f"  {old_field}", f"  {c.new_name} {prisma_type(c.new_type)}?", "}"], [add]),
            Release("backfill", ["Keep writing both columns."], [], [backfill, *indexes],
                    before_deploy=["release 1 (writing both columns) runs on every instance"]),
        ]
    releases += [
        Release("switch reads and writes to the new column",
                [f"Read {n} instead of {o}.",
                 (f"Write {n}; {o} may stay unwritten (the trigger still fills it for the previous release)."
                  if c.trigger else f"Keep writing both {o} and {n}."),
                 f"Remove {o} from the Prisma model (nothing may select it by name after this release)."],
                [model, f"  {new_field}", f"  // {old_field}  <- removed", "}"], not_null,
                before_deploy=[f"the backfill finished: SELECT count(*) FROM {tq} WHERE {where}; returns 0"]),
        Release("contract: drop the old column",
                ["No code change: the previous release no longer names the old column."], [], [drop],
                before_deploy=[f"no code reads or writes {o} any more (search the code and raw SQL for it)",
                               "the previous release runs on every instance",
                               "a fresh verified backup: `migtool backup --reason before-drop-"
                               f"{slug(t.name, c.old.name).replace('_', '-')}` then `migtool backups verify latest`"]),
    ]
    notes = []
    if not is_small(t):
        notes.append(f"For a very big {tq}, leave the backfill folder out and run the backfill outside the deploy "
                     f"once the trigger is in place (resumable, batches sized by time): "
                     f"`{backfill_command(t, assignment, where)}`")
    if cast:
        notes.append(f"A value the cast {o}{cast} rejects makes the backfill fail with the row's error; committed "
                     f"batches stay. Find such rows first, fix them, and deploy again.")
    other = [i for i in t.indexes if c.old.name in i.columns and i.columns != t.primary_key]
    if other:
        notes.append("Indexes on the old column, copied for the new one: " + ", ".join(qi(i.name) for i in other)
                     + "; the old ones go with the column.")
    if c.old.name in t.primary_key:
        notes.append(f"{o} is (part of) the primary key: this plan does not move the primary key; do that by hand.")
    if t.referenced_by:
        notes.append("Foreign keys that reference the table (check whether they use the old column): "
                     + ", ".join(qi(name) for _, name in t.referenced_by))
    return Plan(c.kind, title, command, releases, notes, schema.source)


def build_rename(schema: Schema, table: str, old: str, new: str, *, batch_size: int, command: str,
                 trigger: bool = True) -> Plan:
    col = schema.column(table, old)
    ensure_new_column(schema, table, new)
    c = Copy("rename-column", schema.table(table), col, new, col.type, new, trigger)
    return build_copy(c, schema, batch_size=batch_size, command=command,
                      title=f"rename column {qi(table)}.{qi(old)} to {qi(new)}")


def build_change_type(schema: Schema, table: str, column: str, new_type: str, *, batch_size: int, command: str,
                      new_name: str | None = None, trigger: bool = True) -> Plan:
    col = schema.column(table, column)
    sql_type = column_type(new_type)
    if canonical_type(sql_type) == canonical_type(col.type):
        raise ConfigError(f'column "{table}"."{column}" already has type {col.type}', hint="nothing to plan")
    name = new_name or f"{column}_{type_slug(sql_type)}"
    ensure_new_column(schema, table, name)
    c = Copy("change-column-type", schema.table(table), col, name, sql_type, column, trigger)
    return build_copy(c, schema, batch_size=batch_size, command=command,
                      title=f"change the type of {qi(table)}.{qi(column)} from {col.type} to {sql_type}")
