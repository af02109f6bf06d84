"""drop-column and drop-table: the contract step, after a release that no longer uses the object, with
its checklist (no code uses it, a fresh verified backup exists; for a table, the soft-delete option)."""

from __future__ import annotations

from migtool.plan.model import LOCK_TIMEOUT, Migration, Plan, Release, header
from migtool.plan.naming import prisma_type, qi, slug
from migtool.plan.schema import Schema


def _backup_items(what: str) -> list[str]:
    reason = f"before-drop-{what.replace('_', '-')}"
    return [f"a fresh verified backup: `migtool backup --reason {reason}` then `migtool backups verify latest`",
            "the way back is known: `migtool rollback --before <this migration's folder>`, or "
            "`migtool rollback --to BACKUP` (BACKUP: the file name `migtool backup` printed)"]


def build_drop_column(schema: Schema, table: str, column: str, *, command: str) -> Plan:
    col = schema.column(table, column)
    tq, cq = qi(table), qi(column)
    s = slug(table, column)
    releases = []
    stop_using = Release(
        "stop using the column",
        [f"Remove every read and write of {cq}: delete the field from the Prisma model (or mark it @ignore) "
         "and search raw SQL for it."],
        [f"model {table} {{", f"  // {column} {prisma_type(col.type)}  <- removed (or: add @ignore)", "}"])
    if col.not_null and col.default is None:
        # The release that stops writing the column would fail its inserts on a NOT NULL column.
        stop_using.migrations.append(Migration(f"{s}_drop_not_null", header(
            f"{cq} is NOT NULL without a default: the release that stops writing it needs it nullable.",
            "DROP NOT NULL only changes the catalog (brief lock, no scan).",
        ) + f"{LOCK_TIMEOUT}\n\n-- AlterTable\nALTER TABLE {tq} ALTER COLUMN {cq} DROP NOT NULL;\n",
            f"DROP NOT NULL on {cq} so inserts that omit it work"))
    releases.append(stop_using)
    drop = Migration(f"drop_{s}", header(
        f"Contract: drop {cq}; the running release no longer uses it. Its data is gone after this: back up first.",
    ) + f"{LOCK_TIMEOUT}\n\n-- AlterTable\n-- migtool:allow drop-column contract step of `{command}`: unused by the "
        f"running release, backed up first\nALTER TABLE {tq} DROP COLUMN {cq};\n",
        f"DROP COLUMN {cq} (brief lock; the data is gone)")
    releases.append(Release(
        "contract: drop the column", ["No code change."], [], [drop],
        before_deploy=[f"no code reads or writes {cq} (search the code, raw SQL, reports and ETL jobs)",
                       "the previous release runs on every instance", *_backup_items(s)]))
    notes = []
    t = schema.table(table)
    gone = [i.name for i in t.indexes if column in i.columns]
    if gone:
        notes.append("These indexes go with the column: " + ", ".join(qi(n) for n in gone))
    return Plan("drop-column", f"drop column {tq}.{cq}", command, releases, notes, schema.source)


def build_drop_table(schema: Schema, table: str, *, command: str) -> Plan:
    t = schema.table(table)
    tq = qi(table)
    s = slug(table)
    body = f"{LOCK_TIMEOUT}\n\n"
    for other, constraint in t.referenced_by:
        if other == table:
            continue
        body += (f"-- DropForeignKey: {qi(other)} keeps its column, without the constraint\n"
                 f"ALTER TABLE {qi(other)} DROP CONSTRAINT {qi(constraint)};\n\n")
    body += (f"-- DropTable\n-- migtool:allow drop-table contract step of `{command}`: unused by the running release, "
             f"backed up first\nDROP TABLE {tq};\n")
    drop = Migration(f"drop_{s}", header(
        f"Contract: drop {tq}; the running release no longer uses it. Its data is gone after this: back up first.",
    ) + body, f"DROP TABLE {tq}" + (" (and the foreign keys that reference it)" if t.referenced_by else ""))
    releases = [
        Release("stop using the table",
                [f"Remove every read and write of {tq}: delete `model {table}` and its relation fields from "
                 "schema.prisma, and search raw SQL for it."],
                [f"// model {table} {{ ... }}  <- removed"]),
        Release("contract: drop the table", ["No code change."], [], [drop],
                before_deploy=[f"no code reads or writes {tq} (search the code, raw SQL, reports and ETL jobs)",
                               "the previous release runs on every instance", *_backup_items(s)]),
    ]
    notes = [f"Soft-delete alternative: keep the data reachable for a while with "
             f"`ALTER TABLE {tq} RENAME TO {qi(table + '_deprecated')};` in the contract release, and drop that "
             "table a few releases later, once nobody asked for it.",
             f"{tq} holds {'about ' + str(t.rows) + ' rows' if t.rows is not None else 'an unknown number of rows'}."]
    if t.referenced_by:
        notes.append("Referenced by: " + ", ".join(f"{qi(o)} ({qi(c)})" for o, c in t.referenced_by)
                     + "; those constraints are dropped first, in the same migration.")
    return Plan("drop-table", f"drop table {tq}", command, releases, notes, schema.source)
