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


# ---------------------------------------------------------------- issue 9: failed and pinned backups


def f(name, days_old, db="app", verified=False, failed=False, pinned=False):
    return Candidate(name, db, NOW - timedelta(days=days_old), verified, failed=failed, pinned=pinned)


def test_a_failed_newest_backup_is_not_counted_toward_keep_last():
    """The bug: keep_last=1 kept the truncated newest one and deleted every intact backup."""
    cands = [f("broken", 0, failed=True), f("intact1", 40), f("intact2", 50)]
    decisions = plan(cands, keep_last=1, keep_days=0, now=NOW)
    assert kept(decisions) == ["broken", "intact1"]
    why = {d.name: d.why for d in decisions}
    assert "not counted" in why["broken"] and why["intact1"] == "among the newest 1"


def test_failed_backups_go_only_with_prune_failed():
    cands = [f("broken", 0, failed=True), f("ok", 1, verified=True), f("old-broken", 90, failed=True)]
    assert kept(plan(cands, 1, 0, NOW)) == ["broken", "ok", "old-broken"]
    assert kept(plan(cands, 1, 0, NOW, prune_failed=True)) == ["ok"]


def test_newest_verified_is_kept_even_when_newer_ones_are_failed_or_unchecked():
    cands = [f("broken", 0, failed=True), f("unchecked", 1), f("verified", 60, verified=True),
             f("older", 70, verified=True)]
    assert kept(plan(cands, 1, 0, NOW, prune_failed=True)) == ["unchecked", "verified"]


def test_pinned_is_never_deleted():
    cands = [f("new", 0), f("pinned", 400, pinned=True), f("pinned-broken", 500, failed=True, pinned=True)]
    decisions = plan(cands, 1, 0, NOW, prune_failed=True)
    assert kept(decisions) == ["new", "pinned", "pinned-broken"]
    assert {d.why for d in decisions if d.name.startswith("pinned")} == {"pinned"}


def test_a_pinned_backup_is_one_of_the_newest_kept():
    cands = [f("pinned", 0, pinned=True), f("a", 1), f("b", 2)]
    assert kept(plan(cands, 2, 0, NOW)) == ["pinned", "a"]


def test_to_delete():
    from migtool.backup.retention import to_delete

    assert [d.name for d in to_delete(plan([f("a", 0), f("b", 9)], 1, 0, NOW))] == ["b"]
