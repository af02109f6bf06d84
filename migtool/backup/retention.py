"""Which backups to keep: pure decisions, data in and data out (no prompts, no I/O).

Per database, newest first. Only backups that can restore count toward `keep_last`: those whose
verification passed or that were never checked. A backup whose verification failed never takes
a place among the newest `keep_last`, so a broken newest backup can never be the reason an intact
one is deleted; failed ones are kept until asked for explicitly (`prune_failed`, the CLI's
`backups prune --failed`). Whatever the settings:
- the newest verified backup of each database is kept (a proven restore point, however old);
- a pinned backup is kept (deploy-migrate pins the backup taken before a migration).
Backups without a usable manifest are not candidates at all: the caller leaves them alone.

Callers (backups prune, deploy-migrate, scheduled backups) use `plan` and act on `to_delete`.
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
    failed: bool = False  # its last verification found the file bad (a verdict, not an outage)
    pinned: bool = False  # never pruned


@dataclass(frozen=True)
class Decision:
    name: str
    database: str
    created: datetime
    keep: bool
    why: str


def plan(candidates: Iterable[Candidate], keep_last: int, keep_days: int, now: datetime,
         prune_failed: bool = False) -> list[Decision]:
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
        newest_verified = next((c.name for c in group if c.verified and not c.failed), None)
        counted = 0  # restorable backups seen so far, newest first
        for c in group:
            keep, why = _decide(c, counted, newest_verified, keep_last, keep_days, now, prune_failed)
            if not c.failed:
                counted += 1
            decisions.append(Decision(c.name, database, c.created, keep, why))
    return decisions


def _decide(c: Candidate, counted: int, newest_verified: str | None, keep_last: int, keep_days: int,
            now: datetime, prune_failed: bool) -> tuple[bool, str]:
    if c.pinned:
        return True, "pinned"
    if c.failed:
        if prune_failed:
            return False, "its verification failed (--failed)"
        return True, "verification failed: not counted toward keep_last; remove with --failed"
    if c.name == newest_verified:
        return True, "newest verified backup" if counted >= keep_last else f"among the newest {keep_last}"
    if counted < keep_last:
        return True, f"among the newest {keep_last}"
    if keep_days and now - c.created < timedelta(days=keep_days):
        return True, f"younger than {keep_days} days"
    return False, (f"older than {keep_days} days and not among the newest {keep_last}"
                   if keep_days else f"not among the newest {keep_last}")


def to_delete(decisions: Iterable[Decision]) -> list[Decision]:
    return [d for d in decisions if not d.keep]
