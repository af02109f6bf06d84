"""Back off when the backfill hurts someone: application sessions waiting on our row locks, or
replicas falling behind.

Lock waits can only be seen while a batch runs (our locks go at COMMIT), so a watcher thread on a
connection of its own polls pg_locks through pg_blocking_pids() during batches. pg_blocking_pids
is not free, so it only runs for sessions that are waiting on a lock at all.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

log = logging.getLogger(__name__)

WAITING_ON = """
SELECT count(*) FROM pg_stat_activity
WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid() AND %s = ANY (pg_blocking_pids(pid))
"""
REPLICATION_LAG = "SELECT count(*), extract(epoch FROM max(replay_lag)) FROM pg_stat_replication"


@dataclass(frozen=True)
class Pause:
    seconds: float
    reason: str
    shrink: bool


def decide(waiters: int, batch_seconds: float, lag_seconds: float | None, max_lag: float) -> Pause | None:
    """What to do after a batch: nothing, or pause (and maybe shrink the next batch)."""
    if waiters > 0:
        # Let the writers through: at least as long as the batch held them, within reason.
        return Pause(min(2.0, max(0.2, batch_seconds * 2)),
                     f"{waiters} session(s) waited on the backfill's locks", shrink=True)
    if lag_seconds is not None and lag_seconds > max_lag:
        return Pause(1.0, f"replication lag {lag_seconds:.1f} s > {max_lag:g} s", shrink=False)
    return None


class LockWatcher:
    """Counts sessions blocked by `backend_pid` while a batch runs (between begin() and end())."""

    def __init__(self, connect: Callable[[], psycopg.Connection], backend_pid: int, interval: float = 0.05):
        self._connect = connect
        self._pid = backend_pid
        self._interval = interval
        self._active = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._seen = 0
        self._thread: threading.Thread | None = None
        self.failed: str | None = None

    def __enter__(self) -> LockWatcher:
        self._thread = threading.Thread(target=self._run, name="migtool-lock-watcher", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._active.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def begin(self) -> None:
        with self._lock:
            self._seen = 0
        self._active.set()

    def end(self) -> int:
        """Stop watching; the most sessions seen waiting on us at once during the batch."""
        self._active.clear()
        with self._lock:
            seen, self._seen = self._seen, 0
        return seen

    def _run(self) -> None:
        try:
            conn = self._connect()
        except Exception as exc:  # the backfill goes on without this guard, and says so
            self.failed = str(exc)
            log.warning("lock watcher could not connect: %s", exc)
            return
        with conn:
            while not self._stop.is_set():
                self._active.wait()
                if self._stop.is_set():
                    break
                try:
                    n = int(conn.execute(WAITING_ON, (self._pid,)).fetchone()[0])
                except psycopg.Error as exc:
                    self.failed = str(exc)
                    log.warning("lock watcher stopped: %s", exc)
                    return
                if n:
                    with self._lock:
                        self._seen = max(self._seen, n)
                self._stop.wait(self._interval)


def replication_lag(conn: psycopg.Connection) -> float | None:
    """The worst replica's replay lag in seconds, or None without replicas (or when we may not see it)."""
    count, lag = conn.execute(REPLICATION_LAG).fetchone()
    if not count or lag is None:
        return None
    return float(lag)
