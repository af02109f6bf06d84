"""add-foreign-key: clean the data first (a query that finds orphan rows), add the constraint
NOT VALID (brief lock, no scan), then VALIDATE CONSTRAINT in its own migration (no write lock)."""

from __future__ import annotations

from migtool.errors import ConfigError
from migtool.plan.model import LOCK_TIMEOUT, Migration, Plan, Release, header
from migtool.plan.naming import foreign_key_name, qi, slug
from migtool.plan.schema import Schema


def orphans_sql(table: str, column: str, ref_table: str, ref_column: str) -> str:
    """Rows whose value has no parent: they make VALIDATE CONSTRAINT fail."""
    return (f"SELECT c.{qi(column)}, count(*) AS rows FROM {qi(table)} AS c "
            f"LEFT JOIN {qi(ref_table)} AS p ON p.{qi(ref_column)} = c.{qi(column)} "
            f"WHERE c.{qi(column)} IS NOT NULL AND p.{qi(ref_column)} IS NULL GROUP BY 1 ORDER BY 2 DESC")


def resolve_reference(schema: Schema, reference: str) -> tuple[str, str]:
    """REFTABLE or REFTABLE.COL -> (table, column); the default column is the single-column primary key."""
    ref_table, _, ref_column = reference.partition(".")
    t = schema.table(ref_table)
    if ref_column:
        schema.column(ref_table, ref_column)
        return ref_table, ref_column
    if len(t.primary_key) != 1:
        raise ConfigError(f'table "{ref_table}" has no single-column primary key to reference',
                          hint=f"name the column: {ref_table}.COLUMN")
    return ref_table, t.primary_key[0]


def build(schema: Schema, table: str, column: str, reference: str, *, command: str,
          orphans: int | None = None) -> Plan:
    col = schema.column(table, column)
    ref_table, ref_column = resolve_reference(schema, reference)
    name = foreign_key_name(table, [column])
    tq, cq = qi(table), qi(column)
    # Prisma's referential actions: RESTRICT on delete for a required relation, SET NULL for an optional one.
    on_delete = "RESTRICT" if col.not_null else "SET NULL"
    add = Migration(f"add_{slug(table, column)}_fkey", header(
        "Added NOT VALID: enforced for new and updated rows at once, existing rows are not scanned, so the",
        f"SHARE ROW EXCLUSIVE locks on {tq} and {qi(ref_table)} are held only for a moment.",
    ) + f"{LOCK_TIMEOUT}\n\n-- AddForeignKey\nALTER TABLE {tq} ADD CONSTRAINT {qi(name)} FOREIGN KEY ({cq}) "
        f"REFERENCES {qi(ref_table)}({qi(ref_column)}) ON DELETE {on_delete} ON UPDATE CASCADE NOT VALID;\n",
        "ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID (brief lock, no scan)")
    validate = Migration(f"validate_{slug(table, column)}_fkey", header(
        f"VALIDATE scans {tq} under SHARE UPDATE EXCLUSIVE (and {qi(ref_table)} under ROW SHARE):",
        "reads and writes continue. It fails if an orphan row exists: clean the data first.",
    ) + f"-- ValidateForeignKey\nALTER TABLE {tq} VALIDATE CONSTRAINT {qi(name)};\n",
        "VALIDATE the foreign key (no write lock)")
    query = orphans_sql(table, column, ref_table, ref_column)
    found = ("" if orphans is None else
             f" (when planned: {orphans} orphan rows)" if orphans else " (when planned: none)")
    relation = ref_table[0].lower() + ref_table[1:]
    optional = "" if col.not_null else "?"
    releases = [Release(
        "add the foreign key",
        ["No change needed: rows that code writes must already point at existing rows."],
        [f"model {table} {{",
         f"  {relation} {ref_table}{optional} @relation(fields: [{column}], references: [{ref_column}])", "}",
         f"model {ref_table} {{", f"  {relation[0].lower()}{table[1:]}s {table}[]  // the back-relation", "}"],
        [add, validate],
        before_deploy=[f"no orphan rows{found}: `{query};` returns nothing (delete them, point them at an "
                       f"existing row, or set {cq} to NULL)"])]
    notes = [f"PostgreSQL does not index {cq} for the foreign key; deletes from {qi(ref_table)} and joins scan "
             f"{tq} without one: `migtool plan add-index {table} {column}`"]
    if any(i.columns and i.columns[0] == column for i in schema.table(table).indexes):
        notes = []
    if orphans:
        notes.insert(0, f"{orphans} orphan rows exist now: VALIDATE CONSTRAINT fails until they are cleaned.")
    return Plan("add-foreign-key", f"add foreign key {tq}.{cq} -> {qi(ref_table)}.{qi(ref_column)}", command,
                releases, notes, schema.source)
