"""The batch loop: one short transaction per batch, progress committed with it, timeouts retried
smaller and later (never skipped), a stop request honoured between batches.

    run = Backfill(connect, plan, options)
    summary = run.execute(resume=progress, stop=event, on_batch=display.update)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import psycopg

from migtool.backfill.guards import LockWatcher, decide, replication_lag
from migtool.backfill.plan import BatchPlan, BatchSizer, backoff_seconds, render
from migtool.backfill.progress import Progress, ProgressTable
from migtool.errors import CheckFailed, EnvironmentProblem, MigtoolError

log = logging.getLogger(__name__)

# What a busy database answers a batch that waited or ran too long: retry smaller and later.
RETRYABLE = (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled, psycopg.errors.DeadlockDetected,
             psycopg.errors.SerializationFailure)
LAG_CHECK_EVERY = 2.0  # seconds between replication lag checks


@dataclass(frozen=True)
class Options:
    batch_size: str | int = "auto"
    sleep_ms: int = 0
    max_lock_wait_ms: int = 200
    statement_timeout_ms: int = 5000
    max_retries: int = 30  # consecutive failures of one batch before giving up (progress kept)
    max_replication_lag_s: float = 10.0
    watch_locks: bool = True


@dataclass
class BatchEvent:
    updated_total: int
    scanned_total: int
    batches: int
    batch_size: int
    rate: float  # rows updated per second, this run
    note: str | None = None  # a retry or a pause, for the display


@dataclass
class Summary:
    job: str
    table: str
    state: str  # done | interrupted
    rows_updated: int = 0  # this run
    rows_scanned: int = 0
    rows_done_total: int = 0  # all runs of this job
    batches: int = 0
    retries: int = 0
    pauses: int = 0
    seconds: float = 0.0
    rows_per_second: float = 0.0
    last_key: list[str] | None = None
    resumed_from: list[str] | None = None
    remaining: int | None = None
    batch_sizes: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


class Backfill:
    def __init__(self, connect: Callable[[], psycopg.Connection], plan: BatchPlan, options: Options):
        self.connect = connect
        self.plan = plan
        self.options = options
        self.progress = ProgressTable(plan)
        self._queries = {True: plan.batch_query(first=True), False: plan.batch_query(first=False)}

    # ------------------------------------------------------------ one batch
    def _timeouts(self, conn: psycopg.Connection) -> None:
        conn.execute("SELECT set_config('lock_timeout', %s, true), set_config('statement_timeout', %s, true)",
                     (f"{self.options.max_lock_wait_ms}ms", f"{self.options.statement_timeout_ms}ms"))

    def _batch(self, conn: psycopg.Connection, last_key: list[str] | None, size: int,
               retries: int) -> tuple[int, int, list[str] | None]:
        """Run one batch and record it, in one transaction. (updated, scanned, new last key)."""
        with conn.transaction():
            self._timeouts(conn)
            updated, scanned, new_last = conn.execute(self._queries[last_key is None],
                                                      self.plan.params(last_key, size)).fetchone()
            if scanned:
                self.progress.record_batch(conn, new_last, updated, retries)
        return int(updated), int(scanned), new_last

    # ------------------------------------------------------------ the loop
    def execute(self, *, resume: Progress | None, stop: threading.Event,
                on_batch: Callable[[BatchEvent], None] | None = None) -> Summary:
        conn = self.connect()
        with conn:
            conn.execute("SET application_name = 'migtool backfill'")
            self._claim(conn)
            self.progress.ensure(conn)
            self.progress.start(conn, resume)
            summary = Summary(job=self.progress.job, table=self.plan.table.qualified, state="running",
                              resumed_from=resume.last_key if resume else None)
            watcher = LockWatcher(self.connect, conn.info.backend_pid) if self.options.watch_locks else None
            try:
                if watcher:
                    with watcher:
                        self._loop(conn, resume, stop, on_batch, summary, watcher)
                else:
                    self._loop(conn, resume, stop, on_batch, summary, None)
            except KeyboardInterrupt:
                # A second Ctrl-C: psycopg cancelled the running batch, which rolled back. The last
                # committed progress row is exact; mark it so the next run says where it was.
                self._finish_quietly(conn, "interrupted")
                raise
            except BaseException:
                self._finish_quietly(conn, "failed")
                raise
            if summary.state == "done":
                summary.remaining = self._remaining(conn)
            self.progress.finish(conn, summary.state)
            final = self.progress.load(conn)
            summary.rows_done_total = final.rows_done if final else summary.rows_updated
        return summary

    def _remaining(self, conn: psycopg.Connection) -> int | None:
        """Rows still matching the condition (written behind the walk meanwhile, or that the
        expression left NULL). A full scan: on a huge table it may give up, leaving None."""
        try:
            with conn.transaction():
                conn.execute("SELECT set_config('statement_timeout', '60s', true)")
                return int(conn.execute(self.plan.remaining_query()).fetchone()[0])
        except psycopg.errors.QueryCanceled:
            return None

    def _claim(self, conn: psycopg.Connection) -> None:
        """Two runs of one job at once would race on its progress row: a session advisory lock
        (released when the connection ends, even on SIGKILL) keeps it to one."""
        got = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))",
                           (f"migtool backfill {self.progress.job}",)).fetchone()[0]
        if not got:
            raise CheckFailed(f"another migtool backfill of this job ({self.progress.job}) is running",
                              hint="wait for it to finish, or stop it (Ctrl-C records its progress)")

    def _finish_quietly(self, conn: psycopg.Connection, state: str) -> None:
        try:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.rollback()
            self.progress.finish(conn, state)
        except psycopg.Error as exc:  # the connection may be gone; the committed progress still holds
            log.debug("could not mark the job %s: %s", state, exc)

    def _loop(self, conn, resume, stop, on_batch, summary: Summary, watcher: LockWatcher | None) -> None:
        sizer = BatchSizer.from_option(self.options.batch_size)
        last_key = resume.last_key if resume else None
        started = time.monotonic()
        next_lag_check = 0.0
        failures = 0
        sizes_seen = []

        def emit(note: str | None = None) -> None:
            elapsed = time.monotonic() - started
            summary.seconds = elapsed
            summary.rows_per_second = summary.rows_updated / elapsed if elapsed > 0 else 0.0
            if on_batch:
                on_batch(BatchEvent(summary.rows_updated, summary.rows_scanned, summary.batches, sizer.size,
                                    summary.rows_per_second, note))

        while True:
            if stop.is_set():
                summary.state = "interrupted"
                break
            now = time.monotonic()
            if now >= next_lag_check:
                next_lag_check = now + LAG_CHECK_EVERY
                self._wait_for_replicas(conn, stop, summary, emit)
                if stop.is_set():
                    continue
            size = sizer.size
            t0 = time.monotonic()
            if watcher:
                watcher.begin()
            try:
                updated, scanned, new_last = self._batch(conn, last_key, size, failures)
            except RETRYABLE as exc:
                if watcher:
                    watcher.end()
                failures += 1
                summary.retries += 1
                if failures > self.options.max_retries:
                    raise MigtoolError(
                        f"{_which_batch(last_key)} failed {failures} times in a row: {_first_line(exc)}",
                        hint="progress is recorded; find what holds the lock (pg_locks), then run again with "
                             "--resume") from None
                wait = backoff_seconds(failures)
                new_size = sizer.after_timeout()
                emit(f"{type(exc).__name__}: retry {failures} in {wait:.1f} s with {new_size} rows")
                stop.wait(wait)
                continue
            except psycopg.OperationalError as exc:
                raise EnvironmentProblem(f"lost the database during a batch: {_first_line(exc)}",
                                         hint="that batch rolled back and progress is recorded: run again "
                                              "with --resume") from None
            except psycopg.Error as exc:
                raise MigtoolError(
                    f"{_which_batch(last_key)} failed: {_first_line(exc)}",
                    hint="fix --set/--where (try --dry-run), then run again with --resume") from None
            seconds = time.monotonic() - t0
            waiters = watcher.end() if watcher else 0
            failures = 0
            summary.batches += 1
            summary.rows_updated += updated
            summary.rows_scanned += scanned
            if new_last is not None:
                last_key = list(new_last)
                summary.last_key = last_key
            sizes_seen.append(size)
            summary.batch_sizes = {"first": sizes_seen[0], "last": size, "min": min(sizes_seen),
                                   "max": max(sizes_seen)}
            if scanned < size:  # fewer rows than asked for: nothing left beyond the last key
                summary.state = "done"
                emit()
                break
            sizer.after_success(seconds, scanned)
            pause = decide(waiters, seconds, None, self.options.max_replication_lag_s)
            if pause:
                summary.pauses += 1
                if pause.shrink:
                    sizer.shrink()
                emit(f"pausing {pause.seconds:.1f} s: {pause.reason}")
                stop.wait(pause.seconds)
            else:
                emit()
            if self.options.sleep_ms:
                stop.wait(self.options.sleep_ms / 1000)

    def _wait_for_replicas(self, conn, stop: threading.Event, summary: Summary, emit) -> None:
        while not stop.is_set():
            try:
                lag = replication_lag(conn)
            except psycopg.Error as exc:
                log.debug("replication lag unknown: %s", exc)
                return
            pause = decide(0, 0.0, lag, self.options.max_replication_lag_s)
            if pause is None:
                return
            summary.pauses += 1
            emit(f"pausing: {pause.reason}")
            stop.wait(pause.seconds)


def _which_batch(last_key) -> str:
    """'the first batch' rather than 'a batch after key None' when nothing was done yet."""
    return "the first batch" if last_key is None else f"the batch after key {last_key}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ---------------------------------------------------------------- dry run

def dry_run(connect: Callable[[], psycopg.Connection], plan: BatchPlan, options: Options,
            resume: Progress | None) -> dict:
    """The plan without changing anything: one batch's SQL, how many rows, and how long, from a
    sample batch that runs with the same timeouts and is rolled back."""
    from migtool.backfill.catalog import estimated_rows, rows_to_update

    sizer = BatchSizer.from_option(options.batch_size)
    last_key = resume.last_key if resume else None
    query = plan.batch_query(first=last_key is None)
    params = plan.params(last_key, sizer.size)
    with connect() as conn:
        rows, exact = rows_to_update(conn, plan)
        keys = estimated_rows(conn, plan.table)
        if keys < 0:
            keys = int(conn.execute(plan.count_query()).fetchone()[0])
        shown = render(query, params, conn)
        runner = Backfill(connect, plan, options)
        t0 = time.monotonic()
        sample_updated = sample_scanned = 0
        sample_error = None
        try:
            with conn.transaction(force_rollback=True):
                runner._timeouts(conn)
                sample_updated, sample_scanned, _ = conn.execute(query, params).fetchone()
        except RETRYABLE as exc:
            sample_error = _first_line(exc)
        except psycopg.Error as exc:
            raise MigtoolError(f"the sample batch failed: {_first_line(exc)}",
                               hint="fix --set/--where; --dry-run shows the SQL it runs") from None
        seconds = time.monotonic() - t0
    # A batch costs about the same per key walked, whether or not the row needs the update.
    estimate = None
    if sample_scanned:
        batches = keys / sample_scanned
        estimate = batches * (seconds + options.sleep_ms / 1000)
    return {
        "table": plan.table.qualified,
        "key": [k.name for k in plan.table.key],
        "job": plan.job_id(),
        "condition": plan.condition,
        "batch_sql": shown,
        "batch_size": sizer.size if not sizer.auto else f"auto (starts at {sizer.size})",
        "rows_to_update": rows,
        "rows_exact": exact,
        "table_rows": keys,
        "sample_batch": {"rows": int(sample_updated), "keys": int(sample_scanned), "seconds": round(seconds, 4),
                         "error": sample_error},
        "estimated_seconds": round(estimate, 1) if estimate is not None else None,
        "resume_from": last_key,
    }
