"""When scheduled backups run: a cron expression (5 fields, or 6 with seconds last), read by croniter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from migtool.errors import ConfigError


@dataclass(frozen=True)
class Schedule:
    expr: str

    def next_after(self, when: datetime) -> datetime:
        from croniter import croniter

        return croniter(self.expr, when).get_next(datetime)

    def period(self, when: datetime) -> timedelta:
        """The gap between the two runs after `when` (for `0 3 * * *`: a day; irregular ones vary)."""
        first = self.next_after(when)
        return self.next_after(first) - first


def parse(expr: str) -> Schedule:
    from croniter import croniter

    text = " ".join(expr.split())
    if not croniter.is_valid(text) or len(text.split()) not in (5, 6):
        raise ConfigError(f"not a cron schedule: {expr!r}",
                          hint='migtool backup --schedule "0 3 * * *"   (minute hour day month weekday; '
                               'a 6th field is seconds)')
    schedule = Schedule(text)
    try:  # valid fields can still name a date that never comes (`0 3 31 2 *`: February 31st)
        schedule.period(datetime.now(UTC))
    except Exception as exc:  # croniter's CroniterBadDateError and friends
        raise ConfigError(f"the cron schedule {expr!r} never runs: {exc}",
                          hint='check the day and month fields, e.g. migtool backup --schedule "0 3 * * *"') from None
    return schedule
