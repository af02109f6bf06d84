"""A backfill killed (SIGKILL) half-way and resumed ends with every row right, each updated once;
one interrupted (SIGINT) stops after its batch and records exactly what it did."""

import json
import signal
import time

import pytest

from tests.support.backupdb import cli_env, run_cli, start_cli
from tests.support.sql import sql

pytestmark = pytest.mark.integration

ROWS = 60_000
# n_updates counts how often a row was written: it must end at exactly 1 everywhere.
SET = "v = src * 2, n_updates = n_updates + 1"
SLOW = ["--batch-size", "500", "--sleep", "40"]  # ~120 batches, several seconds: time to interrupt
CONTENT = "SELECT md5(string_agg(id || ':' || coalesce(v::text, '-') || ':' || n_updates, ',' ORDER BY id)) FROM items"
EXPECTED = "SELECT md5(string_agg(id || ':' || (src * 2) || ':1', ',' ORDER BY id)) FROM items"


@pytest.fixture
def items(pg_url):
    sql(pg_url, "CREATE TABLE items (id bigint PRIMARY KEY, src int NOT NULL, v int, n_updates int NOT NULL DEFAULT 0)")
    sql(pg_url, f"INSERT INTO items (id, src) SELECT g * 3, (g * 7919) % 1000 FROM generate_series(1, {ROWS}) g")
    return pg_url


def args(*extra):
    return ["backfill", "--target", "direct", "--table", "items", "--set", SET, "--where", "v IS NULL", *extra]


def wait_for_progress(url, proc, rows, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the backfill ended before we could interrupt it: {proc.communicate()}")
        got = sql(url, "SELECT rows_done FROM migtool_backfill") if sql(
            url, "SELECT to_regclass('migtool_backfill') IS NOT NULL")[0][0] else []
        if got and got[0][0] >= rows:
            return
        time.sleep(0.02)
    raise AssertionError("the backfill made no progress in time")


def wait_until_gone(url, timeout=20.0):
    """The killed client's server session ends when PostgreSQL notices the closed socket."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sql(url, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'migtool backfill'")[0][0] == 0:
            return
        time.sleep(0.05)
    raise AssertionError("the killed backfill's session is still there")


def progress_matches_table(url):
    """The progress row agrees exactly with the data: done rows are right and once-only, the rest untouched."""
    (state, done, last), = sql(url, "SELECT state, rows_done, last_key FROM migtool_backfill")
    last_id = int(last[0])
    counts = sql(url, """
        SELECT count(*) FILTER (WHERE v IS NOT NULL),
               count(*) FILTER (WHERE v IS NOT NULL AND (v <> src * 2 OR n_updates <> 1)),
               count(*) FILTER (WHERE id <= %(last)s AND v IS NULL),
               count(*) FILTER (WHERE id > %(last)s AND (v IS NOT NULL OR n_updates <> 0))
        FROM items""", {"last": last_id})[0]
    assert counts == (done, 0, 0, 0)
    return state, done, last


def test_sigkill_half_way_then_resume_ends_with_every_row_right_once(items, tmp_path):
    env = cli_env(items)
    proc = start_cli(args(*SLOW, "--yes"), env, tmp_path)
    wait_for_progress(items, proc, ROWS // 4)
    proc.kill()
    proc.communicate(timeout=30)
    wait_until_gone(items)

    state, done, last = progress_matches_table(items)
    assert state == "running"  # it never got to say otherwise
    assert ROWS // 4 <= done < ROWS

    # Without --resume it refuses, and says where the earlier run was and what to type.
    refused = run_cli(args("--yes"), env, tmp_path)
    assert refused.returncode == 1
    assert "did not finish" in refused.stderr and f"{done:,} rows done" in refused.stderr
    assert "--resume" in refused.stderr

    res = run_cli(args("--resume", "--yes", "--json"), env, tmp_path)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["resumed_from"] == last
    assert summary["rows_updated"] == ROWS - done
    assert summary["rows_done_total"] == ROWS and summary["remaining"] == 0
    assert sql(items, CONTENT) == sql(items, EXPECTED)
    assert sql(items, "SELECT min(n_updates), max(n_updates) FROM items") == [(1, 1)]


def test_sigint_finishes_the_batch_and_records_progress(items, tmp_path):
    env = cli_env(items)
    proc = start_cli(args(*SLOW, "--yes"), env, tmp_path)
    wait_for_progress(items, proc, 5000)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted: progress recorded after key" in err
    assert "--resume" in err
    state, done, last = progress_matches_table(items)
    assert state == "interrupted" and 5000 <= done < ROWS
    assert f"{done:,} rows done" in err
    # the resumed run picks up after the recorded key and finishes the job
    res = run_cli(args("--resume", "--yes", "--json"), env, tmp_path)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["resumed_from"] == last
    assert sql(items, CONTENT) == sql(items, EXPECTED)


def test_a_second_run_of_the_same_job_is_refused_while_the_first_runs(items, tmp_path):
    env = cli_env(items)
    first = start_cli(args(*SLOW, "--yes"), env, tmp_path)
    try:
        wait_for_progress(items, first, 1000)
        second = run_cli(args("--resume", "--yes"), env, tmp_path)
        assert second.returncode == 1
        assert "another migtool backfill of this job" in second.stderr
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=30)
    assert first.returncode == 130
    progress_matches_table(items)
