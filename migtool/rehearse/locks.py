"""Watch locks on the copy while it migrates: who held what on which table, and who waited behind it.

A sampler thread reads pg_locks joined with pg_stat_activity every ~20 ms on its own connection
and keeps compact samples; `summarize(samples, start, end)` turns those of one time window (one
migration) into the strongest lock held per table and for how long, and how long other sessions
waited (continuous runs of a session being blocked, from pg_blocking_pids).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

# Weakest first, as PostgreSQL's conflict table orders them.
LOCK_ORDER = ("AccessShareLock", "RowShareLock", "RowExclusiveLock", "ShareUpdateExclusiveLock",
              "ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock")
BLOCKS_WRITES = set(LOCK_ORDER[4:])  # conflicts with RowExclusiveLock: INSERT/UPDATE/DELETE wait

SAMPLE_SQL = """
SELECT l.pid, l.mode, l.granted, c.relname, cardinality(pg_blocking_pids(l.pid)) AS blockers
FROM pg_locks l
JOIN pg_class c ON c.oid = l.relation
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE l.locktype = 'relation' AND l.pid <> pg_backend_pid() AND l.database = (
    SELECT oid FROM pg_database WHERE datname = current_database())
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND c.relkind IN ('r', 'p', 'm', 'v')
"""


@dataclass(frozen=True)
class Sample:
    at: float  # time.time()
    pid: int
    mode: str
    granted: bool
    table: str
    blocked: bool


@dataclass
class LockSampler:
    connect: Any  # () -> psycopg.Connection (autocommit)
    interval: float = 0.02
    samples: list[Sample] = field(default_factory=list)
    ticks: list[float] = field(default_factory=list)
    error: str | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rehearse-locks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            conn = self.connect()
        except Exception as exc:
            self.error = f"could not watch locks: {exc}"
            return
        with conn:
            conn.execute("SET application_name = 'migtool rehearse locks'")
            conn.execute("SET lock_timeout = '100ms'")
            while not self._stop.is_set():
                at = time.time()
                try:
                    rows = conn.execute(SAMPLE_SQL).fetchall()
                except Exception as exc:  # a restart of the copy, say: keep the samples we have
                    self.error = f"lock sampling stopped: {exc}"
                    return
                self.ticks.append(at)
                for pid, mode, granted, table, blockers in rows:
                    self.samples.append(Sample(at, pid, mode, bool(granted), table, bool(blockers)))
                self._stop.wait(max(0.0, self.interval - (time.time() - at)))


def _runs(times: list[float], tick_gap: float) -> list[float]:
    """Lengths of the continuous runs in sorted sample times (a gap longer than tick_gap ends a run)."""
    if not times:
        return []
    runs, start, last = [], times[0], times[0]
    for t in times[1:]:
        if t - last > tick_gap:
            runs.append(last - start)
            start = t
        last = t
    runs.append(last - start)
    return runs


def summarize(samples: list[Sample], start: float, end: float, tick_gap: float = 0.25) -> dict[str, Any]:
    """Strongest lock per table held in [start, end] and for how long; waits of blocked sessions."""
    window = [s for s in samples if start <= s.at <= end]
    strongest: dict[str, tuple[str, int]] = {}
    held_times: dict[tuple[str, int, str], list[float]] = {}
    waits: dict[int, list[float]] = {}
    for s in window:
        if s.granted:
            best = strongest.get(s.table)
            if best is None or LOCK_ORDER.index(s.mode) > LOCK_ORDER.index(best[0]):
                strongest[s.table] = (s.mode, s.pid)
            held_times.setdefault((s.table, s.pid, s.mode), []).append(s.at)
        if not s.granted or s.blocked:
            waits.setdefault(s.pid, []).append(s.at)
    tables = {}
    for table, (mode, pid) in sorted(strongest.items()):
        times = sorted(set(held_times[(table, pid, mode)]))
        tables[table] = {"lock": mode, "held_s": round(max(_runs(times, tick_gap), default=0.0), 3),
                         "blocks_writes": mode in BLOCKS_WRITES}
    wait_runs = sorted(r for times in waits.values() for r in _runs(sorted(set(times)), tick_gap))
    return {
        "tables": tables,
        "sessions_blocked": len(waits),
        "blocked_max_s": round(wait_runs[-1], 3) if wait_runs else 0.0,
        "blocked_p99_s": round(wait_runs[min(len(wait_runs) - 1, round(0.99 * (len(wait_runs) - 1)))], 3)
        if wait_runs else 0.0,
    }
