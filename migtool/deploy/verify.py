"""The status checks around the migrate step: is the database fit to deploy onto (before), and did
every pending migration get applied (after)? Each refusal names the migration, its log line and the
exact commands for the ways out."""

from __future__ import annotations

from pathlib import Path

from migtool.config import Config
from migtool.database import Database, compose_project
from migtool.errors import CheckFailed
from migtool.migration_status import read_status
from migtool.migrations.state import MigrationStatus, State, StatusReport


def resolve_command(config: Config, name: str) -> str:
    """How to mark a failed migration rolled back (after fixing its SQL), where Prisma runs."""
    if config.target == "compose":
        return compose_project(config).hint_command("run", "--rm", config.migrate_service, "npx", "prisma",
                                                    "migrate", "resolve", "--rolled-back", name)
    return f"npx prisma migrate resolve --rolled-back {name}"


def rollback_command(backup: str | None) -> str:
    return f"migtool rollback --to {backup}" if backup else "migtool rollback --to BACKUP (see `migtool backups list`)"


def backup_before(backup_dir: Path, migration: str) -> str | None:
    """The newest backup taken while `migration` was still pending (the one to roll back to)."""
    from migtool.backup.catalog import scan

    for backup in scan(backup_dir):
        pending = ((backup.manifest.migrations or {}).get("pending") or []) if backup.manifest else []
        if migration in pending and backup.verified_ok is not False:
            return backup.filename
    return None


def _ways_out(config: Config, name: str, backup: str | None) -> str:
    return (f"either fix the migration's SQL, then `{resolve_command(config, name)}` and deploy again; "
            f"or restore the database: `{rollback_command(backup)}`")


def check_deployable(report: StatusReport, config: Config) -> list[MigrationStatus]:
    """The migrations the deploy will apply, or CheckFailed when a person must act first."""
    failed = report.with_state(State.FAILED)
    if failed:
        m = failed[0]
        backup = backup_before(config.backup_dir, m.name)
        raise CheckFailed(f"migration {m.name} failed in an earlier deploy: {m.note}; Prisma refuses to deploy "
                          "until it is resolved", hint=_ways_out(config, m.name, backup))
    modified = report.with_state(State.MODIFIED)
    if modified:
        names = ", ".join(m.name for m in modified)
        raise CheckFailed(f"applied migrations were changed since: {names} (checksum drift)",
                          hint="restore their migration.sql from version control; put new changes in a new "
                               "migration")
    missing = report.with_state(State.MISSING_LOCALLY)
    if missing:
        names = ", ".join(m.name for m in missing)
        raise CheckFailed(f"the database has migrations this checkout does not: {names}",
                          hint="check out the commit that has them (this checkout is behind the database), "
                               "or deploy from the right branch")
    invalid = report.with_state(State.INVALID)
    if invalid or report.problems:
        what = "; ".join([f"{m.name}: {m.note}" for m in invalid] + list(report.problems))
        raise CheckFailed(f"the migrations folder has problems: {what}", hint="fix the folder, then `migtool status`")
    if report.with_state(State.RUNNING) or report.deploy_running:
        raise CheckFailed("a Prisma migrate deploy holds Prisma's migration lock right now",
                          hint="wait for it; if no deploy is running, `migtool unlock` shows who holds it")
    return report.will_apply()


def verify_applied(db: Database, config: Config, pending: list[str], backup: str | None,
                   migrate_failure: str | None = None) -> StatusReport:
    """Status again: every name in `pending` must be applied now, else CheckFailed saying what failed,
    its log, the backup taken before, and the rollback command."""
    report = read_status(db, config.migrations_dir)
    by_name = {m.name: m for m in report.migrations}
    not_applied = [by_name.get(n) for n in pending if by_name.get(n) is None or by_name[n].state is not State.APPLIED]
    if not not_applied and migrate_failure is None:
        return report
    failed = next((m for m in not_applied if m is not None and m.state is State.FAILED), None)
    kept = f"; the backup taken before is {backup} (kept and pinned)" if backup else "; no backup was taken"
    if failed is not None:
        log = f": {failed.note}" if failed.note else ""
        applied = [n for n in pending if n in by_name and by_name[n].state is State.APPLIED]
        done = f" ({len(applied)} of {len(pending)} applied before it)" if applied else ""
        raise CheckFailed(f"migration {failed.name} failed{log}{done}{kept}",
                          hint=_ways_out(config, failed.name, backup))
    left = [n for n in pending if n not in by_name or by_name[n].state is not State.APPLIED]
    why = f"the migrate step failed ({migrate_failure})" if migrate_failure else "the migrate step ended"
    if left:
        raise CheckFailed(f"{why} and these migrations are not applied: {', '.join(left)}{kept}",
                          hint="read its output above and `migtool history`; nothing of them was recorded as "
                               f"started, so fix the cause and run deploy-migrate again, or `{rollback_command(backup)}`")
    raise CheckFailed(f"{why}, although every pending migration is recorded as applied{kept}",
                      hint="read the output above, then `migtool status`")
