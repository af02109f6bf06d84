"""deploy-migrate as a runbook of named steps:

    preflight -> lock -> status -> lint -> backup -> migrate -> verify   (then the runner records
                                                                          the run; the command notifies)

The lock comes right after preflight so that everything after it (the pending list, the backup,
the migration) is decided by the one run allowed to act; a second run waits, then names the holder.
--dry-run stops after lint (no lock, no record) and says what would happen next.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from migtool.config import Config
from migtool.database import Database
from migtool.deploy.backup import TakenBackup, release_older_pins, take_verified_backup
from migtool.deploy.findings import decide_backup, findings_summary, lint_pending, refusal_lines
from migtool.deploy.lock import (
    DeployLock,
    LockBusy,
    database_now,
    end_prisma_sessions_since,
    holder_app_name,
    lock_holders,
)
from migtool.deploy.migrate import MigrateTimeout, run_migrate
from migtool.deploy.preflight import run_preflight
from migtool.deploy.verify import check_deployable, verify_applied
from migtool.errors import CheckFailed, ConfigError
from migtool.migration_status import read_status
from migtool.migrations.table import PRISMA_LOCK_KEY
from migtool.steps import StepFailed, StepRunner


@dataclass
class DeployOptions:
    yes: bool = False
    dry_run: bool = False
    backup: str = "dangerous"  # always, dangerous, never
    allow_danger: bool = False
    lock_timeout: float = 60
    timeout: float | None = None  # the migrate step's limit in seconds
    on_failure: str = "stop"  # stop or rollback
    skip_data_checks: bool = False  # issue 17: run even when a data check says a statement will fail
    confirm: Callable[[str], bool] | None = None  # asks a person; None when there is no terminal


def rollback_available() -> bool:
    return importlib.util.find_spec("migtool.restore") is not None


def check_options(options: DeployOptions) -> None:
    if options.on_failure == "rollback" and not rollback_available():
        raise ConfigError("--on-failure rollback needs `migtool rollback`, which this version does not have yet",
                          hint="use --on-failure stop (the default): a failed deploy prints the exact rollback "
                               "command and keeps its backup pinned")


def take_deploy_lock(db: Database, run: StepRunner, timeout: float, say: Callable[[str], None],
                     config: Config | None = None) -> DeployLock:
    """Our advisory lock for the rest of the run (released by the runner's cleanup), then refuse when a
    Prisma lock holder is left over: with our lock held no other deploy can be running."""
    app_name = holder_app_name(run.run_id, str(run.record.get("user")), str(run.record.get("host")), os.getpid())
    lock = DeployLock(db, app_name)
    run.on_cleanup("release the deploy lock", lock.release)

    def waiting(holder) -> None:
        who = holder.describe() if holder else "another run"
        say(f"waiting up to {timeout:g} s for the deploy lock, held by {who}")

    try:
        lock.acquire(timeout, on_wait=waiting)
    except LockBusy as exc:
        run.set("lock_holder", exc.holder.to_json() if exc.holder else None)
        run.finish("lock-busy", 1)
        raise
    stale = [h for h in lock_holders(db) if h.lock == "prisma"]
    if stale:
        h = stale[0]
        run.set("lock_holder", h.to_json())
        run.finish("refused", 1)
        left = _running_migrate_containers(config) if config is not None else []
        if left:
            hint = (f"a migrate container is still running ({', '.join(left)}): if no one is deploying by hand, "
                    f"remove it (docker rm -f {left[0]}); that ends its session and Prisma's lock")
        else:
            hint = (f"if nothing is deploying, end it: migtool unlock --terminate {h.pid} --yes "
                    "(`migtool unlock` lists the holders)")
        raise CheckFailed(f"Prisma's migrate lock ({PRISMA_LOCK_KEY}) is held by {h.describe()}, although no other "
                          "deploy-migrate runs: a leftover of a killed deploy, or someone running Prisma by hand. "
                          "Prisma would wait for it and fail with P1002", hint=hint)
    run.detail(f"held (key {lock.key}); Prisma's migrate lock is free")
    return lock


def _running_migrate_containers(config: Config) -> list[str]:
    if config.target != "compose":
        return []
    from migtool.database import compose_project
    from migtool.errors import MigtoolError

    try:
        return compose_project(config).running_one_offs(config.migrate_service)
    except MigtoolError:
        return []  # only a better hint: never a reason to fail


def deploy_migrate(config: Config, options: DeployOptions, run: StepRunner,
                   say: Callable[[str], None] = lambda text: None) -> dict[str, Any]:
    """Run the pipeline inside `run`; returns the plan/outcome (also in the run record)."""
    check_options(options)
    run.set("target", config.target)
    run.set("options", {"backup": options.backup, "allow_danger": options.allow_danger,
                        "dry_run": options.dry_run, "timeout": options.timeout, "on_failure": options.on_failure})
    run.state = "database unchanged"

    def preflight():
        result = run_preflight(config, backup_certain=options.backup == "always")
        run.detail(result.summary())
        return result

    db = run.step("preflight", preflight).db
    run.set("database", db.name)

    lock: DeployLock | None = None
    if options.dry_run:
        run.skip("lock", "dry run")
    else:
        lock = run.step("lock", lambda: take_deploy_lock(db, run, options.lock_timeout, say, config))

    def status():
        report = read_status(db, config.migrations_dir)
        try:
            pending = check_deployable(report, config)
        except CheckFailed:
            run.finish("refused", 1)
            raise
        run.detail(f"{len(pending)} pending" + (f": {', '.join(m.name for m in pending)}" if pending else ""))
        return pending

    pending = run.step("status", status)
    names = [m.name for m in pending]
    run.set("pending", names)
    if not pending:
        for step in ("lint", "backup", "migrate", "verify"):
            run.skip(step, "nothing pending")
        run.finish("up-to-date")
        say("up to date: nothing to apply")
        return {"result": "up-to-date", "pending": []}

    def lint():
        pg_version = config.pg_version or db.server_version_num() // 10000
        report = lint_pending(config.migrations_dir, pending, pg_version)
        run.set("findings", findings_summary(report))
        s = report.summary()
        run.detail(f"{s['danger']} danger, {s['warning']} warning, {s['advice']} advice")
        if s["danger"] and not options.allow_danger:
            for line in refusal_lines(report):
                say(line)
            run.finish("refused", 1)
            raise CheckFailed(f"{s['danger']} danger finding(s) in the pending migrations (listed above, each with "
                              "its fix); nothing was changed",
                              hint="make the migration safe, suppress a finding with `-- migtool:allow RULE reason`, "
                                   "or accept the risk: migtool deploy-migrate --allow-danger")
        return report

    report = run.step("lint", lint)

    def data_checks():
        # Before any backup: a migration that cannot succeed on today's rows is refused with the counts.
        from migtool.datacheck.deploy import refuse_on_certain_failures

        refuse_on_certain_failures(db, config, pending, skip=options.skip_data_checks, record=run.set, say=say,
                                   on_refuse=lambda: run.finish("refused", 1))
        checked = run.record.get("data_checks") or {}
        run.detail("skipped (--skip-data-checks)" if checked.get("skipped") else "no statement will fail on today's data")

    run.step("data-checks", data_checks)
    want_backup, why = decide_backup(options.backup, report)
    run.set("backup_decision", {"backup": want_backup, "why": why})
    plan = {"pending": names, "backup": want_backup, "backup_why": why}

    if options.dry_run:
        say(f"would apply {len(names)} migration(s): {', '.join(names)}")
        say(f"would take a verified backup first: {'yes' if want_backup else 'no'} ({why})")
        for step in ("backup", "migrate", "verify"):
            run.skip(step, "dry run")
        run.finish("dry-run")
        return {"result": "dry-run", **plan}

    if not options.yes:
        question = (f"apply {len(names)} migration(s) ({', '.join(names)})"
                    f"{' after a verified backup' if want_backup else ' without a backup'} ({why})?")
        if options.confirm is None:
            run.finish("refused", 1)
            raise CheckFailed(f"not applying without confirmation: would {question[:-1]}",
                              hint="run it at a terminal to be asked, or pass --yes")
        if not options.confirm(question):
            run.finish("cancelled", 1)
            raise CheckFailed("cancelled; nothing was changed")

    backup: TakenBackup | None = None
    if want_backup:
        def do_backup():
            taken = take_verified_backup(db, config, run.run_id, names)
            run.detail(f"{taken.name} verified and pinned")
            return taken

        backup = run.step("backup", do_backup)
        run.set("backup", backup.to_json())
    else:
        run.skip("backup", why)

    migrate_failure = None
    run.state = "the migrate step was running: see `migtool status`"

    def migrate():
        if lock is not None:
            lock.confirm_held()
        since = database_now(db)

        def end_orphans() -> None:
            ended = end_prisma_sessions_since(db, since)
            if ended:
                run.set("ended_sessions", ended)

        result = run_migrate(config, run.run_id, options.timeout, on_cleanup=run.on_cleanup, after_stop=end_orphans)
        run.set("migrate", {"where": result.where, "exit_code": result.exit_code, "seconds": result.seconds})
        if result.exit_code != 0:
            last = result.last_line()
            raise CheckFailed(f"{result.where} exited with {result.exit_code}" + (f": {last}" if last else ""))
        run.detail(f"{result.where} exited 0")
        return result

    try:
        run.step("migrate", migrate)
    except StepFailed as exc:
        migrate_failure = exc.cause.message
        if isinstance(exc.cause, MigrateTimeout):
            run.set("migrate", {"outcome": "timeout", "timeout": options.timeout})
            run.finish("timeout", 1)
        else:
            run.finish("failed", 1)
    run.state = ("the migrate step failed: the database may be partly migrated" if migrate_failure
                 else "the migrate step succeeded")

    def verify():
        try:
            final = verify_applied(db, config, names, backup.name if backup else None, migrate_failure)
        except CheckFailed:
            if run.result not in ("timeout",):
                run.finish("failed", 1)
            raise
        run.detail(f"all {len(names)} applied")
        return final

    try:
        run.step("verify", verify)
    except StepFailed:
        run.state = "migration failed; the database may be partly migrated"
        if options.on_failure == "rollback":
            _auto_rollback(config, run, backup)
        raise
    run.set("applied", names)
    run.state = "migrated"
    if backup is not None:
        released = release_older_pins(config.backup_dir, backup.name)
        if released:
            run.set("unpinned", released)
    run.finish("applied")
    say(f"applied {len(names)} migration(s)" + (f"; backup {backup.name} (verified, pinned)" if backup else ""))
    return {"result": "applied", **plan}


def _auto_rollback(config: Config, run: StepRunner, backup: TakenBackup | None) -> None:
    """--on-failure rollback: `migtool rollback --to <this run's backup> --yes` (restore beside, swap;
    the failed database is kept as <db>_before_rollback_<stamp>). The deploy still fails afterwards;
    the run record and state say whether the rollback worked. The swap ends every session on the
    live database, our lock's included: the lock's release then only warns."""
    from migtool.errors import MigtoolError
    from migtool.restore.rollback import RollbackRequest, run_rollback

    if backup is None:
        run.set("rollback", {"result": "skipped", "why": "this run took no backup"})
        return
    try:
        outcome = run_rollback(config, RollbackRequest(to=str(backup.path), yes=True))
    except MigtoolError as exc:
        run.set("rollback", {"result": "failed", "error": exc.message})
        run.state = f"migration failed, and the automatic rollback failed too: {exc.message}"
        return
    run.set("rollback", outcome.to_json())
    run.state = (f"migration failed; rolled back to {backup.name} (the failed database is kept as "
                 f"{outcome.kept}; undo: migtool rollback --undo)")
