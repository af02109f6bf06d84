"""How many rows differ per table between two databases (the kept pre-rollback copy and the restored
one), so writes that a rollback throws away are counted, never lost silently.

Rows are compared on the columns both copies have (a dropped column would otherwise make every row
differ; such columns are listed on their own). Each row becomes an md5 of its common columns, and the
two multisets are compared: rows only in the kept copy are what was written (or changed) after the
backup; rows only in the restored copy are what was deleted (or changed) since. Tables above
MAX_ROWS rows are compared by count only, to keep this off the critical path's budget.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from migtool.backup.tables import quote_ident
from migtool.database import Database

MAX_ROWS = 200_000

COLUMNS_SQL = """
SELECT n.nspname AS schema, c.relname AS name, a.attname AS col
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
ORDER BY 1, 2, a.attnum
"""


@dataclass
class TableDiff:
    table: str
    kept_rows: int | None  # None: the table is not in that copy
    restored_rows: int | None
    only_in_kept: int | None = None  # None: not compared row by row (too big, or only in one copy)
    only_in_restored: int | None = None
    columns_only_in_kept: list[str] = field(default_factory=list)
    columns_only_in_restored: list[str] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return (self.kept_rows == self.restored_rows and not self.only_in_kept and not self.only_in_restored
                and not self.columns_only_in_kept and not self.columns_only_in_restored)

    def line(self) -> str:
        if self.kept_rows is None:
            return f"{self.table}: only in the restored copy ({self.restored_rows} rows)"
        if self.restored_rows is None:
            return f"{self.table}: only in the kept copy ({self.kept_rows} rows; gone after the rollback)"
        parts = []
        if self.only_in_kept is not None:
            if self.only_in_kept or self.only_in_restored:
                parts.append(f"{self.only_in_kept} rows only in the kept copy (written or changed after the "
                             f"backup), {self.only_in_restored} only in the restored one")
        elif self.kept_rows != self.restored_rows:
            parts.append(f"{self.kept_rows} rows kept, {self.restored_rows} restored (compared by count only)")
        if self.columns_only_in_kept:
            parts.append("columns only in the kept copy: " + ", ".join(self.columns_only_in_kept))
        if self.columns_only_in_restored:
            parts.append("columns only in the restored copy: " + ", ".join(self.columns_only_in_restored))
        return f"{self.table}: " + ("; ".join(parts) if parts else "same rows")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def multiset_difference(a: Counter, b: Counter) -> tuple[int, int]:
    """(elements of a not matched in b, elements of b not matched in a), counting duplicates."""
    return sum((a - b).values()), sum((b - a).values())


def _columns(db: Database) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in db.query(COLUMNS_SQL):
        out.setdefault(f"{r['schema']}.{r['name']}", []).append(r["col"])
    return out


def _ident(table: str) -> str:
    schema, _, name = table.partition(".")
    return f"{quote_ident(schema)}.{quote_ident(name)}"


def _count(db: Database, table: str) -> int:
    return int(db.query(f"SELECT count(*) AS n FROM {_ident(table)}")[0]["n"])


def _hashes(db: Database, table: str, cols: list[str]) -> Counter:
    row = "ROW(" + ", ".join(f"t.{quote_ident(c)}" for c in cols) + ")::text" if cols else "''"
    rows = db.query(f"SELECT md5({row}) AS h, count(*) AS n FROM {_ident(table)} t GROUP BY 1")
    return Counter({r["h"]: int(r["n"]) for r in rows})


def diff_databases(kept: Database, restored: Database, max_rows: int = MAX_ROWS) -> list[TableDiff]:
    kc, rc = _columns(kept), _columns(restored)
    diffs = []
    for table in sorted(set(kc) | set(rc)):
        if table not in kc:
            diffs.append(TableDiff(table, None, _count(restored, table)))
            continue
        if table not in rc:
            diffs.append(TableDiff(table, _count(kept, table), None))
            continue
        common = [c for c in rc[table] if c in kc[table]]
        d = TableDiff(table, _count(kept, table), _count(restored, table),
                      columns_only_in_kept=[c for c in kc[table] if c not in rc[table]],
                      columns_only_in_restored=[c for c in rc[table] if c not in kc[table]])
        if max(d.kept_rows or 0, d.restored_rows or 0) <= max_rows:
            d.only_in_kept, d.only_in_restored = multiset_difference(_hashes(kept, table, common),
                                                                     _hashes(restored, table, common))
        diffs.append(d)
    return diffs


def summary_lines(diffs: list[TableDiff]) -> list[str]:
    changed = [d for d in diffs if not d.same]
    if not changed:
        return [f"all {len(diffs)} tables hold the same rows in the kept and the restored copy"]
    return [d.line() for d in changed] + [f"{len(diffs) - len(changed)} other table(s) hold the same rows"]
