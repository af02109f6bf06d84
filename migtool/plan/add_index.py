"""add-index: CREATE [UNIQUE] INDEX CONCURRENTLY, alone in its migration file (Prisma runs a file of
several statements as one transaction, and CONCURRENTLY refuses to run in one)."""

from __future__ import annotations

from migtool.errors import ConfigError
from migtool.plan.model import Migration, Plan, Release, header
from migtool.plan.naming import index_name, qi, slug
from migtool.plan.schema import Schema


def duplicates_sql(table: str, columns: list[str]) -> str:
    cols = ", ".join(qi(c) for c in columns)
    not_null = " AND ".join(f"{qi(c)} IS NOT NULL" for c in columns)
    return f"SELECT {cols}, count(*) FROM {qi(table)} WHERE {not_null} GROUP BY {cols} HAVING count(*) > 1"


def build(schema: Schema, table: str, columns: list[str], *, unique: bool, command: str,
          duplicates: int | None = None) -> Plan:
    if not columns:
        raise ConfigError("no columns given", hint=f"migtool plan add-index {table} COLUMN[,COLUMN...]")
    for c in columns:
        schema.column(table, c)
    t = schema.table(table)
    for idx in t.indexes:
        if idx.columns == columns and (idx.unique or not unique):
            raise ConfigError(f'table "{table}" already has index "{idx.name}" on ({", ".join(columns)})',
                              hint="nothing to plan")
    name = index_name(table, columns, unique)
    if any(i.name == name for i in t.indexes):
        raise ConfigError(f'an index named "{name}" already exists on "{table}"', hint="nothing to plan")
    kw = "UNIQUE INDEX" if unique else "INDEX"
    cols = ", ".join(qi(c) for c in columns)
    create = Migration(f"{slug(table, *columns)}_{'key' if unique else 'idx'}", header(
        "CreateIndex",
        f"Built CONCURRENTLY so writes to {qi(table)} keep flowing while the index builds. CONCURRENTLY",
        "cannot run inside a transaction, and Prisma sends a file of several statements as one",
        "transaction, so this must stay the ONLY statement of its migration file.",
        "If the build fails it leaves an INVALID index behind: drop it",
        f"(DROP INDEX CONCURRENTLY {qi(name)}), mark this migration rolled back",
        "(prisma migrate resolve --rolled-back NAME) and deploy again.",
    ) + f"CREATE {kw} CONCURRENTLY {qi(name)} ON {qi(table)}({cols});\n",
        f"CREATE {kw} CONCURRENTLY {qi(name)} (alone in its file)")
    attr = "@@unique" if unique else "@@index"
    before = []
    if unique:
        found = ("" if duplicates is None else
                 f" (when planned: {duplicates} duplicated values)" if duplicates else " (when planned: none)")
        before.append(f"no duplicates{found}: `{duplicates_sql(table, columns)};` returns nothing")
    notes = []
    if duplicates:
        notes.append(f"{duplicates} duplicated values exist now: the unique build fails until they are cleaned.")
    release = Release("add the index", ["No change needed."],
                      [f"model {table} {{", f"  {attr}([{', '.join(columns)}])", "}"], [create], before)
    return Plan("add-index", f"add {'unique ' if unique else ''}index {qi(name)} on {qi(table)} ({cols})",
                command, [release], notes, schema.source)
