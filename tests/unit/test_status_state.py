from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from migtool.commands.history import format_duration
from migtool.commands.status import next_steps, summary_line
from migtool.migrations.checksum import prisma_checksum
from migtool.migrations.state import (
    LocalMigration,
    MigrationRow,
    State,
    compute_status,
    history_entries,
    parse_timestamp,
)

T0 = datetime(2025, 3, 1, 9, 0, 0, tzinfo=UTC)
DIR = Path("/repo/prisma/migrations")


def local(name, sql=b"SELECT 1;\n"):
    return LocalMigration(name, DIR / name, sql)


class Rows:
    """Rows as Prisma writes them, each attempt one minute after the previous one."""

    def __init__(self):
        self.rows = []
        self.t = T0

    def _next(self):
        self.t += timedelta(minutes=1)
        return self.t

    def applied(self, name, sql=b"SELECT 1;\n", seconds=2):
        start = self._next()
        self.rows.append(MigrationRow(f"id-{len(self.rows)}", name, prisma_checksum(sql), start,
                                      finished_at=start + timedelta(seconds=seconds), applied_steps_count=1))
        return self

    def failed(self, name, sql=b"SELECT 1;\n", logs="Database error:\nERROR: boom\n"):
        self.rows.append(MigrationRow(f"id-{len(self.rows)}", name, prisma_checksum(sql), self._next(),
                                      logs=logs))
        return self

    def roll_back_failed(self, name):
        at = self._next()
        self.rows = [MigrationRow(r.id, r.migration_name, r.checksum, r.started_at, r.finished_at, at, r.logs,
                                  r.applied_steps_count) if r.migration_name == name and r.unfinished else r
                     for r in self.rows]
        return self


def states(report):
    return {m.name: str(m.state) for m in report.migrations}


def test_no_table_means_everything_pending():
    report = compute_status([local("20250101_a"), local("20250102_b")], None)
    assert states(report) == {"20250101_a": "pending", "20250102_b": "pending"}
    assert report.has_table is False
    assert report.exit_code() == 1
    assert [m.name for m in report.will_apply()] == ["20250101_a", "20250102_b"]
    assert report.last_applied() is None


def test_empty_folder_and_no_table_is_up_to_date():
    report = compute_status([], None)
    assert report.migrations == ()
    assert report.exit_code() == 0


def test_all_applied_exits_0():
    rows = Rows().applied("20250101_a").applied("20250102_b").rows
    report = compute_status([local("20250101_a"), local("20250102_b")], rows)
    assert states(report) == {"20250101_a": "applied", "20250102_b": "applied"}
    assert report.exit_code() == 0
    assert report.last_applied() == "20250102_b"
    a = report.migrations[0]
    assert a.checksum_file == a.checksum_db == prisma_checksum(b"SELECT 1;\n")
    assert a.finished_at == a.started_at + timedelta(seconds=2)


def test_pending_after_applied_exits_1():
    rows = Rows().applied("20250101_a").rows
    report = compute_status([local("20250101_a"), local("20250102_b")], rows)
    assert states(report)["20250102_b"] == "pending"
    assert report.exit_code() == 1
    pending = report.migrations[1]
    assert pending.checksum_db is None and pending.started_at is None and pending.attempts == 0


def test_failed_shows_error_line_and_exits_2():
    rows = Rows().applied("20250101_a").failed("20250102_b", logs="Migration name: x\n\nDatabase error:\n"
                                                                   "ERROR: column \"c\" does not exist\n").rows
    report = compute_status([local("20250101_a"), local("20250102_b")], rows)
    b = report.migrations[1]
    assert b.state is State.FAILED
    assert b.note == 'ERROR: column "c" does not exist'
    assert b.finished_at is None and b.started_at is not None
    assert "Migration name" in b.logs
    assert report.exit_code() == 2
    assert report.will_apply() == []
    assert report.last_applied() == "20250101_a"


def test_unfinished_row_during_a_deploy_is_running_not_failed():
    rows = Rows().applied("20250101_a").failed("20250102_b", logs=None).rows
    report = compute_status([local("20250101_a"), local("20250102_b")], rows, deploy_running=True)
    assert states(report)["20250102_b"] == "running"
    assert report.exit_code() == 1


def test_rolled_back_is_reapplied_by_next_deploy_and_exits_1():
    rows = Rows().applied("20250101_a").failed("20250102_b").roll_back_failed("20250102_b").rows
    report = compute_status([local("20250101_a"), local("20250102_b"), local("20250103_c")], rows)
    assert states(report) == {"20250101_a": "applied", "20250102_b": "rolled-back", "20250103_c": "pending"}
    assert report.exit_code() == 1
    assert [m.name for m in report.will_apply()] == ["20250102_b", "20250103_c"]
    assert report.migrations[1].rolled_back_at is not None


def test_rolled_back_then_reapplied_is_applied_with_two_attempts():
    rows = (Rows().failed("20250101_a").roll_back_failed("20250101_a").applied("20250101_a", seconds=5).rows)
    report = compute_status([local("20250101_a")], rows)
    a = report.migrations[0]
    assert a.state is State.APPLIED
    assert a.attempts == 2
    assert a.rolled_back_at is None
    assert a.finished_at - a.started_at == timedelta(seconds=5)  # the newest row decides
    assert report.exit_code() == 0


def test_reapplied_after_fix_compares_the_file_with_the_applied_row_not_the_failed_one():
    broken, fixed = b"ALTER TABLE nope ADD x int;\n", b"ALTER TABLE yes ADD x int;\n"
    rows = Rows().failed("20250101_a", sql=broken).roll_back_failed("20250101_a").applied("20250101_a", fixed).rows
    report = compute_status([local("20250101_a", fixed)], rows)
    assert report.migrations[0].state is State.APPLIED


def test_resolve_applied_after_failure_is_applied():
    rows = Rows().failed("20250101_a").roll_back_failed("20250101_a").applied("20250101_a", seconds=0).rows
    assert compute_status([local("20250101_a")], rows).migrations[0].state is State.APPLIED


def test_rows_given_in_any_order_give_the_same_answer():
    rows = Rows().failed("20250101_a").roll_back_failed("20250101_a").applied("20250101_a").rows
    forward = compute_status([local("20250101_a")], rows)
    backward = compute_status([local("20250101_a")], list(reversed(rows)))
    assert forward == backward


def test_second_failure_after_rollback_is_failed():
    rows = (Rows().failed("20250101_a", logs="ERROR: first").roll_back_failed("20250101_a")
            .failed("20250101_a", logs="ERROR: second").rows)
    m = compute_status([local("20250101_a")], rows).migrations[0]
    assert m.state is State.FAILED and m.note == "ERROR: second" and m.attempts == 2


def test_modified_file_exits_2():
    rows = Rows().applied("20250101_a", sql=b"CREATE TABLE a (id int);\n").rows
    report = compute_status([local("20250101_a", b"CREATE TABLE a (id bigint);\n")], rows)
    m = report.migrations[0]
    assert m.state is State.MODIFIED
    assert m.checksum_file != m.checksum_db
    assert report.exit_code() == 2
    assert report.last_applied() == "20250101_a"


def test_crlf_checkout_of_an_lf_applied_file_is_not_modified():
    lf = b"CREATE TABLE a (id int);\nCREATE INDEX ON a (id);\n"
    rows = Rows().applied("20250101_a", sql=lf).rows
    report = compute_status([local("20250101_a", lf.replace(b"\n", b"\r\n"))], rows)
    assert report.migrations[0].state is State.APPLIED
    assert report.exit_code() == 0


def test_lf_checkout_of_a_crlf_applied_file_is_not_modified():
    crlf = b"CREATE TABLE a (id int);\r\n"
    rows = Rows().applied("20250101_a", sql=crlf).rows
    assert compute_status([local("20250101_a", b"CREATE TABLE a (id int);\n")], rows).migrations[0].state \
        is State.APPLIED


def test_missing_locally_exits_2_and_sorts_among_local_ones():
    rows = Rows().applied("20250101_a").applied("20250102_b").applied("20250103_c").rows
    report = compute_status([local("20250101_a"), local("20250103_c")], rows)
    assert [(m.name, str(m.state)) for m in report.migrations] == [
        ("20250101_a", "applied"), ("20250102_b", "missing-locally"), ("20250103_c", "applied")]
    b = report.migrations[1]
    assert b.path is None and b.checksum_file is None and b.checksum_db is not None
    assert report.exit_code() == 2


def test_failed_and_missing_locally_is_failed():
    rows = Rows().failed("20250101_a").rows
    m = compute_status([], rows).migrations[0]
    assert m.state is State.FAILED and "folder is missing" in m.note


def test_rolled_back_and_removed_is_not_pending():
    # A failed migration was rolled back and its folder deleted in favour of a fixed one.
    rows = Rows().failed("20250101_bad").roll_back_failed("20250101_bad").applied("20250102_good").rows
    report = compute_status([local("20250102_good")], rows)
    assert states(report) == {"20250101_bad": "rolled-back", "20250102_good": "applied"}
    assert report.will_apply() == []
    assert report.exit_code() == 0


def test_folder_without_script_is_invalid_and_not_applied_next():
    broken = LocalMigration("20250102_b", DIR / "20250102_b", None, "no migration.sql in this folder")
    report = compute_status([local("20250101_a"), broken], Rows().applied("20250101_a").rows)
    m = report.migrations[1]
    assert m.state is State.INVALID and m.note == "no migration.sql in this folder"
    assert report.will_apply() == []
    assert report.exit_code() == 2


def test_folder_problems_exit_2():
    report = compute_status([local("20250101_a")], Rows().applied("20250101_a").rows,
                            problems=["migration_lock.toml names mysql"])
    assert report.exit_code() == 2


def test_wrong_beats_pending_for_exit_code():
    rows = Rows().applied("20250101_a", sql=b"old").rows
    report = compute_status([local("20250101_a", b"new"), local("20250102_b")], rows)
    assert report.exit_code() == 2


def test_order_is_by_name_whatever_order_folders_and_rows_come_in():
    rows = Rows().applied("20250103_c").applied("20250101_a").rows
    report = compute_status([local("20250104_d"), local("20250101_a"), local("20250103_c"),
                             local("20250102_b")], rows)
    assert [m.name for m in report.migrations] == ["20250101_a", "20250102_b", "20250103_c", "20250104_d"]
    assert [m.name for m in report.will_apply()] == ["20250102_b", "20250104_d"]
    assert report.last_applied() == "20250103_c"


def test_duplicate_local_names_are_a_bug_in_the_caller():
    with pytest.raises(ValueError):
        compute_status([local("a"), local("a")], None)


def test_summary_and_json_have_every_state_key():
    rows = Rows().applied("20250101_a").failed("20250102_b").rows
    report = compute_status([local("20250101_a"), local("20250102_b"), local("20250103_c")], rows)
    summary = report.summary()
    assert list(summary) == ["applied", "pending", "rolled-back", "running", "failed", "modified",
                             "missing-locally", "invalid"]
    assert summary["applied"] == 1 and summary["failed"] == 1 and summary["pending"] == 1
    data = report.to_json()
    assert set(data["migrations"][0]) >= {"name", "state", "checksum_file", "checksum_db", "started_at",
                                          "finished_at", "logs"}
    assert data["migrations"][0]["started_at"] == "2025-03-01T09:01:00+00:00"
    assert data["migrations"][2]["started_at"] is None
    assert data["summary"] == summary


def test_summary_line_names_non_zero_states_only():
    assert summary_line({"applied": 2, "pending": 1, "failed": 0}) == "3 migrations: 2 applied, 1 pending"
    assert summary_line({"applied": 1}) == "1 migration: 1 applied"
    assert summary_line({"applied": 0}) == "no migrations in the folder or the table"


def test_next_steps_name_the_failed_migration_and_the_modified_file():
    rows = Rows().applied("20250101_a", sql=b"old").failed("20250102_b").rows
    report = compute_status([local("20250101_a", b"new"), local("20250102_b")], rows)
    steps = next_steps(report)
    assert "prisma migrate resolve --rolled-back 20250102_b" in steps[0]
    assert any(str(DIR / "20250101_a") in s for s in steps)


def test_parse_timestamp_accepts_postgres_json_and_naive_values():
    assert parse_timestamp("2025-01-02T03:04:05.123456+00:00") == datetime(2025, 1, 2, 3, 4, 5, 123456, UTC)
    assert parse_timestamp("2025-01-02T04:04:05+01:00") == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_timestamp("2025-01-02T03:04:05.5").tzinfo is UTC
    assert parse_timestamp(None) is None


def test_row_from_json_rejects_a_row_without_started_at():
    with pytest.raises(ValueError):
        MigrationRow.from_json({"id": "x", "migration_name": "a", "checksum": "c", "started_at": None})


# ---------------------------------------------------------------- history


def test_history_is_newest_first_with_failures_where_they_happened():
    rows = (Rows().applied("20250101_a", seconds=3).failed("20250102_b").roll_back_failed("20250102_b")
            .applied("20250102_b", seconds=90).failed("20250103_c", logs="noise\nERROR: syntax error\n").rows)
    entries = history_entries(rows)
    assert [(e.name, str(e.state)) for e in entries] == [
        ("20250103_c", "failed"), ("20250102_b", "applied"), ("20250102_b", "rolled-back"),
        ("20250101_a", "applied")]
    assert entries[0].duration_seconds is None
    assert entries[0].log_summary == "ERROR: syntax error"
    assert entries[1].duration_seconds == 90
    assert entries[3].duration_seconds == 3


def test_history_limit_and_running_state():
    rows = Rows().applied("a").applied("b").failed("c", logs=None).rows
    entries = history_entries(rows, deploy_running=True, limit=2)
    assert [(e.name, str(e.state)) for e in entries] == [("c", "running"), ("b", "applied")]
    assert entries[0].log_summary == ""


def test_log_summary_falls_back_to_first_non_empty_line():
    rows = Rows().failed("a", logs="\n\n  connection reset by peer \nmore\n").rows
    assert history_entries(rows)[0].log_summary == "connection reset by peer"


@pytest.mark.parametrize("seconds,shown", [(None, ""), (0.0123, "12 ms"), (2.25, "2.2 s"), (59.9, "59.9 s"),
                                           (61, "1 min 1 s"), (3725, "1 h 2 min")])
def test_format_duration(seconds, shown):
    assert format_duration(seconds) == shown


# Real logs written by Prisma 6.19.3 for a failed script: with the pg driver adapter (engine "js")
# and with the native schema engine.
ADAPTER_LOG = """external connector error
No such table: Nope
   0: sql_schema_connector::apply_migration::apply_script
           with migration_name="20250301090000_broken"
             at schema-engine/connectors/sql-schema-connector/src/apply_migration.rs:113
"""
NATIVE_LOG = """A migration failed to apply. New migrations cannot be applied before the error is recovered from.

Migration name: 20250301090000_broken

Database error code: 42P01

Database error:
ERROR: relation "Nope" does not exist

DbError { severity: "ERROR", code: SqlState(E42P01) }
"""


@pytest.mark.parametrize("logs,summary", [(ADAPTER_LOG, "No such table: Nope"),
                                          (NATIVE_LOG, 'ERROR: relation "Nope" does not exist'),
                                          ("external connector error\n", "external connector error")])
def test_log_summary_finds_the_line_that_says_what_went_wrong(logs, summary):
    m = compute_status([local("20250301090000_broken")], Rows().failed("20250301090000_broken", logs=logs).rows)
    assert m.migrations[0].note == summary
