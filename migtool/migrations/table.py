"""Read `_prisma_migrations` through the narrow Database interface (compose or direct alike)."""

from __future__ import annotations

from dataclasses import dataclass

from migtool.database import Database
from migtool.errors import MigtoolError
from migtool.migrations.state import MigrationRow

TABLE = "_prisma_migrations"

# Prisma Migrate serialises deploys with this advisory lock (pg_advisory_lock(72707369)); a bigint
# key below 2^32 shows in pg_locks as classid 0, objid KEY, objsubid 1.
PRISMA_LOCK_KEY = 72707369

_PROBE_SQL = f"""
SELECT to_regclass('{TABLE}') IS NOT NULL AS has_table,
       (SELECT coalesce(json_agg(attname::text), '[]'::json) FROM pg_attribute
         WHERE attrelid = to_regclass('{TABLE}') AND attnum > 0 AND NOT attisdropped) AS columns,
       EXISTS (SELECT 1 FROM pg_locks
               WHERE locktype = 'advisory' AND granted
                 AND classid = 0 AND objid = {PRISMA_LOCK_KEY} AND objsubid = 1
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
       ) AS deploy_running
"""

COLUMNS = ("id", "checksum", "finished_at", "migration_name", "logs", "rolled_back_at", "started_at",
           "applied_steps_count")
_COLUMNS = ", ".join(COLUMNS)


@dataclass(frozen=True)
class TableSnapshot:
    rows: tuple[MigrationRow, ...] | None  # None: the table does not exist yet
    deploy_running: bool


def _not_prisma_table(detail: str) -> MigtoolError:
    return MigtoolError(f"{TABLE} does not look like Prisma's migrations table: {detail}",
                        hint=f"inspect it with psql: \\d {TABLE}")


def _probe(db: Database) -> tuple[bool, bool]:
    found = db.query(_PROBE_SQL)[0]
    has_table = bool(found["has_table"])
    if has_table:
        missing = [c for c in COLUMNS if c not in (found["columns"] or [])]
        if missing:
            raise _not_prisma_table("no column " + ", ".join(missing))
    return has_table, bool(found["deploy_running"])


def _parse(raw: list[dict]) -> tuple[MigrationRow, ...]:
    try:
        return tuple(MigrationRow.from_json(r) for r in raw)
    except (KeyError, ValueError, TypeError) as exc:
        raise _not_prisma_table(str(exc)) from None


def read_table(db: Database) -> TableSnapshot:
    """All rows (oldest first), or None for a database Prisma has never migrated."""
    has_table, running = _probe(db)
    if not has_table:
        return TableSnapshot(None, running)
    return TableSnapshot(_parse(db.query(f"SELECT {_COLUMNS} FROM {TABLE} ORDER BY started_at, id")), running)


def read_latest(db: Database, limit: int) -> TableSnapshot:
    """The newest `limit` attempts by started_at (failed and running ones have no finished_at)."""
    has_table, running = _probe(db)
    if not has_table:
        return TableSnapshot(None, running)
    sql = f"SELECT {_COLUMNS} FROM {TABLE} ORDER BY started_at DESC, id DESC LIMIT {int(limit)}"
    return TableSnapshot(_parse(db.query(sql)), running)
