"""`migtool restore` as a runbook of steps: locate, verify, confirm, restore, check, swap.

Without --clean the backup goes into the target in one transaction (all or nothing), creating the
database when it does not exist. With --clean it is loaded into a new database beside the target,
checked against the manifest, analyzed, and only then swapped in; the previous database is kept as
`<db>_before_restore_<stamp>`. Any failure leaves the target exactly as it was, and drops what we
created. scripts/restore/postgres-restore.sh does the same without Python.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass, field
from typing import Any

from migtool.config import Config
from migtool.database import Database, open_database
from migtool.errors import CheckFailed
from migtool.restore import server
from migtool.restore.confirm import confirm, summary_rows
from migtool.restore.load import analyze, choose_jobs, load_with_progress, prove_whole_with_progress
from migtool.restore.source import latest_of, locate
from migtool.steps import StepFailed, StepRunner


@dataclass
class RestoreRequest:
    backup: str
    clean: bool = False
    yes: bool = False
    target_db: str | None = None
    from_s3: bool = False
    jobs: int | None = None
    quiet: bool = False
    ask: Any = None  # for tests: a function that answers the confirmation prompt
    interactive: bool | None = None
    identity: str | None = None  # age key file for an encrypted backup (default: MIGTOOL_AGE_IDENTITY)


@dataclass
class RestoreOutcome:
    backup: str
    database: str
    kept: str | None
    seconds: float
    jobs: int
    method: str
    warnings: list[str] = field(default_factory=list)
    run_id: str = ""


def rerun_command(req: RestoreRequest) -> str:
    parts = ["migtool", "restore", req.backup]
    if req.clean:
        parts.append("--clean")
    if req.target_db:
        parts += ["--target-db", req.target_db]
    if req.from_s3:
        parts.append("--from-s3")
    return shlex.join(parts)


def run_restore(config: Config, req: RestoreRequest, db: Database | None = None) -> RestoreOutcome:
    try:
        return _run_restore(config, req, db)
    except StepFailed as exc:
        if not exc.hint:
            exc.hint = "nothing was changed: fix the cause above and run the same command again (see `migtool runs`)"
        raise


def _run_restore(config: Config, req: RestoreRequest, db: Database | None = None) -> RestoreOutcome:
    with StepRunner("restore", backup_dir=config.backup_dir, quiet=req.quiet) as run:
        run.state = "nothing changed"
        backup = run.step("locate", locate, config, req.backup, req.from_s3, req.quiet)
        run.set("backup", backup.filename)
        db = db or open_database(config)
        if req.backup == "latest" and not req.from_s3:  # the newest of this database, not of the folder
            backup = latest_of(config.backup_dir, db.name)
            run.set("backup", backup.filename)
        target = db.name if req.target_db is None else req.target_db
        server.check_target_name(target)
        live = db.with_database(target)
        admin = server.admin_of(live)
        run.set("database", target)

        identity = req.identity or config.age_identity
        run.step("verify", prove_whole_with_progress, backup, db, req.quiet, identity)
        exists = run.step("inspect", server.exists, admin, target)
        if exists:
            run.step("target", server.refuse_template, admin, target)
        run.state = f"database {target} is unchanged" if exists else "nothing was created"
        jobs, why = choose_jobs(backup, db, req.jobs) if req.clean else (1, "one transaction")
        version = admin.query("SELECT current_setting('server_version') AS v")[0]["v"]
        if req.clean:
            action = (f"REPLACE the content of {target}: load beside it, check, then swap names "
                      f"(the previous database is kept); {why}")
        elif exists:
            action = (f"restore into the existing {target} in one transaction (fails, changing nothing, "
                      "if its objects exist: use --clean to replace)")
        else:
            action = f"create {target} and restore into it in one transaction"
        rows = summary_rows(backup, f"{db.describe()}, PostgreSQL {version}",
                            f"{target} ({'exists' if exists else 'does not exist'})", action)
        run.step("confirm", confirm, rows, target, req.yes, rerun_command(req), req.ask, req.interactive)

        t0 = time.monotonic()
        when = server.stamp()
        mine = {"name": None}  # a database we created and drop unless it became the target

        def drop_mine() -> None:
            if mine["name"]:
                server.drop_unfinished(admin, mine["name"])

        run.on_cleanup("drop the unfinished database", drop_mine)

        if not req.clean:
            if not exists:
                server.create_like(admin, target, None)
                mine["name"] = target
            loaded = run.step("restore", load_with_progress, live, backup, 1, True, req.quiet, run, identity)
            if not exists:  # an existing target had content of its own: counts would not match
                run.step("check", _require_match, loaded, target)
            mine["name"] = None
            run.state = f"{backup.filename} restored into {target}"
            outcome = RestoreOutcome(backup.filename, target, None, time.monotonic() - t0, 1, "one transaction")
            outcome.warnings = list(loaded.comparison.warnings)
            run.set("outcome", outcome.__dict__)
            run.finish("restored")
            outcome.run_id = run.run_id
            return outcome

        new = server.scratch_name(target, when)
        server.create_like(admin, new, target if exists else None)
        mine["name"] = new
        beside = live.with_database(new)
        loaded = run.step("restore", load_with_progress, beside, backup, jobs, False, req.quiet, run, identity)
        run.step("check", _require_match, loaded, new)
        run.step("analyze", analyze, beside)
        kept = None
        if exists:
            kept = server.kept_name(target, "restore", when)
            run.step("swap", server.swap, admin, target, new, kept)
        else:
            run.step("rename", admin.execute, f"ALTER DATABASE {_q(new)} RENAME TO {_q(target)}")
        mine["name"] = None
        run.state = f"{backup.filename} restored into {target}" + (f"; previous database kept as {kept}" if kept else "")
        outcome = RestoreOutcome(backup.filename, target, kept, time.monotonic() - t0, jobs,
                                 "beside-and-swap" if kept else "new database", list(loaded.comparison.warnings))
        run.set("outcome", outcome.__dict__)
        run.finish("restored")
        outcome.run_id = run.run_id
        return outcome


def _q(name: str) -> str:
    from migtool.backup.tables import quote_ident

    return quote_ident(name)


def _require_match(loaded, where: str) -> None:
    if loaded.comparison.problems:
        raise CheckFailed(f"the restored database {where} does not match the backup's manifest: "
                          + "; ".join(loaded.comparison.problems))
