"""What the running scheduler leaves for its healthcheck: a small JSON file in the backup folder.

The healthcheck (`migtool backup --healthcheck`, run by the compose healthcheck) fails when no backup
has succeeded within 2 schedule periods: a stuck, crashed or failing scheduler is noticed even when
nothing else is watching.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

FILE_NAME = ".migtool-schedule.json"
PERIODS_ALLOWED = 2


@dataclass
class ScheduleState:
    schedule: str
    period_seconds: float
    started_at: str
    last_success_at: str | None = None
    last_success: str | None = None  # the backup's file name
    last_failure_at: str | None = None
    last_error: str | None = None
    runs: int = 0
    failures: int = 0


def path_for(backup_dir: Path) -> Path:
    return Path(backup_dir) / FILE_NAME


def write(backup_dir: Path, state: ScheduleState) -> None:
    from migtool.backup.files import write_atomic
    from migtool.errors import EnvironmentProblem

    try:
        Path(backup_dir).mkdir(parents=True, exist_ok=True)
        write_atomic(path_for(backup_dir), (json.dumps(asdict(state), indent=2) + "\n").encode())
    except OSError as exc:
        raise EnvironmentProblem(f"cannot write {path_for(backup_dir)}: {exc.strerror}",
                                 hint="check that backup_dir exists and is writable") from None


def read(backup_dir: Path) -> ScheduleState | None:
    try:
        data = json.loads(path_for(backup_dir).read_text(encoding="utf-8"))
        return ScheduleState(**data)
    except (OSError, ValueError, TypeError):
        return None


def health(state: ScheduleState | None, now: datetime) -> tuple[bool, str]:
    """(healthy, why). Pure."""
    if state is None:
        return False, "no scheduled backup is running here (no state file in the backup folder)"
    allowed = timedelta(seconds=state.period_seconds * PERIODS_ALLOWED)
    if state.last_success_at:
        last = datetime.fromisoformat(state.last_success_at)
        age = now - last
        if age <= allowed:
            return True, f"last backup {state.last_success} succeeded {int(age.total_seconds())} s ago"
        why = f"no backup succeeded for {int(age.total_seconds())} s (allowed: 2 periods, {int(allowed.total_seconds())} s)"
    else:
        age = now - datetime.fromisoformat(state.started_at)
        if age <= allowed:
            return True, f"started {int(age.total_seconds())} s ago; the first backup is not due yet"
        why = f"no backup has succeeded since the scheduler started {int(age.total_seconds())} s ago"
    if state.last_error:
        why += f"; last error: {state.last_error}"
    return False, why
