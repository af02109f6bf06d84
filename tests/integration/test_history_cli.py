"""`migtool history` against a real PostgreSQL with Prisma's table."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.pgserver import free_port
from tests.support.prisma_table import PrismaTable, ticking_clock

pytestmark = pytest.mark.integration


def history(url, *extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGTOOL_") and k != "DATABASE_URL"}
    env["DATABASE_URL"] = url
    return subprocess.run([sys.executable, "-m", "migtool", "history", *extra, "--target", "direct"],
                          env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def table(pg_url):
    # Each step 40 s after the previous one, so durations and order are known.
    t = PrismaTable(pg_url, ticking_clock(datetime(2025, 6, 1, 8, 0, 0, tzinfo=UTC), timedelta(seconds=40)))
    t.create()
    return t


def test_no_table_is_not_an_error(pg_url):
    res = history(pg_url)
    assert res.returncode == 0, res.stderr
    assert "no _prisma_migrations table" in res.stdout
    res = history(pg_url, "--json")
    assert json.loads(res.stdout) == {"entries": [], "has_migrations_table": False}


def test_empty_table(pg_url, table):
    res = history(pg_url)
    assert res.returncode == 0 and "is empty" in res.stdout


def test_newest_attempt_first_failed_ones_included_with_their_error(pg_url, table):
    table.apply("20250101000000_init", b"CREATE TABLE a (id int);\n")
    table.fail("20250102000000_bad", b"ALTER TABLE nope ADD x int;\n", message='relation "nope" does not exist')
    table.resolve_rolled_back("20250102000000_bad")
    table.apply("20250102000000_bad", b"ALTER TABLE a ADD x int;\n")
    table.fail("20250103000000_worse", b"SELEC 1;\n", message='syntax error at or near "SELEC"', code="42601")

    res = history(pg_url, "--json")
    assert res.returncode == 0, res.stderr
    entries = json.loads(res.stdout)["entries"]
    assert [(e["name"], e["state"]) for e in entries] == [
        ("20250103000000_worse", "failed"),
        ("20250102000000_bad", "applied"),
        ("20250102000000_bad", "rolled-back"),
        ("20250101000000_init", "applied"),
    ]
    assert entries[0]["finished_at"] is None and entries[0]["duration_seconds"] is None
    assert entries[0]["log_summary"] == 'ERROR: syntax error at or near "SELEC"'
    assert entries[1]["duration_seconds"] == 40
    assert entries[1]["applied_steps_count"] == 1
    assert entries[3]["started_at"] == "2025-06-01T08:00:00+00:00"

    text = history(pg_url).stdout
    lines = [line for line in text.splitlines() if "2025-" in line]
    assert "20250103000000_worse" in lines[0] and "failed" in lines[0] and "syntax error" in lines[0]
    assert "20250101000000_init" in lines[-1] and "40.0 s" in lines[-1]
    assert lines[0].startswith("2025-06-01 08:")


def test_limit(pg_url, table):
    for i in range(12):
        table.apply(f"2025010100000{i:02d}_m", b"SELECT 1;\n")
    entries = json.loads(history(pg_url, "--json").stdout)["entries"]
    assert len(entries) == 10  # the default
    assert entries[0]["name"] == "2025010100000" + "11_m"
    entries = json.loads(history(pg_url, "-n", "3", "--json").stdout)["entries"]
    assert [e["name"] for e in entries] == [f"2025010100000{i:02d}_m" for i in (11, 10, 9)]


@pytest.mark.parametrize("bad", ["0", "-1", "ten"])
def test_bad_limit_is_usage_error(pg_url, bad):
    res = history(pg_url, "-n", bad)
    assert res.returncode == 2
    assert "whole number" in res.stderr


def test_unreachable_database_exit_3(pg_server):
    url = f"postgresql://postgres:{pg_server.password}@127.0.0.1:{free_port()}/postgres"
    res = history(url)
    assert res.returncode == 3
    assert pg_server.password not in res.stdout + res.stderr
