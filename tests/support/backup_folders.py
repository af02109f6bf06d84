"""Backup folders for the `backups list` / `backups prune` tests: the varied database behind a direct
target, and backups dated in the past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from migtool.backup.dump import BackupRequest, create_backup
from migtool.config import Secret
from migtool.database import DirectDatabase
from tests.support.backupdb import seed_varied


def varied_database(url: str) -> DirectDatabase:
    """The database at `url`, seeded with tests/support/backupdb.py's varied data."""
    seed_varied(url)
    return DirectDatabase(Secret(url))


def backup_at(db: DirectDatabase, folder: Path, days_ago: float, reason: str) -> Path:
    """A real sql/zstd backup in `folder`, named and recorded as if made `days_ago` days ago."""
    when = datetime.now(UTC) - timedelta(days=days_ago)
    return create_backup(db, BackupRequest(folder, reason, "sql", "zstd"), clock=lambda: when).path
