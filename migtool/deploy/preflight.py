"""Preflight: the doctor checks that matter for a deploy, plus enough free disk for a backup.

The checks are `migtool doctor`'s own (docker, compose, the services, the database, pg_dump's
version, the folders), so a failure here reads the same as there and carries the same fix.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from migtool.config import Config
from migtool.database import Database, open_database
from migtool.doctor import Check, run_checks
from migtool.errors import ConfigError, EnvironmentProblem

MIB = 1024 * 1024
# pg_dump's compressed output is far smaller than pg_database_size (no indexes, no bloat,
# compressed), so asking for the database's own size as free space leaves a wide margin.
MIN_FREE = 64 * MIB


@dataclass
class Preflight:
    db: Database
    checks: list[Check]
    database_bytes: int | None
    free_bytes: int | None

    def summary(self) -> str:
        ok = sum(1 for c in self.checks if c.status == "ok")
        disk = ""
        if self.free_bytes is not None and self.database_bytes is not None:
            disk = f"; database {self.database_bytes // MIB} MiB, {self.free_bytes // MIB} MiB free for backups"
        return f"{ok} checks passed{disk}"


def free_space(path: Path) -> int:
    probe = Path(path)
    while not probe.exists():
        probe = probe.parent
    return shutil.disk_usage(probe).free


def needed_for_backup(database_bytes: int) -> int:
    return max(MIN_FREE, database_bytes)


def check_backup_space(config: Config, database_bytes: int) -> int:
    """Free bytes in the backup folder; EnvironmentProblem when a backup may not fit."""
    free = free_space(config.backup_dir)
    if free < needed_for_backup(database_bytes):
        raise EnvironmentProblem(
            f"not enough free disk for a backup in {config.backup_dir}: {free // MIB} MiB free, the database "
            f"is {database_bytes // MIB} MiB", hint="free some space (`migtool backups prune`), or point backup_dir "
                                                   "elsewhere")
    return free


def database_size(db: Database) -> int:
    return int(db.query("SELECT pg_database_size(current_database()) AS size")[0]["size"])


def run_preflight(config: Config, *, backup_certain: bool = False) -> Preflight:
    """All checks; raises the failures together (environment first: exit 3, else configuration: 2).
    With backup_certain (--backup always) the free disk is checked here; otherwise the backup step
    checks it only when lint says a backup is needed."""
    if config.target == "direct" and not config.migrate_command:
        # Found here, not at the migrate step: before the lock, the lint and a backup are spent on it.
        raise ConfigError("the direct target needs migrate_command: the command that applies the migrations "
                          "here, e.g. `npx prisma migrate deploy`",
                          hint="set migrate_command in migtool.yaml (or MIGTOOL_MIGRATE_COMMAND)")
    checks = run_checks(config)
    failures = [c for c in checks if c.status == "fail"]
    if failures:
        text = "; ".join(f"{c.name}: {c.detail}" for c in failures)
        hint = failures[0].fix or "run `migtool doctor`"
        if any(c.kind == "environment" for c in failures):
            raise EnvironmentProblem(text, hint=hint)
        raise ConfigError(text, hint=hint)
    db = open_database(config)
    size = database_size(db)
    free = check_backup_space(config, size) if backup_certain else free_space(config.backup_dir)
    return Preflight(db, checks, size, free)
