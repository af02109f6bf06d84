"""Pure parts of scheduled backups: cron parsing, GFS keeps, the healthcheck's verdict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from migtool.backup.retention import Candidate, plan
from migtool.errors import ConfigError
from migtool.schedule import gfs
from migtool.schedule.cron import parse
from migtool.schedule.state import ScheduleState, health

T0 = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)  # a Sunday


def c(name: str, created: datetime, failed: bool = False, db: str = "app") -> Candidate:
    return Candidate(name, db, created, verified=not failed, failed=failed)


def test_cron_with_seconds_and_period():
    s = parse("* * * * * */2")  # croniter: the 6th field is seconds
    assert s.next_after(T0) == T0 + timedelta(seconds=2)
    assert s.period(T0) == timedelta(seconds=2)
    assert parse("0 3 * * *").period(T0) == timedelta(days=1)


@pytest.mark.parametrize("bad", ["nope", "* * *", "61 * * * *", ""])
def test_bad_cron_is_a_config_error_with_an_example(bad):
    with pytest.raises(ConfigError) as exc:
        parse(bad)
    assert "0 3 * * *" in exc.value.hint


def test_gfs_keeps_newest_per_day_week_month():
    backups = [
        c("d0-late", T0), c("d0-early", T0 - timedelta(hours=5)),
        c("d1", T0 - timedelta(days=1)),
        c("d2", T0 - timedelta(days=2)),
        c("w-prev", T0 - timedelta(days=8)),  # previous ISO week (Sat 7 March)
        c("m-prev", T0 - timedelta(days=20)),  # February
        c("m-prev-early", T0 - timedelta(days=40)),  # 3 February: an older one of the same month
    ]
    keeps = gfs.keeps(backups, keep_daily=2, keep_weekly=2, keep_monthly=2)
    assert set(keeps) == {"d0-late", "d1", "w-prev", "m-prev"}
    assert "daily 2026-03-15" in keeps["d0-late"] and "monthly 2026-03" in keeps["d0-late"]
    assert keeps["w-prev"] == "newest of weekly 2026-W10"
    assert keeps["m-prev"] == "newest of monthly 2026-02"


def test_gfs_skips_failed_backups_and_days_without_backups():
    backups = [c("bad-today", T0, failed=True), c("yesterday", T0 - timedelta(days=1)),
               c("week-ago", T0 - timedelta(days=7))]
    assert set(gfs.keeps(backups, 2, 0, 0)) == {"yesterday", "week-ago"}


def test_gfs_only_adds_keeps_to_retention():
    backups = [c(f"b{i}", T0 - timedelta(days=i)) for i in range(10)]
    decisions = plan(backups, keep_last=1, keep_days=0, now=T0)
    assert sum(d.keep for d in decisions) == 1
    merged = gfs.apply(decisions, backups, keep_daily=3, keep_weekly=0, keep_monthly=0)
    assert [d.name for d in merged if d.keep] == ["b0", "b1", "b2"]
    assert gfs.apply(decisions, backups, 0, 0, 0) == decisions


def test_health_two_periods():
    st = ScheduleState(schedule="* * * * *", period_seconds=60, started_at=T0.isoformat())
    assert health(st, T0 + timedelta(seconds=100))[0]  # first backup not due beyond 2 periods yet
    bad, why = health(st, T0 + timedelta(seconds=121))
    assert not bad and "since the scheduler started" in why
    st.last_success_at, st.last_success = (T0 + timedelta(seconds=60)).isoformat(), "x.dump.zst"
    assert health(st, T0 + timedelta(seconds=180))[0]
    st.last_error = "database not reachable"
    ok, why = health(st, T0 + timedelta(seconds=181))
    assert not ok and "database not reachable" in why
    assert health(None, T0) == (False, "no scheduled backup is running here (no state file in the backup folder)")


def test_state_round_trip_and_unwritable_folder(tmp_path):
    from migtool.errors import EnvironmentProblem
    from migtool.schedule import state

    st = ScheduleState(schedule="0 3 * * *", period_seconds=86400, started_at=T0.isoformat(), runs=2)
    state.write(tmp_path / "b", st)
    assert state.read(tmp_path / "b") == st
    (tmp_path / "file").write_text("")
    with pytest.raises(EnvironmentProblem):
        state.write(tmp_path / "file", st)  # a file where the folder should be
