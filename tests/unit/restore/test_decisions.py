"""Pure decisions of restore and rollback: names, kept copies, room, ages, which backup, row diffs."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from migtool.backup.catalog import LocalBackup
from migtool.backup.manifest import Manifest
from migtool.backup.naming import parse_name
from migtool.errors import CheckFailed, ConfigError
from migtool.restore import server
from migtool.restore.confirm import age_text, confirm, migrations_text
from migtool.restore.rollback import parse_age, pick_before, room_decision
from migtool.restore.rowdiff import TableDiff, multiset_difference, summary_lines

WHEN = datetime(2025, 3, 1, 9, 30, 5, tzinfo=UTC)


def test_names_fit_postgres_and_parse_back():
    stamp = server.stamp(WHEN)
    assert stamp == "20250301093005"
    assert server.scratch_name("app", stamp) == "app_restore_20250301093005"
    kept = server.kept_name("app", "rollback", stamp)
    assert kept == "app_before_rollback_20250301093005"
    assert server.parse_kept(kept) == server.KeptCopy(kept, "app", "rollback", WHEN)
    long = "x" * 63
    assert len(server.kept_name(long, "rollback", stamp).encode()) == 63
    assert len(server.scratch_name("é" * 40, stamp).encode()) <= 63
    assert server.parse_kept("app") is None and server.parse_kept("app_before_rollback_2025") is None


def test_kept_copies_of_a_database_newest_first():
    names = ["app", "app_before_rollback_20250301093005", "app_before_undo_20250302093005",
             "other_before_rollback_20250303000000", "app_before_restore_20250228000000", "postgres"]
    names.append("ap_before_rollback_20250305000000")  # another database's copy, not a cut-down name
    long = "x" * 50
    cut = server.kept_name(long, "rollback", "20250301093005")
    assert [c.name for c in server.kept_copies_of([cut], long)] == [cut]
    copies = server.kept_copies_of(names, "app")
    assert [c.name for c in copies] == ["app_before_undo_20250302093005", "app_before_rollback_20250301093005",
                                        "app_before_restore_20250228000000"]


def test_df_output():
    text = "Filesystem     1024-blocks    Used Available Capacity Mounted on\noverlay 1000 500 400 50% /\n"
    assert server.parse_df(text) == 400 * 1024
    assert server.parse_df("garbage") is None


@pytest.mark.parametrize(("live", "free", "beside"), [
    (None, None, True), (100 << 20, None, True), (100 << 20, 1 << 30, True), (1 << 30, 500 << 20, False)])
def test_room_decision(live, free, beside):
    got, why = room_decision(live, free)
    assert got is beside and why


def test_parse_age():
    assert parse_age("7d") == timedelta(days=7)
    assert parse_age("12h") == timedelta(hours=12)
    assert parse_age("2w") == timedelta(weeks=2)
    with pytest.raises(ConfigError):
        parse_age("soon")


def backup(name: str, migrations: dict | None, verified: dict | None = None) -> LocalBackup:
    parsed = parse_name(name)
    m = Manifest(name=name, database=parsed.database, format=parsed.format, compression=parsed.compression,
                 size=1, sha256="0" * 64, started_at=parsed.created, finished_at=parsed.created,
                 migrations=migrations)
    return LocalBackup(Path(name), parsed, 1, m, None, verified)


def test_pick_before_takes_the_newest_backup_that_still_had_the_migration_pending():
    older = backup("app-20250101T000000Z-a.dump.zst", {"last_applied": "m1", "pending": ["m2", "m3"], "failed": []})
    newer = backup("app-20250102T000000Z-b.dump.zst", {"last_applied": "m1", "pending": ["m2"], "failed": []})
    after = backup("app-20250103T000000Z-c.dump.zst", {"last_applied": "m2", "pending": [], "failed": []})
    bad = backup("app-20250104T000000Z-d.dump.zst", {"last_applied": "m1", "pending": ["m2"], "failed": []},
                 {"ok": False})
    other = backup("other-20250105T000000Z-e.dump.zst", {"last_applied": "m1", "pending": ["m2"], "failed": []})
    newest_first = [other, bad, after, newer, older]
    assert pick_before(newest_first, "m2", "app") is newer
    assert pick_before(newest_first, "m3", "app") is older
    with pytest.raises(CheckFailed, match="no backup of app taken before m9"):
        pick_before(newest_first, "m9", "app")


def test_texts():
    assert age_text(WHEN - timedelta(minutes=5), WHEN) == "5 min ago"
    assert age_text(WHEN - timedelta(hours=2, minutes=3), WHEN) == "2 h 3 min ago"
    assert age_text(WHEN - timedelta(days=3, hours=1), WHEN) == "3 d 1 h ago"
    b = backup("app-20250101T000000Z-a.dump.zst", {"last_applied": "m1", "pending": ["m2"], "failed": []})
    assert migrations_text(b) == "last applied m1; pending then: m2"
    assert migrations_text(backup("app-20250101T000000Z-a.dump.zst", None)).startswith("unknown")


def test_confirm_needs_the_database_name_or_yes(capsys):
    rows = [("database", "app")]
    confirm(rows, "app", yes=True, rerun="migtool restore x")
    confirm(rows, "app", yes=False, rerun="r", ask=lambda prompt: "app\n", interactive=True)
    with pytest.raises(CheckFailed, match="not confirmed"):
        confirm(rows, "app", yes=False, rerun="r", ask=lambda prompt: "y\n", interactive=True)
    with pytest.raises(CheckFailed, match="no terminal") as info:
        confirm(rows, "app", yes=False, rerun="migtool restore x", interactive=False)
    assert info.value.hint == "migtool restore x --yes"


def test_multiset_difference_counts_duplicates():
    a = Counter({"x": 2, "y": 1})
    b = Counter({"x": 1, "z": 3})
    assert multiset_difference(a, b) == (2, 3)
    assert multiset_difference(a, a) == (0, 0)


def test_row_diff_lines():
    same = TableDiff("public.a", 5, 5, 0, 0)
    lost = TableDiff("public.b", 7, 5, 2, 0)
    cols = TableDiff("public.c", 5, 5, 0, 0, columns_only_in_restored=["phone"])
    big = TableDiff("public.d", 300000, 299000)
    gone = TableDiff("public.e", 3, None)
    assert summary_lines([same]) == ["all 1 tables hold the same rows in the kept and the restored copy"]
    lines = summary_lines([same, lost, cols, big, gone])
    assert lines[0] == ("public.b: 2 rows only in the kept copy (written or changed after the backup), "
                        "0 only in the restored one")
    assert lines[1] == "public.c: columns only in the restored copy: phone"
    assert lines[2] == "public.d: 300000 rows kept, 299000 restored (compared by count only)"
    assert lines[3] == "public.e: only in the kept copy (3 rows; gone after the rollback)"
    assert lines[4] == "1 other table(s) hold the same rows"


def test_the_next_command_after_a_failure_follows_the_state():
    from migtool.restore.rollback import next_command_after_failure as hint

    assert "rollback --undo" in hint("step start app failed: unhealthy (state: rolled back to b; previous "
                                     "database kept as app_before_rollback_20250301093005)")
    assert hint("step restore in place failed: x (state: database app being replaced in place; its state is in "
                "the safety backup app-20250301T093005Z-before-rollback.dump.zst)") == \
        "to get the state from before back: migtool restore app-20250301T093005Z-before-rollback.dump.zst --clean --yes"
    assert hint("step safety backup failed: disk full (state: nothing changed)").startswith("nothing was changed")
