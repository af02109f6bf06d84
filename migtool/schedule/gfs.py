"""Grandfather-father-son keeps: the newest backup of each of the last N days, ISO weeks and months.

Pure: data in, data out. Like restic's --keep-daily: the last N days *that have a backup* count,
so a week without backups does not use up the daily keeps. Failed backups never fill a slot. Days
are UTC days. The result only ever adds keeps to retention.plan's decisions, never removes one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime

from migtool.backup.retention import Candidate, Decision


def _day(t: datetime) -> str:
    return t.strftime("%Y-%m-%d")


def _week(t: datetime) -> str:
    year, week, _ = t.isocalendar()
    return f"{year}-W{week:02d}"


def _month(t: datetime) -> str:
    return t.strftime("%Y-%m")


PERIODS: tuple[tuple[str, Callable[[datetime], str]], ...] = (("daily", _day), ("weekly", _week), ("monthly", _month))


def keeps(candidates: Iterable[Candidate], keep_daily: int, keep_weekly: int, keep_monthly: int) -> dict[str, str]:
    """name -> why, for the backups the policy keeps (per database)."""
    wanted = {"daily": keep_daily, "weekly": keep_weekly, "monthly": keep_monthly}
    by_db: dict[str, list[Candidate]] = {}
    for c in candidates:
        if not c.failed:
            by_db.setdefault(c.database, []).append(c)
    out: dict[str, list[str]] = {}
    for group in by_db.values():
        group.sort(key=lambda c: (c.created, c.name), reverse=True)
        for label, bucket in PERIODS:
            n = wanted[label]
            seen: list[str] = []
            for c in group:
                if len(seen) >= n:
                    break
                key = bucket(c.created)
                if key not in seen:  # newest first: the first one seen is the newest of its period
                    seen.append(key)
                    out.setdefault(c.name, []).append(f"{label} {key}")
    return {name: "newest of " + ", ".join(whys) for name, whys in out.items()}


def apply(decisions: list[Decision], candidates: Iterable[Candidate], keep_daily: int, keep_weekly: int,
          keep_monthly: int) -> list[Decision]:
    """retention.plan's decisions with the GFS keeps added."""
    extra = keeps(candidates, keep_daily, keep_weekly, keep_monthly)
    return [replace(d, keep=True, why=extra[d.name]) if not d.keep and d.name in extra else d for d in decisions]
