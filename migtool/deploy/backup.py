"""The backup step: take a backup, prove it whole before anything changes, and pin it.

A pre-deploy backup is pinned (retention never prunes it) until a later deploy has succeeded with a
backup of its own on top of it: then the older pins of ours are lifted, so there is always a
proven restore point from before the latest risky change."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migtool.backup.catalog import LocalBackup, load, scan, set_pinned
from migtool.backup.dump import BackupRequest, create_backup
from migtool.backup.verify import verify_backup
from migtool.config import Config
from migtool.database import Database
from migtool.deploy.preflight import check_backup_space, database_size
from migtool.errors import CheckFailed

PIN_REASON = "pre-deploy"


@dataclass
class TakenBackup:
    name: str
    path: Path
    finished_at: str
    size: int
    sha256: str
    precedes: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "finished_at": self.finished_at, "size": self.size, "sha256": self.sha256,
                "precedes": self.precedes, "verified": True, "pinned": True}


def take_verified_backup(db: Database, config: Config, run_id: str, pending: list[str]) -> TakenBackup:
    check_backup_space(config, database_size(db))
    request = BackupRequest(backup_dir=config.backup_dir, reason=PIN_REASON, format=config.backup_format,
                            compression=config.backup_compression, target=config.target,
                            migrations_dir=config.migrations_dir,
                            recipients=config.encryption.recipients if config.encryption else ())
    result = create_backup(db, request)
    # Pinned before it is verified: a backup that a failed check leaves behind is still not pruned.
    set_pinned(result.path, True, reason=f"{PIN_REASON} {run_id}: before {', '.join(pending)}")
    # Encrypted and no identity on this host: the encrypted file is checked, with a warning.
    report = verify_backup(load(result.path), db, identity=config.age_identity)
    if not report.ok:
        raise CheckFailed(f"the backup {result.path.name} failed verification: {'; '.join(report.problems)}; "
                          "nothing was migrated", hint=f"migtool backups verify {result.path.name}")
    m = result.manifest
    precedes = list((m.migrations or {}).get("pending") or pending)
    return TakenBackup(m.name, result.path, m.finished_at.isoformat().replace("+00:00", "Z"), m.size, m.sha256,
                       precedes)


def release_older_pins(backup_dir: Path, newest: str) -> list[str]:
    """After a deploy succeeded with backup `newest`, unpin our older pre-deploy backups."""
    released = []
    backups: list[LocalBackup] = scan(backup_dir)
    keep = next((b for b in backups if b.filename == newest), None)
    if keep is None:
        return released
    for b in backups:
        if b.filename != newest and b.pinned and b.reason == PIN_REASON and b.created < keep.created:
            set_pinned(b.path, False)
            released.append(b.filename)
    return released
