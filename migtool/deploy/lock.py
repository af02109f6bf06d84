"""The deploy lock: one deploy-migrate (or rollback) per database at a time, from any host.

We hold a PostgreSQL session-level advisory lock with a key of our own (DEPLOY_LOCK_KEY, distinct
from Prisma's 72707369, which Prisma takes itself inside the migrate container: we never touch that
key) for the whole run, on a dedicated session:
- direct target: a psycopg connection of its own.
- compose target: a `psql` process inside the postgres service (`docker compose exec -T`), kept
  open on a stdin pipe. We chose this over publishing a port: it needs nothing from the compose
  file, and it fails safe. If migtool dies however hard (even SIGKILL), the pipe closes, psql reads
  EOF and exits, and the server ends the session and its lock. It runs in a session of its own so
  the terminal's Ctrl-C does not end it before the migrate container has been removed.

The session's application_name says who holds the lock ("RUN_ID USER@HOST:PID"), so a second run,
from any host, can name the holder from pg_stat_activity.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from migtool.database import ComposeDatabase, Database, DirectDatabase
from migtool.errors import CheckFailed, EnvironmentProblem, MigtoolError
from migtool.migrations.table import PRISMA_LOCK_KEY

# "migt" in ASCII. Below 2^31, so pg_locks shows it as classid 0, objid KEY, objsubid 1 (as Prisma's).
DEPLOY_LOCK_KEY = 0x6D696774
LOCK_NAMES = {DEPLOY_LOCK_KEY: "deploy", PRISMA_LOCK_KEY: "prisma"}
POLL_SECONDS = 0.5
APP_NAME_MAX = 63  # NAMEDATALEN - 1: longer application_names are cut by the server

HOLDERS_SQL = f"""
SELECT l.pid, l.objid::bigint AS key, a.usename AS db_user, a.application_name,
       host(a.client_addr) AS client_addr, a.backend_start, a.state, a.state_change,
       extract(epoch FROM now() - a.state_change)::int AS idle_seconds,
       left(a.query, 200) AS query
  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objsubid = 1
   AND l.objid IN ({DEPLOY_LOCK_KEY}, {PRISMA_LOCK_KEY})
   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
 ORDER BY a.backend_start
"""

_APP_NAME = re.compile(r"^(?P<run>\S+) (?P<user>[^@\s]*)@(?P<host>[^:\s]*):(?P<pid>\d+)$")


def holder_app_name(run_id: str, user: str, host: str, pid: int) -> str:
    """'RUN_ID USER@HOST:PID', the host shortened to fit the server's 63 characters."""
    fixed = f"{run_id} {user}@:{pid}"
    room = max(0, APP_NAME_MAX - len(fixed))
    return f"{run_id} {user}@{host[:room]}:{pid}"[:APP_NAME_MAX]


@dataclass(frozen=True)
class LockHolder:
    pid: int  # the server backend's pid (what `migtool unlock --terminate` takes)
    lock: str  # deploy or prisma
    db_user: str | None
    application_name: str
    client_addr: str | None
    backend_start: str | None
    state: str | None
    idle_seconds: int | None
    query: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> LockHolder:
        return cls(pid=int(row["pid"]), lock=LOCK_NAMES.get(int(row["key"]), str(row["key"])),
                   db_user=row.get("db_user"), application_name=row.get("application_name") or "",
                   client_addr=row.get("client_addr"), backend_start=row.get("backend_start"),
                   state=row.get("state"), idle_seconds=row.get("idle_seconds"), query=row.get("query"))

    @property
    def run(self) -> dict[str, str] | None:
        """run_id, user, host and pid of the migtool run holding it (from our application_name)."""
        m = _APP_NAME.match(self.application_name)
        return m.groupdict() if m and self.lock == "deploy" else None

    def describe(self) -> str:
        run = self.run
        since = f" since {self.backend_start}" if self.backend_start else ""
        if run:
            return (f"run {run['run']} by {run['user']} on host {run['host']} (pid {run['pid']}){since}, "
                    f"database session {self.pid}")
        who = self.application_name or "no application_name"
        where = f" from {self.client_addr}" if self.client_addr else " (local socket)"
        idle = f", {self.state} for {self.idle_seconds} s" if self.state and self.idle_seconds is not None else ""
        return f"database session {self.pid} ({who}, user {self.db_user}{where}){since}{idle}"

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "lock": self.lock, "db_user": self.db_user,
                "application_name": self.application_name, "client_addr": self.client_addr,
                "backend_start": self.backend_start, "state": self.state, "idle_seconds": self.idle_seconds,
                "query": self.query, "run": self.run}


def lock_holders(db: Database) -> list[LockHolder]:
    """Sessions holding our deploy lock or Prisma's migrate lock on this database."""
    return [LockHolder.from_row(r) for r in db.query(HOLDERS_SQL)]


class LockBusy(CheckFailed):
    def __init__(self, holder: LockHolder | None, waited: float):
        who = holder.describe() if holder else "a session that ended just now"
        super().__init__(
            f"another deploy holds the deploy lock (waited {waited:.0f} s): {who}",
            hint="wait for it to finish (see `migtool runs`), or if it is gone: `migtool unlock`",
        )
        self.holder = holder


class DeployLock:
    """A held-or-not deploy lock on one dedicated session. acquire() waits up to `timeout` s."""

    def __init__(self, db: Database, app_name: str, key: int = DEPLOY_LOCK_KEY):
        if key == PRISMA_LOCK_KEY:
            raise ValueError("never take Prisma's lock key ourselves")
        self.db = db
        self.app_name = app_name
        self.key = key
        self.held = False
        self._session: _Session | None = None

    def acquire(self, timeout: float, on_wait: Callable[[LockHolder | None], None] | None = None) -> None:
        self._session = _open_session(self.db, self.app_name)
        started = time.monotonic()
        told = False
        try:
            while True:
                if self._session.scalar(f"SELECT pg_try_advisory_lock({self.key})") == "t":
                    self.held = True
                    return
                waited = time.monotonic() - started
                if waited >= timeout or not told:
                    holder = self.holder()
                    if waited >= timeout:
                        raise LockBusy(holder, waited)
                    if on_wait:
                        on_wait(holder)
                    told = True
                time.sleep(min(POLL_SECONDS, max(0.0, timeout - waited)))
        except BaseException:
            self.release()
            raise

    def confirm_held(self) -> None:
        """Ask our own session: after a long backup, a restarted server would have dropped the lock."""
        sql = (f"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = 0 "
               f"AND objid = {self.key} AND objsubid = 1 AND pid = pg_backend_pid())")
        if self._session is None or self._session.scalar(sql) != "t":
            self.held = False
            raise EnvironmentProblem("the deploy lock was lost (did the database restart?); nothing was migrated",
                                     hint="check `migtool status`, then run deploy-migrate again")

    def holder(self) -> LockHolder | None:
        return next((h for h in lock_holders(self.db) if h.lock == "deploy"), None)

    def release(self) -> None:
        """Ends the session: the server drops the lock with it. Safe to call twice."""
        session, self._session = self._session, None
        self.held = False
        if session is not None:
            session.close()


class _Session:
    def scalar(self, sql: str) -> str: ...
    def close(self) -> None: ...


def _open_session(db: Database, app_name: str) -> _Session:
    if isinstance(db, DirectDatabase):
        return _PsycopgSession(db, app_name)
    if isinstance(db, ComposeDatabase):
        return _PsqlSession(db, app_name)
    raise MigtoolError(f"no lock session for {type(db).__name__}")


class _PsycopgSession(_Session):
    def __init__(self, db: DirectDatabase, app_name: str):
        self.conn = db.connect()
        self.conn.execute("SELECT set_config('application_name', %s, false)", (app_name,))

    def scalar(self, sql: str) -> str:
        import psycopg

        try:
            value = self.conn.execute(sql).fetchone()[0]
        except psycopg.Error as exc:
            raise EnvironmentProblem(f"the lock session ended: {str(exc).strip().splitlines()[0]}",
                                     hint="check the database with `migtool doctor`") from None
        return "t" if value is True else "f" if value is False else str(value)

    def close(self) -> None:
        self.conn.close()


class _PsqlSession(_Session):
    """psql inside the postgres service, one query per line on stdin, one answer per line on stdout."""

    def __init__(self, db: ComposeDatabase, app_name: str, timeout: float = 60):
        self.timeout = timeout
        argv = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", db.user, "-d", db.name]
        self.proc = db.project.exec_stream(db.service, argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, env={"PGAPPNAME": app_name, "PGTZ": "UTC"},
                                           new_session=True)
        self._buffer = b""

    def scalar(self, sql: str) -> str:
        try:
            self.proc.stdin.write(sql.encode() + b";\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died() from None
        return self._read_line()

    def _read_line(self) -> str:
        deadline = time.monotonic() + self.timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise EnvironmentProblem(f"the lock session (psql in the postgres service) did not answer in "
                                         f"{self.timeout:.0f} s")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise self._died()
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode().strip()

    def _died(self) -> MigtoolError:
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        text = (err or b"").decode(errors="replace").strip().splitlines()
        last = text[-1] if text else f"exit code {self.proc.returncode}"
        return EnvironmentProblem(f"the lock session (psql in the postgres service) ended: {last}",
                                  hint="check the database with `migtool doctor`")

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()  # EOF: psql quits and the server ends the session and its lock
            except OSError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def terminate_holder(db: Database, pid: int) -> LockHolder:
    """End the database session `pid`, only if it holds our deploy lock or Prisma's lock."""
    holder = next((h for h in lock_holders(db) if h.pid == pid), None)
    if holder is None:
        raise CheckFailed(f"database session {pid} holds neither the deploy lock nor Prisma's migrate lock; "
                          "refusing to end it", hint="list the holders: migtool unlock")
    rows = db.query(f"SELECT pg_terminate_backend({int(pid)}) AS ok")
    if not rows or not rows[0]["ok"]:
        raise CheckFailed(f"could not end database session {pid} (already gone, or not permitted)",
                          hint="migtool unlock")
    # pg_terminate_backend only signals; wait briefly until the lock is really gone.
    for _ in range(50):
        if all(h.pid != pid for h in lock_holders(db)):
            break
        time.sleep(0.1)
    return holder


def end_prisma_sessions_since(db: Database, since: str) -> list[int]:
    """End the sessions holding Prisma's lock that started at or after `since` (the database's own
    now() when our migrate step started): with the deploy lock held, they can only be the removed
    migrate container's. A killed client does not end a server session that is busy running a
    statement (pg_sleep, a long ALTER): it would hold Prisma's lock until the statement ends."""
    rows = db.query(f"""
        SELECT l.pid, pg_terminate_backend(l.pid) AS ended
          FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objsubid = 1
           AND l.objid = {PRISMA_LOCK_KEY}
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND a.backend_start >= '{_timestamp(since)}'::timestamptz""")
    ended = [int(r["pid"]) for r in rows if r["ended"]]
    for _ in range(50):
        if not ended or all(h.pid not in ended for h in lock_holders(db)):
            break
        time.sleep(0.1)
    return ended


def database_now(db: Database) -> str:
    return str(db.query("SELECT now()::text AS now")[0]["now"])


def _timestamp(text: str) -> str:
    if not re.fullmatch(r"[0-9: .+\-T]+", text):
        raise ValueError(f"not a timestamp: {text!r}")
    return text
