from datetime import UTC, datetime, timedelta

from migtool.backup.leftovers import is_left_over, parse_scratch

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
COMMENT = "migtool verify scratch database (pid 4242 on build-host)"


def test_only_name_and_comment_together_make_a_scratch_database_ours():
    s = parse_scratch("migtool_verify_20260101110000_abc123", COMMENT, 0)
    assert s is not None and s.pid == 4242 and s.host == "build-host"
    assert s.created == datetime(2026, 1, 1, 11, tzinfo=UTC)
    assert parse_scratch("migtool_verify_20260101110000_abc123", "someone's database", 0) is None
    assert parse_scratch("migtool_verify_20260101110000_abc123", None, 0) is None
    assert parse_scratch("migtool_verify_backup_copy", COMMENT, 0) is None


def test_left_over_only_when_old_unused_and_its_process_is_gone():
    s = parse_scratch("migtool_verify_20260101110000_abc123", COMMENT, 0)
    assert is_left_over(s, NOW, hostname="other-host")
    assert not is_left_over(s, s.created + timedelta(minutes=2), hostname="other-host")  # may be running
    busy = parse_scratch("migtool_verify_20260101110000_abc123", COMMENT, 2)
    assert not is_left_over(busy, NOW, hostname="other-host")  # a restore is connected


def test_a_live_process_on_this_host_keeps_its_scratch_database():
    import os
    import socket

    mine = parse_scratch("migtool_verify_20260101110000_abc123",
                         f"migtool verify scratch database (pid {os.getpid()} on {socket.gethostname()})", 0)
    assert not is_left_over(mine, NOW)
