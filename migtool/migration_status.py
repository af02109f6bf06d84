"""Where each Prisma migration stands: the entry points other commands use.

- `read_status(db, migrations_dir)` -> StatusReport (every migration's state; see migtool.migrations.state)
- `pending_migration_dirs(config)` -> the folders the next deploy applies, in order (for `migtool lint`)
- `migration_state_summary(db, migrations_dir)` -> a small dict for backup manifests
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from migtool.config import Config
from migtool.database import Database, open_database
from migtool.migrations.folder import read_migrations_folder
from migtool.migrations.state import HistoryEntry, State, StatusReport, compute_status, history_entries
from migtool.migrations.table import read_latest, read_table

__all__ = [
    "HistoryEntry",
    "State",
    "StatusReport",
    "migration_state_summary",
    "pending_migration_dirs",
    "read_history",
    "read_status",
]


def read_status(db: Database, migrations_dir: Path) -> StatusReport:
    """Compare the folder with the table. The folder is read first, so a wrong --migrations-dir is a
    configuration error (exit 2) even when the database is also down."""
    folder = read_migrations_folder(Path(migrations_dir))
    snapshot = read_table(db)
    return compute_status(folder.migrations, snapshot.rows, deploy_running=snapshot.deploy_running,
                          problems=folder.problems)


def read_history(db: Database, limit: int = 10) -> tuple[list[HistoryEntry], bool]:
    """The newest `limit` attempts, newest first, and whether the table exists at all."""
    snapshot = read_latest(db, limit)
    if snapshot.rows is None:
        return [], False
    return history_entries(snapshot.rows, deploy_running=snapshot.deploy_running, limit=limit), True


def pending_migration_dirs(config: Config) -> list[Path]:
    """Folders of the migrations the next `prisma migrate deploy` would apply (pending, or rolled back
    and still present), in apply order. Folders without a readable migration.sql are left out: status
    reports them. Raises EnvironmentProblem when the database cannot be reached."""
    report = read_status(open_database(config), config.migrations_dir)
    return [m.path for m in report.will_apply() if m.path is not None]


def migration_state_summary(db: Database, migrations_dir: Path) -> dict[str, Any]:
    """{"last_applied": name or None, "pending": [names], "failed": [names]} for a backup manifest.

    last_applied is the last migration in apply order that the database has applied; pending is what
    the next deploy applies (rolled-back ones included); failed lists migrations whose last attempt
    failed and is not resolved yet.
    """
    report = read_status(db, migrations_dir)
    return {
        "last_applied": report.last_applied(),
        "pending": [m.name for m in report.will_apply()],
        "failed": [m.name for m in report.with_state(State.FAILED)],
    }
