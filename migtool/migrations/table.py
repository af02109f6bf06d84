"""Read `_prisma_migrations` through the narrow Database interface (compose or direct alike).

The table is always named with its schema (`"MySchema"._prisma_migrations`), quoted, so a
mixed-case Prisma schema is found on both targets whatever the session's search_path is.
"""

from __future__ import annotations

from dataclasses import dataclass

from migtool.database import Database, quote_identifier
from migtool.errors import EnvironmentProblem, ExitCode, MigtoolError
from migtool.migrations.state import MigrationRow

TABLE = "_prisma_migrations"

# Prisma Migrate serialises deploys with this advisory lock (pg_advisory_lock(72707369)); a bigint
# key below 2^32 shows in pg_locks as classid 0, objid KEY, objsubid 1.
PRISMA_LOCK_KEY = 72707369

_PROBE_SQL = """
SELECT to_regclass({regclass}) IS NOT NULL AS has_table,
       (SELECT coalesce(json_agg(attname::text), '[]'::json) FROM pg_attribute
         WHERE attrelid = to_regclass({regclass}) AND attnum > 0 AND NOT attisdropped) AS columns,
       CASE WHEN to_regclass({regclass}) IS NULL THEN true
            ELSE has_table_privilege(to_regclass({regclass}), 'SELECT') END AS readable,
       EXISTS (SELECT 1 FROM pg_locks
               WHERE locktype = 'advisory' AND granted
                 AND classid = 0 AND objid = {lock_key} AND objsubid = 1
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
       ) AS deploy_running
"""


def qualified_table(db: Database) -> str:
    """"MySchema"._prisma_migrations (the schema as Prisma created it, quoted)."""
    return f"{quote_identifier(getattr(db, 'schema', None) or 'public')}.{TABLE}"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


COLUMNS = ("id", "checksum", "finished_at", "migration_name", "logs", "rolled_back_at", "started_at",
           "applied_steps_count")
_COLUMNS = ", ".join(COLUMNS)


@dataclass(frozen=True)
class TableSnapshot:
    rows: tuple[MigrationRow, ...] | None  # None: the table does not exist yet
    deploy_running: bool


def _not_prisma_table(detail: str, table: str = TABLE) -> MigtoolError:
    # Exit 2: a person must look at the table; it is neither pending work nor an outage.
    return MigtoolError(f"{table} does not look like Prisma's migrations table: {detail}",
                        hint=f"inspect it with psql: \\d {table}", exit_code=ExitCode.USAGE)


def _permission_denied(db: Database, table: str) -> EnvironmentProblem:
    return EnvironmentProblem(
        f"permission denied: role {db.user} cannot read {table} ({db.describe()})",
        hint=f"GRANT SELECT ON {table} TO {quote_identifier(db.user)}; or connect as the role that runs "
             "the migrations")


def _query(db: Database, sql: str, table: str) -> list[dict]:
    try:
        return db.query(sql)
    except EnvironmentProblem:
        raise
    except MigtoolError as exc:
        if "permission denied" in exc.message.lower():
            raise _permission_denied(db, table) from None
        raise


def _probe(db: Database) -> tuple[bool, bool]:
    table = qualified_table(db)
    found = _query(db, _PROBE_SQL.format(regclass=_literal(table), lock_key=PRISMA_LOCK_KEY), table)[0]
    has_table = bool(found["has_table"])
    if has_table:
        if found.get("readable") is False:
            raise _permission_denied(db, table)
        missing = [c for c in COLUMNS if c not in (found["columns"] or [])]
        if missing:
            raise _not_prisma_table("no column " + ", ".join(missing), table)
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
    table = qualified_table(db)
    return TableSnapshot(_parse(_query(db, f"SELECT {_COLUMNS} FROM {table} ORDER BY started_at, id", table)), running)


def read_latest(db: Database, limit: int) -> TableSnapshot:
    """The newest `limit` attempts by started_at (failed and running ones have no finished_at)."""
    has_table, running = _probe(db)
    if not has_table:
        return TableSnapshot(None, running)
    table = qualified_table(db)
    sql = f"SELECT {_COLUMNS} FROM {table} ORDER BY started_at DESC, id DESC LIMIT {int(limit)}"
    return TableSnapshot(_parse(_query(db, sql, table)), running)
