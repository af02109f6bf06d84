"""One scheduled run, and the loop that runs them.

A run is the runbook: back up -> verify the file (checksum, decompresses to the end, dump complete)
-> upload to S3 when configured -> heartbeat ping (only for a verified, uploaded backup) -> retention
(keep_last/keep_days plus the GFS keeps).
Any failure posts notify.webhook_url and the loop goes on: the next run may well succeed, and the
healthcheck turns red if none does within 2 periods.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from migtool.config import Config
from migtool.errors import CheckFailed, ExitCode, MigtoolError
from migtool.schedule import state as schedule_state
from migtool.schedule.cron import Schedule

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class RunResult:
    ok: bool
    started_at: datetime
    seconds: float = 0.0
    backup: str | None = None
    verified: bool = False
    error: str | None = None
    exit_code: int = 0
    pruned: list[str] = field(default_factory=list)
    heartbeat: str | None = None  # what happened to the ping, when one is configured
    uploaded: str | None = None  # s3://bucket/key


def prune(config: Config, now: datetime) -> list[str]:
    """Apply retention (keep_last, keep_days, GFS keeps) to the backup folder; the deleted names."""
    from migtool.backup import catalog, retention
    from migtool.backup.files import fsync_dir, remove_quietly
    from migtool.schedule import gfs

    backups = catalog.scan(config.backup_dir)
    candidates = [retention.Candidate(b.filename, b.manifest.database, b.created, b.verified_ok is True,
                                      failed=b.failed, pinned=b.pinned)
                  for b in backups if b.manifest is not None]  # no usable manifest: not ours to judge
    decisions = retention.plan(candidates, config.keep_last, config.keep_days, now)
    decisions = gfs.apply(decisions, candidates, config.keep_daily, config.keep_weekly, config.keep_monthly)
    by_name = {b.filename: b for b in backups}
    deleted = []
    for d in retention.to_delete(decisions):
        b = by_name[d.name]
        remove_quietly(b.path)  # the dump first: never a dump left without its manifest
        for side in b.side_paths():
            remove_quietly(side)
        deleted.append(d.name)
    if deleted:
        fsync_dir(config.backup_dir)
    return deleted


def run_once(config: Config, request, clock: Callable[[], datetime] = utcnow, upload: bool = False) -> RunResult:
    from migtool.backup.catalog import load
    from migtool.backup.dump import create_backup
    from migtool.backup.verify import verify_backup
    from migtool.database import open_database

    started = clock()
    t0 = time.monotonic()
    result = RunResult(ok=False, started_at=started)
    try:
        db = open_database(config)
        made = create_backup(db, request)
        result.backup = made.path.name
        report = verify_backup(load(made.path), db, identity=config.age_identity)
        if not report.ok:
            raise CheckFailed(f"backup {made.path.name} failed verification: {'; '.join(report.problems)}",
                              hint=f"migtool backups verify {made.path.name}")
        result.verified = True
        if upload:
            from migtool.backup.s3store import S3Store

            try:
                done = S3Store(config.s3).upload(load(made.path))
            except MigtoolError as exc:
                raise MigtoolError(f"backup {made.path.name} is safe locally, but {exc.message}",
                                   hint=f"migtool backups upload {made.path.name}", exit_code=exc.exit_code) from None
            result.uploaded = f"s3://{done['bucket']}/{done['key']}"
    except MigtoolError as exc:
        if exc.exit_code == ExitCode.INTERRUPTED:
            # create_backup turns Ctrl-C / SIGTERM (docker stop) into an error after cleaning up its
            # partial file: that is the operator stopping the scheduler, not a failed run to retry.
            raise KeyboardInterrupt from None
        result.error, result.exit_code = exc.message, int(exc.exit_code)
    except Exception as exc:  # a bug must not end a long-lived scheduler: report it and try next time
        log.debug("scheduled backup crashed", exc_info=True)
        result.error, result.exit_code = f"internal error: {type(exc).__name__}: {exc}", 4
    if result.verified and (result.uploaded or not upload):
        notify = config.notify
        if notify is not None and notify.heartbeat_url is not None:
            from migtool.schedule.heartbeat import ping

            sent, result.heartbeat = ping(notify.heartbeat_url, {"backup": result.backup},
                                          timeout=notify.timeout_seconds)
            if not sent:
                log.warning(result.heartbeat)
        try:
            result.pruned = prune(config, clock())
            result.ok = True
        except (MigtoolError, OSError, ValueError) as exc:
            result.error = f"backup {result.backup} is fine, but retention failed: {exc}"
            result.exit_code = 3
    result.seconds = time.monotonic() - t0
    return result


def notify_failure(config: Config, result: RunResult) -> str | None:
    """POST the failure to notify.webhook_url (the notifier deploy-migrate uses). Never raises."""
    notify = config.notify
    if notify is None or notify.webhook_url is None:
        return None
    from migtool.deploy.notify import build_payload, send

    record = {
        "operation": "scheduled-backup",
        "result": "failed",
        "exit_code": result.exit_code or 1,
        "error": result.error,
        "host": socket.gethostname(),
        "target": config.target,
        "started_at": result.started_at.isoformat(),
        "ended_at": utcnow().isoformat(),
        "seconds": round(result.seconds, 3),
        "backup": result.backup,
    }
    _, message = send(notify, build_payload(record))
    return message


def _line(result: RunResult) -> str:
    if result.ok:
        parts = [f"backup ok: {result.backup} (verified, {result.seconds:.1f} s)"]
        if result.uploaded:
            parts.append(f"uploaded to {result.uploaded}")
        if result.pruned:
            parts.append(f"pruned {len(result.pruned)}: {', '.join(result.pruned)}")
        if result.heartbeat:
            parts.append(result.heartbeat)
        return "; ".join(parts)
    return f"backup FAILED: {result.error}"


def run_forever(config: Config, schedule: Schedule, request, *, max_runs: int | None = None, upload: bool = False,
                clock: Callable[[], datetime] = utcnow, sleep: Callable[[float], None] = time.sleep,
                say: Callable[[str], None] = print) -> int:
    """Run backups on the schedule until stopped (or max_runs); 0 when the last run succeeded, else its code."""
    now = clock()
    st = schedule_state.ScheduleState(schedule=schedule.expr, period_seconds=schedule.period(now).total_seconds(),
                                      started_at=now.isoformat())
    schedule_state.write(config.backup_dir, st)
    say(f"scheduled backups: {schedule.expr!r}, next at {schedule.next_after(now).isoformat()}")
    last_code = 0
    while max_runs is None or st.runs < max_runs:
        now = clock()
        due = schedule.next_after(now)
        # Runs missed while a long backup ran are skipped, not queued: the next one is due from now.
        sleep(max(0.0, (due - now).total_seconds()))
        result = run_once(config, request, clock, upload=upload)
        st.runs += 1
        st.period_seconds = schedule.period(clock()).total_seconds()
        if result.ok:
            st.last_success_at, st.last_success = clock().isoformat(), result.backup
            last_code = 0
        else:
            st.failures += 1
            st.last_failure_at, st.last_error = clock().isoformat(), result.error
            last_code = result.exit_code or 1
        schedule_state.write(config.backup_dir, st)
        say(f"{result.started_at.isoformat(timespec='seconds')} {_line(result)}")
        if not result.ok:
            message = notify_failure(config, result)
            if message:
                say(f"  {message}")
    return last_code
