"""The `migtool_backfill` table: one row per job (table + --set + --where), in the table's schema.

The row is updated in the same transaction as each batch, so after any crash (SIGKILL included)
it says exactly which keys are done: the batch and its progress commit together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from migtool.backfill.plan import PROGRESS_TABLE, BatchPlan
from migtool.errors import CheckFailed

_CREATE = """
CREATE TABLE IF NOT EXISTS {table} (
    job text PRIMARY KEY,
    table_name text NOT NULL,
    set_sql text NOT NULL,
    where_sql text NOT NULL,
    last_key text[],
    rows_done bigint NOT NULL DEFAULT 0,
    batches bigint NOT NULL DEFAULT 0,
    retries bigint NOT NULL DEFAULT 0,
    state text NOT NULL DEFAULT 'running',
    started_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
)
"""
COLUMNS = ("job", "table_name", "set_sql", "where_sql", "last_key", "rows_done", "batches", "retries",
           "state", "started_at", "updated_at", "finished_at")


@dataclass(frozen=True)
class Progress:
    job: str
    table_name: str
    set_sql: str
    where_sql: str
    last_key: list[str] | None
    rows_done: int
    batches: int
    retries: int
    state: str  # running | interrupted | failed | done
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def resumable(self) -> bool:
        return self.state != "done" and self.last_key is not None


class ProgressTable:
    def __init__(self, plan: BatchPlan):
        self.plan = plan
        self.ident = sql.Identifier(plan.table.schema, PROGRESS_TABLE)
        self.job = plan.job_id()

    def ensure(self, conn: psycopg.Connection) -> None:
        try:
            conn.execute(sql.SQL(_CREATE).format(table=self.ident))
        except psycopg.errors.InsufficientPrivilege as exc:
            raise CheckFailed(f"cannot create the progress table {self.plan.table.schema}.{PROGRESS_TABLE}: "
                              f"{str(exc).strip()}",
                              hint=f"GRANT CREATE ON SCHEMA {self.plan.table.schema} TO the migtool user, "
                                   "or create the table once as its owner") from None

    def exists(self, conn: psycopg.Connection) -> bool:
        name = sql.Identifier(self.plan.table.schema, PROGRESS_TABLE).as_string(conn)
        return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]

    def load(self, conn: psycopg.Connection) -> Progress | None:
        if not self.exists(conn):
            return None
        q = sql.SQL("SELECT {} FROM {} WHERE job = %s").format(
            sql.SQL(", ").join(map(sql.Identifier, COLUMNS)), self.ident)
        row = conn.execute(q, (self.job,)).fetchone()
        return Progress(*row) if row else None

    def start(self, conn: psycopg.Connection, resume_from: Progress | None) -> None:
        """A fresh row (or the old one kept, when resuming) in state running."""
        if resume_from is not None:
            conn.execute(sql.SQL("UPDATE {} SET state = 'running', updated_at = now(), finished_at = NULL "
                                 "WHERE job = %s").format(self.ident), (self.job,))
            return
        assignments = ", ".join(f"{a.column} = {a.expression}" for a in self.plan.assignments)
        conn.execute(sql.SQL(
            "INSERT INTO {} (job, table_name, set_sql, where_sql) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (job) DO UPDATE SET last_key = NULL, rows_done = 0, batches = 0, retries = 0, "
            "state = 'running', started_at = now(), updated_at = now(), finished_at = NULL"
        ).format(self.ident), (self.job, self.plan.table.qualified, assignments, self.plan.condition))

    def record_batch(self, conn: psycopg.Connection, last_key: list[str], updated: int, retries: int) -> None:
        """Inside the batch's own transaction."""
        conn.execute(sql.SQL("UPDATE {} SET last_key = %s, rows_done = rows_done + %s, batches = batches + 1, "
                             "retries = retries + %s, updated_at = now() WHERE job = %s").format(self.ident),
                     (last_key, updated, retries, self.job))

    def finish(self, conn: psycopg.Connection, state: str) -> None:
        done = sql.SQL(", finished_at = now()") if state == "done" else sql.SQL("")
        conn.execute(sql.SQL("UPDATE {} SET state = %s, updated_at = now(){} WHERE job = %s").format(
            self.ident, done), (state, self.job))
