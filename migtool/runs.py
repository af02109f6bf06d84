"""Run records: one JSON line per operation run (deploy-migrate, rollback, ...) in <backup_dir>/history.jsonl.

The file is append-only and each record is written with one write() and fsynced, so a crash can at
worst leave a torn last line, which the reader skips. The records live beside the backups because
that folder is what an operator keeps (and copies) when everything else is gone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

RUNS_FILE = "history.jsonl"


def runs_path(backup_dir: Path) -> Path:
    return Path(backup_dir) / RUNS_FILE


def append_run(backup_dir: Path, record: dict[str, Any]) -> Path:
    """Append one record durably; creates the folder (0700) and file (0600) when missing."""
    path = runs_path(backup_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    line = (json.dumps(record, default=str, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        # A torn last line left by a crash would glue itself to our record: start on a new line.
        if os.fstat(fd).st_size and not _ends_with_newline(path):
            line = b"\n" + line
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def read_runs(backup_dir: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """Records oldest first (the last `limit` of them); lines that do not parse are skipped."""
    path = runs_path(backup_dir)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except (NotADirectoryError, IsADirectoryError):
        from migtool.errors import ConfigError

        raise ConfigError(f"cannot read the run records {path}: it or its folder is not what it should be "
                          "(a file in backup_dir's path, or a folder named history.jsonl)",
                          hint="set backup_dir in migtool.yaml (or --backup-dir) to the backups folder") from None
    records = []
    for raw in data.splitlines():
        raw = raw.strip()
        if not raw:
            continue
        try:
            record = json.loads(raw)
        except ValueError:
            continue  # a torn line from a crash mid-write
        if isinstance(record, dict):
            records.append(record)
    return records[-limit:] if limit else records
