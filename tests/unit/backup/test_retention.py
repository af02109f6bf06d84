from datetime import UTC, datetime, timedelta

import pytest

from migtool.backup.retention import Candidate, plan

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


def c(name, days_old, db="app", verified=False):
    return Candidate(name, db, NOW - timedelta(days=days_old), verified)


def kept(decisions):
    return [d.name for d in decisions if d.keep]


def test_keeps_newest_n_or_younger_than_days():
    cands = [c("d0", 0), c("d1", 1), c("d5", 5), c("d40", 40), c("d50", 50)]
    decisions = plan(cands, keep_last=2, keep_days=30, now=NOW)
    assert kept(decisions) == ["d0", "d1", "d5"]
    why = {d.name: d.why for d in decisions}
    assert why["d0"] == "among the newest 2" and why["d5"] == "younger than 30 days"
    assert "older than 30 days" in why["d40"]


def test_old_backups_are_kept_when_among_newest():
    decisions = plan([c("a", 100), c("b", 200), c("x", 300)], keep_last=2, keep_days=30, now=NOW)
    assert kept(decisions) == ["a", "b"]


def test_newest_verified_is_never_deleted():
    cands = [c("new", 0), c("mid", 40), c("oldv", 60, verified=True), c("oldest", 90, verified=True)]
    decisions = plan(cands, keep_last=1, keep_days=7, now=NOW)
    assert kept(decisions) == ["new", "oldv"]
    assert next(d for d in decisions if d.name == "oldv").why == "newest verified backup"


def test_keep_days_zero_means_count_only():
    decisions = plan([c("a", 0), c("b", 0.1), c("c", 0.2)], keep_last=1, keep_days=0, now=NOW)
    assert kept(decisions) == ["a"]
    assert next(d for d in decisions if d.name == "c").why == "not among the newest 1"


def test_each_database_has_its_own_retention():
    cands = [c("app1", 50, "app"), c("app2", 60, "app"), c("other1", 70, "other")]
    decisions = plan(cands, keep_last=1, keep_days=1, now=NOW)
    assert kept(decisions) == ["app1", "other1"]


def test_input_order_does_not_matter():
    cands = [c("old", 90), c("new", 0), c("mid", 45)]
    assert kept(plan(cands, 1, 30, NOW)) == kept(plan(list(reversed(cands)), 1, 30, NOW)) == ["new"]


def test_bad_settings():
    with pytest.raises(ValueError):
        plan([], keep_last=0, keep_days=1, now=NOW)
    with pytest.raises(ValueError):
        plan([], keep_last=1, keep_days=-1, now=NOW)
