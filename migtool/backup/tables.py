"""Which tables a backup holds and how many rows: the SQL to ask, and the comparison after a restore.

Exact `count(*)` reads every table, so it is taken only when the tables are small (at most
EXACT_COUNT_MAX_BYTES of heap in all); larger databases record pg_class.reltuples estimates. A
restore test compares exact counts strictly and estimates only as a warning, because an estimate
can be far off after a bulk load that autovacuum has not analysed yet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from migtool.backup.manifest import TableInfo

EXACT_COUNT_MAX_BYTES = 256 * 1024 * 1024
ESTIMATE_TOLERANCE = 0.2  # a warning beyond 20% (and beyond ESTIMATE_SLACK rows)
ESTIMATE_SLACK = 1000

# Ordinary tables (partitions included, their parents not: those hold no rows of their own) that
# pg_dump dumps the data of: not system schemas, not tables that belong to an extension.
TABLES_SQL = """
SELECT n.nspname AS schema, c.relname AS name, c.reltuples::bigint AS estimated_rows,
       pg_relation_size(c.oid) AS heap_bytes, has_table_privilege(c.oid, 'SELECT') AS readable
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def table_key(schema: str, name: str) -> str:
    """'"schema"."name"': unambiguous where 'schema.name' is not ("a.b".c and a."b.c" differ)."""
    return f"{quote_ident(schema)}.{quote_ident(name)}"


_KEY_RE = re.compile(r'"((?:[^"]|"")*)"\."((?:[^"]|"")*)"')


def display_key(key: str) -> str:
    """'"public"."Orders"' -> 'public.Orders' for people; kept quoted when a dot makes it ambiguous."""
    m = _KEY_RE.fullmatch(key)
    if not m:
        return key
    schema, name = (g.replace('""', '"') for g in m.groups())
    return key if "." in schema or "." in name else f"{schema}.{name}"


def count_sql(tables: Iterable[tuple[str, str]]) -> str | None:
    """One query counting every table: rows of {tbl: table_key, n: count}. None if no tables."""
    parts = [
        f"SELECT {quote_literal(table_key(s, n))} AS tbl, count(*) AS n FROM {table_key(s, n)}"
        for s, n in tables
    ]
    return "\nUNION ALL\n".join(parts) if parts else None


def wants_exact_counts(rows: list[dict]) -> bool:
    return sum(int(r.get("heap_bytes") or 0) for r in rows) <= EXACT_COUNT_MAX_BYTES


@dataclass(frozen=True)
class Comparison:
    problems: list[str]  # the restored database differs from the manifest
    warnings: list[str]  # differences we cannot call wrong (estimates)
    compared: int  # tables whose exact counts matched


def compare_tables(expected: Iterable[TableInfo], row_counts: str, restored: dict[str, int]) -> Comparison:
    """Compare the manifest's tables with the restored database's exact counts (table_key -> n)."""
    problems: list[str] = []
    warnings: list[str] = []
    compared = 0
    expected = list(expected)
    if row_counts == "none":  # e.g. made by scripts/backup/postgres-backup.sh: no table list to hold it to
        return Comparison([], [f"the manifest lists no tables; {len(restored)} tables restored, none compared"], 0)
    names = {t.key for t in expected}
    missing = sorted(names - set(restored))
    extra = sorted(set(restored) - names)
    if missing:
        problems.append(f"tables missing after restore: {', '.join(display_key(k) for k in missing)}")
    if extra:
        problems.append(f"tables not in the manifest appeared: {', '.join(display_key(k) for k in extra)}")
    for t in expected:
        got = restored.get(t.key)
        if got is None:
            continue
        if row_counts == "exact" and t.rows is not None:
            if got != t.rows:
                problems.append(f"{t.qualified}: {got} rows restored, {t.rows} dumped")
            else:
                compared += 1
        elif t.estimated_rows is not None:
            diff = abs(got - t.estimated_rows)
            if diff > ESTIMATE_SLACK and diff > ESTIMATE_TOLERANCE * max(t.estimated_rows, 1):
                warnings.append(f"{t.qualified}: {got} rows restored, about {t.estimated_rows} estimated")
    return Comparison(problems, warnings, compared)
