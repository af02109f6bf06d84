"""The state of every migration, from the local folder and the `_prisma_migrations` rows. No I/O.

How Prisma (6.x) reads the table, which these rules follow:
- `migrate deploy` applies, in folder-name order, every local migration that has no row with
  `rolled_back_at` NULL; it refuses to start while any row has `finished_at` and `rolled_back_at`
  both NULL (a failed migration).
- `migrate resolve --rolled-back NAME` only sets `rolled_back_at` on the failed row; the next deploy
  inserts a new row for the same name. `resolve --applied` rolls the failed row back and inserts an
  applied one. So one name can have many rows, and the newest relevant row decides.

States (one per migration name):
- applied: a finished, not rolled-back row, and the file still has a checksum Prisma accepts.
- modified: applied, but the file changed since (no accepted checksum form matches).
- pending: in the folder, no row at all (what `prisma migrate status` lists as not yet applied).
- rolled-back: every row is rolled back. With its folder present the next deploy re-applies it, so
  it counts as pending for the exit code; without its folder nothing will happen to it.
- failed: a row with neither finished_at nor rolled_back_at; deploys are blocked until resolved.
- running: such a row while a deploy holds Prisma's advisory lock (the migration is being applied).
- missing-locally: applied in the database, but its folder is not here (wrong branch or checkout?).
- invalid: a folder Prisma would try to apply but cannot read (no migration.sql).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from migtool.migrations.checksum import checksum_matches, prisma_checksum


class State(StrEnum):
    APPLIED = "applied"
    PENDING = "pending"
    ROLLED_BACK = "rolled-back"
    RUNNING = "running"
    FAILED = "failed"
    MODIFIED = "modified"
    MISSING_LOCALLY = "missing-locally"
    INVALID = "invalid"


# States that mean someone must act before the next deploy can be trusted.
WRONG_STATES = frozenset({State.FAILED, State.MODIFIED, State.MISSING_LOCALLY, State.INVALID})

EXIT_UP_TO_DATE = 0
EXIT_PENDING = 1
EXIT_WRONG = 2


def parse_timestamp(value: Any) -> datetime | None:
    """A timestamp as PostgreSQL's JSON gives it; naive values (a hand-made table) are taken as UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class MigrationRow:
    """One row of `_prisma_migrations` (one attempt at applying one migration)."""

    id: str
    migration_name: str
    checksum: str
    started_at: datetime
    finished_at: datetime | None = None
    rolled_back_at: datetime | None = None
    logs: str | None = None
    applied_steps_count: int = 0

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> MigrationRow:
        started = parse_timestamp(row.get("started_at"))
        if started is None:
            raise ValueError(f"row {row.get('id')!r} of _prisma_migrations has no started_at")
        return cls(
            id=str(row["id"]),
            migration_name=str(row["migration_name"]),
            checksum=str(row.get("checksum") or ""),
            started_at=started,
            finished_at=parse_timestamp(row.get("finished_at")),
            rolled_back_at=parse_timestamp(row.get("rolled_back_at")),
            logs=row.get("logs"),
            applied_steps_count=int(row.get("applied_steps_count") or 0),
        )

    @property
    def unfinished(self) -> bool:
        return self.finished_at is None and self.rolled_back_at is None

    @property
    def applied(self) -> bool:
        return self.finished_at is not None and self.rolled_back_at is None

    @property
    def rolled_back(self) -> bool:
        return self.rolled_back_at is not None


@dataclass(frozen=True)
class LocalMigration:
    """One folder of the migrations directory."""

    name: str
    path: Path
    script: bytes | None  # the raw bytes of migration.sql; None when it cannot be read
    problem: str | None = None  # why script is None


@dataclass(frozen=True)
class MigrationStatus:
    name: str
    state: State
    path: Path | None  # the local folder, if there is one
    checksum_file: str | None
    checksum_db: str | None
    started_at: datetime | None
    finished_at: datetime | None
    rolled_back_at: datetime | None
    logs: str | None
    attempts: int  # rows in the table for this name
    note: str  # one line for people: why this state, or what to look at

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": str(self.state),
            "checksum_file": self.checksum_file,
            "checksum_db": self.checksum_db,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "logs": self.logs,
            "rolled_back_at": _iso(self.rolled_back_at),
            "attempts": self.attempts,
            "path": str(self.path) if self.path else None,
            "note": self.note,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class StatusReport:
    migrations: tuple[MigrationStatus, ...]
    has_table: bool
    deploy_running: bool = False
    problems: tuple[str, ...] = ()  # folder-wide problems (e.g. the lock file names another provider)

    def with_state(self, *states: State) -> list[MigrationStatus]:
        return [m for m in self.migrations if m.state in states]

    def will_apply(self) -> list[MigrationStatus]:
        """What the next `prisma migrate deploy` applies, in the order it applies them."""
        return [m for m in self.migrations
                if m.state is State.PENDING or (m.state is State.ROLLED_BACK and m.path is not None)]

    def last_applied(self) -> str | None:
        """The last migration, in apply order, that the database has applied (and not rolled back)."""
        applied = self.with_state(State.APPLIED, State.MODIFIED, State.MISSING_LOCALLY)
        return applied[-1].name if applied else None

    def out_of_order(self) -> list[MigrationStatus]:
        """Migrations the next deploy applies although a newer one is applied already (a branch merged
        late): Prisma runs them anyway, after the newer ones, in an order nobody tested."""
        newest = max((m.name for m in self.with_state(State.APPLIED, State.MODIFIED, State.MISSING_LOCALLY)),
                     default=None)
        return [m for m in self.will_apply() if newest is not None and m.name < newest]

    def summary(self) -> dict[str, int]:
        counts = {str(s): 0 for s in State}
        for m in self.migrations:
            counts[str(m.state)] += 1
        return counts

    def exit_code(self) -> int:
        """0 up to date, 1 something is still to apply (or being applied), 2 something is wrong."""
        if self.problems or self.with_state(*WRONG_STATES):
            return EXIT_WRONG
        if self.will_apply() or self.with_state(State.RUNNING):
            return EXIT_PENDING
        return EXIT_UP_TO_DATE

    def to_json(self) -> dict[str, Any]:
        return {
            "migrations": [m.to_json() for m in self.migrations],
            "summary": self.summary(),
            "has_migrations_table": self.has_table,
            "deploy_running": self.deploy_running,
            "problems": list(self.problems),
            "out_of_order": [m.name for m in self.out_of_order()],
        }


def _rows_by_name(rows: Iterable[MigrationRow]) -> dict[str, list[MigrationRow]]:
    grouped: dict[str, list[MigrationRow]] = defaultdict(list)
    # Oldest first, so the last row of each list is the newest attempt.
    for row in sorted(rows, key=lambda r: (r.started_at, r.id)):
        grouped[row.migration_name].append(row)
    return grouped


def _one(name: str, local: LocalMigration | None, rows: Sequence[MigrationRow],
         deploy_running: bool) -> MigrationStatus:
    unfinished = [r for r in rows if r.unfinished]
    applied = [r for r in rows if r.applied]
    row: MigrationRow | None = None
    checksum_file = prisma_checksum(local.script) if local is not None and local.script is not None else None

    if local is not None and local.script is None:
        state, note = State.INVALID, local.problem or "migration.sql cannot be read"
        row = rows[-1] if rows else None
    elif unfinished:
        row = unfinished[-1]
        if deploy_running:
            state, note = State.RUNNING, "a deploy is applying it right now"
        else:
            state, note = State.FAILED, _first_error_line(row.logs) or "failed without logs"
        if local is None:
            note += " (its folder is missing here)"
    elif applied:
        row = applied[-1]
        if local is None:
            state, note = State.MISSING_LOCALLY, "applied in the database, but no folder here"
        elif local.script is not None and checksum_matches(local.script, row.checksum):
            state, note = State.APPLIED, ""
        else:
            state, note = State.MODIFIED, "migration.sql changed after it was applied"
    elif rows:
        row = rows[-1]
        state = State.ROLLED_BACK
        note = ("rolled back; the next deploy re-applies it" if local is not None
                else "rolled back and its folder removed; nothing will re-apply it")
    else:
        state, note = State.PENDING, ""

    return MigrationStatus(
        name=name,
        state=state,
        path=local.path if local is not None else None,
        checksum_file=checksum_file,
        checksum_db=row.checksum if row is not None else None,
        started_at=row.started_at if row is not None else None,
        finished_at=row.finished_at if row is not None else None,
        rolled_back_at=row.rolled_back_at if row is not None else None,
        logs=row.logs if row is not None else None,
        attempts=len(rows),
        note=note,
    )


def compute_status(
    local: Sequence[LocalMigration],
    rows: Sequence[MigrationRow] | None,
    *,
    deploy_running: bool = False,
    problems: Sequence[str] = (),
) -> StatusReport:
    """Every migration's state. `rows` is None when the database has no `_prisma_migrations` table."""
    local_by_name = {m.name: m for m in local}
    if len(local_by_name) != len(local):
        raise ValueError("two local migrations share a name")
    grouped = _rows_by_name(rows or ())
    # Prisma applies in folder-name order; names only in the table sort among them by the same rule.
    names = sorted(set(local_by_name) | set(grouped))
    statuses = tuple(_one(n, local_by_name.get(n), grouped.get(n, []), deploy_running) for n in names)
    return StatusReport(statuses, has_table=rows is not None, deploy_running=deploy_running,
                        problems=tuple(problems))


# ---------------------------------------------------------------- history


@dataclass(frozen=True)
class HistoryEntry:
    """One attempt (one row), as the history table shows it."""

    name: str
    state: State  # applied, failed, running or rolled-back: the row's own state
    started_at: datetime
    finished_at: datetime | None
    rolled_back_at: datetime | None
    duration_seconds: float | None
    applied_steps_count: int
    logs: str | None

    @property
    def log_summary(self) -> str:
        return _first_error_line(self.logs)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": str(self.state),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "rolled_back_at": _iso(self.rolled_back_at),
            "duration_seconds": self.duration_seconds,
            "applied_steps_count": self.applied_steps_count,
            "log_summary": self.log_summary or None,
            "logs": self.logs,
        }


def history_entries(rows: Iterable[MigrationRow], *, deploy_running: bool = False,
                    limit: int | None = None) -> list[HistoryEntry]:
    """Newest attempt first, by started_at: a failed or running attempt has no finished_at, and an
    operator looking at history wants to see it at the top, where it happened, not sorted apart."""
    ordered = sorted(rows, key=lambda r: (r.started_at, r.id), reverse=True)
    if limit is not None:
        ordered = ordered[:limit]
    out = []
    for r in ordered:
        if r.rolled_back:
            state = State.ROLLED_BACK
        elif r.unfinished:
            state = State.RUNNING if deploy_running else State.FAILED
        else:
            state = State.APPLIED
        duration = (r.finished_at - r.started_at).total_seconds() if r.finished_at is not None else None
        out.append(HistoryEntry(r.migration_name, state, r.started_at, r.finished_at, r.rolled_back_at,
                                duration, r.applied_steps_count, r.logs))
    return out


# Lines of Prisma's failure logs that never say what went wrong: its preamble and labels (native
# engine), the driver adapter's wrapper line, and backtrace frames ("0: crate::fn", "at file.rs:1").
_LOG_NOISE = re.compile(
    r"^(A migration failed to apply\b.*|Migration name:.*|Database error code:.*|Database error:?"
    r"|external connector error|\d+: \S+|at \S+:\d+|with \w+=.*)$"
)


def _first_error_line(logs: str | None) -> str:
    """The line of a failure log that says what went wrong.

    The server's `ERROR:` line when there is one (native engine), else the first line that is not
    boilerplate (the driver adapter's message, e.g. "No such table: x"), else the first line.
    """
    if not logs:
        return ""
    lines = [line.strip() for line in logs.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("ERROR:"):
            return line
    for line in lines:
        if not _LOG_NOISE.match(line):
            return line
    return lines[0] if lines else ""
