"""`migtool rollback`: restore-based rollback as a runbook of named steps, and its undo and cleanup.

  pick -> verify -> room -> confirm -> restore (beside, app still serving) -> check -> analyze
       -> stop app -> swap -> start app -> prisma -> status -> row diff

The downtime is only stop app .. start app: the load and its checks happen beside the live database
while the app still serves from it. The live database is never dropped: the swap renames it to
`<db>_before_rollback_<stamp>`, so `rollback --undo` can swap it back. When the server has no room
for a second copy (or with --stop-first) the app is stopped first; without room a safety backup is
taken and the database is restored in place. Every step goes to history.jsonl; a failure stops with
the state and the next command, and a stopped app is always started again.
"""

from __future__ import annotations

import re
import shlex
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from migtool import output
from migtool.backup import catalog
from migtool.backup.catalog import LocalBackup
from migtool.backup.tables import quote_ident
from migtool.config import Config
from migtool.database import ComposeDatabase, Database, compose_project, open_database
from migtool.errors import CheckFailed, ConfigError, MigtoolError
from migtool.restore import prisma, rowdiff, server
from migtool.restore.confirm import confirm, summary_rows
from migtool.restore.load import analyze, choose_jobs, load_with_progress, prove_whole_with_progress
from migtool.restore.source import locate
from migtool.steps import StepFailed, StepRunner

ROOM_MARGIN = 1.2  # a second copy needs the live database's size, and some room to breathe
ROOM_SLACK = 64 << 20


@dataclass
class RollbackRequest:
    to: str | None = None
    before: str | None = None
    yes: bool = False
    stop_first: bool = False
    in_place: bool = False  # no room for a second copy (as the room step decides when the server is full)
    jobs: int | None = None
    quiet: bool = False
    ask: Any = None
    interactive: bool | None = None
    identity: str | None = None  # age key file for an encrypted backup (default: MIGTOOL_AGE_IDENTITY)


@dataclass
class RollbackOutcome:
    result: str
    database: str
    backup: str | None = None
    kept: str | None = None
    method: str | None = None
    downtime_seconds: float | None = None
    downtime_parts: dict[str, float] = field(default_factory=dict)  # stop app, swap, start app (healthy)
    prisma: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    row_diff: list[dict] = field(default_factory=list)
    safety_backup: str | None = None
    dropped: list[str] = field(default_factory=list)
    run_id: str = ""
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


# ---------------------------------------------------------------- pure decisions


def pick_before(backups: list[LocalBackup], migration: str, database: str) -> LocalBackup:
    """The newest backup of `database` whose manifest shows `migration` not yet applied."""
    for b in backups:  # newest first
        m = b.manifest
        if m is None or m.migrations is None or b.verified_ok is False:
            continue
        if m.database != database and b.name.database != database:
            continue
        if migration in (m.migrations.get("pending") or []) or migration in (m.migrations.get("failed") or []):
            return b
    raise CheckFailed(f"no backup of {database} taken before {migration} was applied (none whose manifest "
                      f"lists it as pending)", hint="migtool backups list; then migtool rollback --to NAME")


def room_decision(live_bytes: int | None, free_bytes: int | None) -> tuple[bool, str]:
    """(restore beside?, why)"""
    if free_bytes is None or live_bytes is None:
        return True, "free space on the server unknown: restoring beside the live database"
    need = int(live_bytes * ROOM_MARGIN) + ROOM_SLACK
    if free_bytes >= need:
        return True, f"room for a second copy ({free_bytes >> 20} MiB free, about {need >> 20} MiB needed)"
    return False, (f"no room for a second copy ({free_bytes >> 20} MiB free, about {need >> 20} MiB needed): "
                   "stop the app, safety backup, restore in place")


_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")


def parse_age(text: str) -> timedelta:
    m = _DURATION.match(text.strip().lower())
    if not m:
        raise ConfigError(f"--older-than must look like 30m, 12h, 7d or 2w, not {text!r}")
    n, unit = int(m.group(1)), m.group(2)
    return timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[unit]: n})


# ---------------------------------------------------------------- the app


class App:
    """Stop and start the app services (compose target); the direct target cannot, and says so."""

    def __init__(self, config: Config, db: Database):
        self.services = tuple(config.app_services) if isinstance(db, ComposeDatabase) else ()
        self.project = compose_project(config) if self.services else None
        self.stopped = False

    def describe(self) -> str:
        return ", ".join(self.services) if self.services else "(none: direct target)"

    def stop(self) -> None:
        if self.project is None:
            return
        self.project.stop(self.services, timeout=20)
        self.stopped = True

    def start(self) -> None:
        if self.project is None or not self.stopped:
            return
        self.project.start(list(self.services), wait=True)
        self.stopped = False


# ---------------------------------------------------------------- rollback


def run_rollback(config: Config, req: RollbackRequest, db: Database | None = None) -> RollbackOutcome:
    try:
        return _run_rollback(config, req, db)
    except StepFailed as exc:
        if not exc.hint:
            exc.hint = next_command_after_failure(exc.message)
        raise


def next_command_after_failure(message: str) -> str:
    """What to type after a failed step, from the state the message names."""
    state = message.rsplit("(state: ", 1)[1] if "(state: " in message else ""
    if "kept as" in state:  # the swap happened: the restored database is live
        return ("the rollback itself is done; fix what failed above (e.g. start the app: docker compose up -d), "
                "or go back: migtool rollback --undo")
    safety = re.search(r"safety backup (\S+?)\)?$", state)
    if safety:
        return f"to get the state from before back: migtool restore {safety.group(1)} --clean --yes"
    return "nothing was changed: fix the cause above and run the same command again (see `migtool runs`)"


def _run_rollback(config: Config, req: RollbackRequest, db: Database | None = None) -> RollbackOutcome:
    t_all = time.monotonic()
    with StepRunner("rollback", backup_dir=config.backup_dir, quiet=req.quiet) as run:
        run.state = "nothing changed"
        db = db or open_database(config)
        target = db.name
        admin = server.admin_of(db)
        app = App(config, db)
        run.set("database", target)
        backup = run.step("pick", _pick, config, req, target)
        run.set("backup", backup.filename)
        run.detail(backup.filename)
        identity = req.identity or config.age_identity
        run.step("verify", prove_whole_with_progress, backup, db, req.quiet, identity)
        if req.in_place:
            beside, why = False, "--in-place: stop the app, safety backup, restore in place"
            run.skip("room", "--in-place")
        else:
            beside, why = run.step("room", _room, db, admin, target)
        jobs, jobs_why = choose_jobs(backup, db, req.jobs)
        method = ("beside-and-swap" + (" (app stopped first)" if req.stop_first else "")) if beside else "in place"
        version = admin.query("SELECT current_setting('server_version') AS v")[0]["v"]
        rows = summary_rows(backup, f"{db.describe()}, PostgreSQL {version}", target,
                            f"ROLL BACK {target} to this backup, {method}: {why}; {jobs_why}; "
                            f"app services: {app.describe()}")
        rows.append(("lost", "writes made after the backup (counted per table afterwards; the current "
                             "database is kept, nothing is dropped)"))
        rerun = shlex.join(["migtool", "rollback", *(["--to", req.to] if req.to else ["--before", req.before])])
        run.step("confirm", confirm, rows, target, req.yes, rerun, req.ask, req.interactive)

        when = server.stamp()
        outcome = RollbackOutcome("rolled-back", target, backup.filename, method=method)
        start_app_now = None
        down_t0 = None

        def stop_app() -> None:
            nonlocal start_app_now, down_t0
            if not app.services:
                run.skip("stop app", "direct target: no app services to stop; their sessions end at the swap")
                return
            down_t0 = time.monotonic()
            run.step("stop app", app.stop)
            # From here on the app comes back whatever happens (on the old database if we fail).
            start_app_now = run.on_cleanup("start the app services", app.start)

        if beside:
            new = server.scratch_name(target, when)
            kept = server.kept_name(target, "rollback", when)
            server.create_like(admin, new, target)
            mine = {"name": new}
            run.on_cleanup("drop the unfinished copy",
                           lambda: mine["name"] and server.drop_unfinished(admin, mine["name"]))
            if req.stop_first:
                stop_app()
            run.state = f"database {target} unchanged" + ("; app stopped" if req.stop_first else "; app serving")
            loaded = run.step("restore", _load, db.with_database(new), backup, jobs, req.quiet, run, identity)
            run.step("check", _require_match, loaded, new)
            run.step("analyze", analyze, db.with_database(new))
            if not req.stop_first:
                stop_app()
            run.state = f"database {target} unchanged; app stopped (it is started again on exit)"
            run.step("swap", server.swap, admin, target, new, kept)
            mine["name"] = None
            outcome.kept = kept
            run.state = f"rolled back to {backup.filename}; previous database kept as {kept}"
            run.set("kept", kept)
        else:
            stop_app()
            safety = run.step("safety backup", _safety_backup, config, db)
            outcome.safety_backup = safety
            run.set("safety_backup", safety)
            run.state = f"database {target} being replaced in place; its state is in the safety backup {safety}"
            run.step("restore in place", _in_place, db, admin, target, backup, jobs, req.quiet, run, identity)
            run.state = f"rolled back to {backup.filename} in place; previous state in the safety backup {safety}"

        # The app starts before Prisma's history is repaired: the app does not read it, the next deploy
        # does, and the downtime is only what lies between stop and start.
        if start_app_now is not None:
            run.step("start app", start_app_now)
        else:
            run.skip("start app", "nothing was stopped")
        if down_t0 is not None and app.services:
            outcome.downtime_seconds = round(time.monotonic() - down_t0, 2)
            outcome.downtime_parts = {st.name: st.seconds for st in run.steps
                                      if st.name in ("stop app", "swap", "start app") and st.status == "ok"}
            run.set("downtime_seconds", outcome.downtime_seconds)
            run.set("downtime_parts", outcome.downtime_parts)
        outcome.prisma = run.step("prisma", _repair_prisma, config, db, run.run_id)
        outcome.pending = run.step("status", _pending, db, config)
        if outcome.kept:
            diffs = run.step("row diff", rowdiff.diff_databases, db.with_database(outcome.kept), db)
            outcome.row_diff = [d.to_json() for d in diffs if not d.same]
            run.set("row_diff", outcome.row_diff)
            for line in rowdiff.summary_lines(diffs):
                output.info(f"  {line}")
        run.set("pending", outcome.pending)
        run.finish("rolled-back")
        outcome.run_id = run.run_id
    outcome.seconds = round(time.monotonic() - t_all, 2)
    return outcome


def _pick(config: Config, req: RollbackRequest, target: str) -> LocalBackup:
    if bool(req.to) == bool(req.before):
        raise ConfigError("say which backup: --to BACKUP or --before MIGRATION", hint="migtool backups list")
    if req.to:
        return locate(config, req.to, quiet=req.quiet, database=target)
    return pick_before(catalog.scan(config.backup_dir), req.before, target)


def _room(db: Database, admin: Database, target: str) -> tuple[bool, str]:
    beside, why = room_decision(server.database_bytes(admin, target), server.server_free_bytes(db))
    return beside, why


def _load(db: Database, backup: LocalBackup, jobs: int, quiet: bool, run: StepRunner, identity=None):
    return load_with_progress(db, backup, jobs, False, quiet, run, identity)


def _require_match(loaded, where: str) -> None:
    if loaded.comparison.problems:
        raise CheckFailed(f"the restored copy {where} does not match the backup's manifest: "
                          + "; ".join(loaded.comparison.problems) + " (the live database was not touched)")


def _safety_backup(config: Config, db: Database) -> str:
    from migtool.backup.dump import BackupRequest, create_backup

    result = create_backup(db, BackupRequest(backup_dir=config.backup_dir, reason="before-rollback",
                                             format="custom", compression="zstd", target=config.target,
                                             migrations_dir=config.migrations_dir,
                                             recipients=config.encryption.recipients if config.encryption else ()))
    return result.path.name


def _in_place(db: Database, admin: Database, target: str, backup: LocalBackup, jobs: int, quiet: bool,
              run: StepRunner, identity=None) -> None:
    """No room for a second copy: empty the database by recreating it (same owner and locale), then load."""
    holder = server.scratch_name(target, server.stamp())
    server.create_like(admin, holder, target)  # a template of the live one's settings, empty
    try:
        server.drop(admin, target)
        admin.execute(f"ALTER DATABASE {quote_ident(holder)} RENAME TO {quote_ident(target)}")
    except MigtoolError:
        server.drop(admin, holder)
        raise
    loaded = _load(db, backup, jobs, quiet, run, identity)
    _require_match(loaded, target)
    analyze(db)


def _repair_prisma(config: Config, db: Database, run_id: str) -> list[str]:
    """A failed row restored from the backup would block the next deploy: mark it rolled back."""
    try:
        failed = prisma.failed_migrations(db, config.migrations_dir)
    except ConfigError as exc:
        return [f"not checked: {exc.message}"]
    if not failed:
        return ["nothing to repair: the restored _prisma_migrations has no failed row (a backup taken before "
                "a migration has no row for it, so it shows as pending again)"]
    done = []
    for name in failed:
        r = prisma.resolve(config, db, name, "rolled-back", run_id)
        done.append(f"{name}: marked rolled back ({r.how})")
    return done


def _pending(db: Database, config: Config) -> list[str]:
    from migtool.migration_status import read_status

    try:
        return [m.name for m in read_status(db, config.migrations_dir).will_apply()]
    except ConfigError:
        return []


# ---------------------------------------------------------------- undo and cleanup


def run_undo(config: Config, yes: bool = False, quiet: bool = False, ask: Any = None,
             interactive: bool | None = None, db: Database | None = None) -> RollbackOutcome:
    """Swap the newest kept copy back in; the database it replaces is kept in turn (undo is undoable)."""
    with StepRunner("rollback-undo", backup_dir=config.backup_dir, quiet=quiet) as run:
        run.state = "nothing changed"
        db = db or open_database(config)
        target = db.name
        admin = server.admin_of(db)
        app = App(config, db)
        copies = server.kept_copies_of(server.list_databases(admin), target)
        if not copies:
            raise CheckFailed(f"no kept copy of {target} to swap back (named {target}_before_rollback_*)",
                              hint="migtool rollback --to BACKUP")
        copy = copies[0]
        run.set("swap_in", copy.name)
        rows = [("database", target), ("swap in", f"{copy.name} (kept {copy.taken:%Y-%m-%d %H:%M:%S} UTC, "
                                                 f"before a {copy.why})"),
                ("keep", f"the current {target} as {target}_before_undo_<time>"),
                ("app", app.describe())]
        confirm(rows, target, yes, "migtool rollback --undo", ask, interactive)
        when = server.stamp()
        kept = server.kept_name(target, "undo", when)
        down_t0 = time.monotonic()
        start_now = None
        if app.services:
            run.step("stop app", app.stop)
            start_now = run.on_cleanup("start the app services", app.start)
            run.state = f"database {target} unchanged; app stopped (started again on exit)"
        run.step("swap", server.swap, admin, target, copy.name, kept)
        run.state = f"{copy.name} is {target} again; the replaced one is kept as {kept}"
        if start_now is not None:
            run.step("start app", start_now)
        outcome = RollbackOutcome("undone", target, kept=kept, method="swap back")
        if app.services:
            outcome.downtime_seconds = round(time.monotonic() - down_t0, 2)
        outcome.pending = run.step("status", _pending, db, config)
        run.set("kept", kept)
        run.finish("undone")
        outcome.run_id = run.run_id
    return outcome


def run_cleanup(config: Config, older_than: str | None, dry_run: bool = False, yes: bool = False,
                ask: Any = None, interactive: bool | None = None, db: Database | None = None,
                now: datetime | None = None) -> RollbackOutcome:
    db = db or open_database(config)
    admin = server.admin_of(db)
    age = parse_age(older_than) if older_than else timedelta(0)
    now = now or datetime.now(UTC)
    copies = [c for c in server.kept_copies_of(server.list_databases(admin), db.name) if now - c.taken >= age]
    outcome = RollbackOutcome("cleaned" if not dry_run else "dry-run", db.name)
    if not copies:
        output.info(f"no kept copies of {db.name}" + (f" older than {older_than}" if older_than else ""))
        return outcome
    for c in copies:
        output.info(f"{'would drop' if dry_run else 'drop'} {c.name} (kept {c.taken:%Y-%m-%d %H:%M} UTC, "
                    f"before a {c.why})")
    if dry_run:
        outcome.dropped = [c.name for c in copies]
        return outcome
    confirm([("drop", ", ".join(c.name for c in copies))], db.name, yes, "migtool rollback --cleanup", ask,
            interactive)
    with StepRunner("rollback-cleanup", backup_dir=config.backup_dir) as run:
        for c in copies:
            run.step(f"drop {c.name}", server.drop, admin, c.name)
            outcome.dropped.append(c.name)
        run.set("dropped", outcome.dropped)
        run.finish("cleaned")
    return outcome
