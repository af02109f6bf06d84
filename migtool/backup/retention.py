"""Which backups to keep: pure decisions, data in and data out.

Per database, a backup is kept when it is among the newest `keep_last`, or younger than
`keep_days`, or the newest one whose verification passed (a proven restore point is never
pruned, however old). Backups without a usable manifest are not candidates at all: the caller
leaves them alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Candidate:
    name: str
    database: str
    created: datetime
    verified: bool  # its last verification passed


@dataclass(frozen=True)
class Decision:
    name: str
    database: str
    created: datetime
    keep: bool
    why: str


def plan(candidates: Iterable[Candidate], keep_last: int, keep_days: int, now: datetime) -> list[Decision]:
    """Decisions for every candidate, grouped by database, newest first within each."""
    if keep_last < 1:
        raise ValueError("keep_last must be at least 1")
    if keep_days < 0:
        raise ValueError("keep_days must not be negative")
    by_db: dict[str, list[Candidate]] = {}
    for c in candidates:
        by_db.setdefault(c.database, []).append(c)
    decisions: list[Decision] = []
    for database in sorted(by_db):
        group = sorted(by_db[database], key=lambda c: (c.created, c.name), reverse=True)
        newest_verified = next((c.name for c in group if c.verified), None)
        for i, c in enumerate(group):
            age = now - c.created
            if i < keep_last:
                keep, why = True, f"among the newest {keep_last}"
            elif keep_days and age < timedelta(days=keep_days):
                keep, why = True, f"younger than {keep_days} days"
            elif c.name == newest_verified:
                keep, why = True, "newest verified backup"
            else:
                keep, why = False, (f"older than {keep_days} days and not among the newest {keep_last}"
                                    if keep_days else f"not among the newest {keep_last}")
            decisions.append(Decision(c.name, database, c.created, keep, why))
    return decisions
