"""Read a table's shape (schema, primary key, columns) and size from the database."""

from __future__ import annotations

import json

import psycopg
from psycopg import sql

from migtool.backfill.plan import BatchPlan, KeyColumn, TableInfo
from migtool.errors import CheckFailed, ConfigError

_FIND = """
SELECT c.oid, n.nspname, c.relname, c.relkind
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = %(name)s AND c.relkind IN ('r', 'p')
  AND (n.nspname = %(schema)s OR (%(schema)s IS NULL AND n.nspname = ANY (current_schemas(false))))
ORDER BY array_position(current_schemas(false), n.nspname::text) NULLS LAST
LIMIT 1
"""

_SIMILAR = """
SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE lower(c.relname) = lower(%(name)s) AND c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1 LIMIT 5
"""

_KEY = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
WHERE i.indrelid = %s AND i.indisprimary
ORDER BY array_position(i.indkey::int2[], a.attnum)
"""

_COLUMNS = """
SELECT attname, attgenerated <> '' FROM pg_attribute
WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum
"""


def split_table_name(text: str) -> tuple[str | None, str]:
    """`schema.table` or `table`; names are taken exactly as written (Prisma's "User" is `User`),
    double quotes allowed around either part."""
    def unquote(part: str) -> str:
        part = part.strip()
        if len(part) >= 2 and part[0] == part[-1] == '"':
            return part[1:-1].replace('""', '"')
        return part

    text = text.strip()
    if text.startswith('"'):
        end = text.find('"', 1)
        while end != -1 and text[end + 1:end + 2] == '"':
            end = text.find('"', end + 2)
        first, rest = text[: end + 1], text[end + 1:]
        if rest.startswith("."):
            return unquote(first), unquote(rest[1:])
        return None, unquote(text)
    if "." in text:
        schema, name = text.split(".", 1)
        return unquote(schema), unquote(name)
    return None, unquote(text)


def describe_table(conn: psycopg.Connection, table: str) -> TableInfo:
    schema, name = split_table_name(table)
    if not name:
        raise ConfigError("--table is empty", hint="migtool backfill --table NAME --set \"col = expr\"")
    row = conn.execute(_FIND, {"name": name, "schema": schema}).fetchone()
    if row is None:
        similar = [r[0] for r in conn.execute(_SIMILAR, {"name": name}).fetchall()]
        hint = f"did you mean {' or '.join(similar)}? names are case-sensitive" if similar else \
            "check the name with: psql -c '\\dt'"
        raise ConfigError(f"table {table!r} not found", hint=hint)
    oid, nsp, relname, relkind = row
    if relkind == "p":
        raise CheckFailed(f"{nsp}.{relname} is a partitioned table",
                          hint="backfill each partition on its own: --table PARTITION_NAME")
    key = tuple(KeyColumn(n, t) for n, t in conn.execute(_KEY, (oid,)).fetchall())
    if not key:
        raise CheckFailed(
            f"{nsp}.{relname} has no primary key: a batched backfill walks the table by primary-key ranges, "
            "and without a unique, not-null key it cannot tell which rows are done",
            hint=f'add one first, e.g. ALTER TABLE "{relname}" ADD PRIMARY KEY (id)')
    cols = conn.execute(_COLUMNS, (oid,)).fetchall()
    return TableInfo(schema=nsp, name=relname, key=key, columns=tuple(c for c, _ in cols),
                     generated=tuple(c for c, g in cols if g))


def estimated_rows(conn: psycopg.Connection, info: TableInfo) -> int:
    """The planner's row count for the whole table (reltuples; -1 when never analysed)."""
    row = conn.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                       (_regclass(info),)).fetchone()
    return int(row[0]) if row else -1


def _regclass(info: TableInfo) -> str:
    return sql.Identifier(info.schema, info.name).as_string(None)


def rows_to_update(conn: psycopg.Connection, plan: BatchPlan, exact_below: int = 200_000) -> tuple[int, bool]:
    """(rows matching the condition, exact?): counted on small tables, the planner's estimate on large."""
    total = estimated_rows(conn, plan.table)
    try:
        if 0 <= total < exact_below:
            return int(conn.execute(plan.remaining_query()).fetchone()[0]), True
        if total < 0:  # never analysed: the estimate would be a guess
            return int(conn.execute(plan.remaining_query()).fetchone()[0]), True
        doc = conn.execute(plan.estimate_query()).fetchone()[0]
    except psycopg.errors.InsufficientPrivilege:
        raise
    except (psycopg.ProgrammingError, psycopg.DataError) as exc:
        # The first query that runs the condition: a typo in --where (an unknown column or
        # function, a type mismatch) is the user's to fix, not a crash.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"--where does not run on {plan.table.qualified}: {first}",
                          hint="fix --where (names are case-sensitive: quote them, \"emailLower\"); "
                               "--dry-run checks it without changing anything") from None
    if isinstance(doc, str):
        doc = json.loads(doc)
    return int(doc[0]["Plan"]["Plan Rows"]), False
