"""Row locks: a batch that meets one backs off and retries smaller, never skipping the row, and
completes once the lock is released; when writers queue on the backfill's own locks it pauses."""

import json
import threading
import time

import psycopg
import pytest

from tests.support.backupdb import cli_env, start_cli
from tests.support.sql import sql

pytestmark = pytest.mark.integration


@pytest.fixture
def items(pg_url):
    sql(pg_url, "CREATE TABLE items (id int PRIMARY KEY, src int NOT NULL, v int, touched int NOT NULL DEFAULT 0)")
    sql(pg_url, "INSERT INTO items (id, src) SELECT g, g % 97 FROM generate_series(1, 20000) g")
    return pg_url


def backfill_waiting_on_a_lock(url) -> bool:
    return sql(url, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'migtool backfill' "
                    "AND wait_event_type = 'Lock'")[0][0] > 0


def test_a_locked_row_is_retried_until_released_never_skipped(items, tmp_path):
    app = psycopg.connect(items)  # an application transaction holding one row in the middle
    app.execute("UPDATE items SET v = -1 WHERE id = 10000")
    proc = start_cli(["backfill", "--target", "direct", "--table", "items", "--set", "v = src * 2",
                      "--batch-size", "1000", "--max-lock-wait", "100", "--yes", "--json"], cli_env(items), tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not backfill_waiting_on_a_lock(items):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the backfill never reached the locked row"
            time.sleep(0.01)
        # Smaller and smaller batches get everything up to the locked row, and nothing past it.
        while sql(items, "SELECT count(*) FROM items WHERE id < 10000 AND v IS NULL")[0][0]:
            assert time.monotonic() < deadline, "the batches before the locked row did not complete"
            time.sleep(0.05)
        time.sleep(1.0)  # more lock timeouts and backoffs on the locked row itself
        assert sql(items, "SELECT count(*) FROM items WHERE id > 10000 AND v IS NOT NULL") == [(0,)]
        assert proc.poll() is None
    finally:
        app.commit()  # the application's own write (v = -1) commits
        app.close()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert summary["state"] == "done" and summary["remaining"] == 0
    assert summary["retries"] >= 2 and summary["batch_sizes"]["min"] < 1000
    assert "LockNotAvailable" in err  # each retry is said, not silent
    # The application's write is not overwritten: the UPDATE re-checks the condition on the new row.
    assert sql(items, "SELECT v FROM items WHERE id = 10000") == [(-1,)]
    assert sql(items, "SELECT count(*) FROM items WHERE id <> 10000 AND v IS DISTINCT FROM src * 2") == [(0,)]
    assert summary["rows_updated"] == 19999


def test_writers_waiting_on_the_backfill_make_it_pause_and_shrink(items, tmp_path):
    # Each row costs ~0.5 ms, so a batch of 400 holds its row locks for 200 ms or more.
    slow = "v = src * 2 + length(pg_sleep(0.0005)::text)"
    proc = start_cli(["backfill", "--target", "direct", "--table", "items", "--set", slow, "--where", "v IS NULL AND id <= 4000",
                      "--batch-size", "400", "--yes", "--json"], cli_env(items), tmp_path)
    stop = threading.Event()
    waits: list[float] = []

    def writer():
        # As the app would: single-row updates by key, aimed just ahead of the committed progress,
        # i.e. inside the batch that is running.
        with psycopg.connect(items, autocommit=True) as c:
            while not stop.is_set():
                row = c.execute("SELECT last_key FROM migtool_backfill").fetchone() if c.execute(
                    "SELECT to_regclass('migtool_backfill') IS NOT NULL").fetchone()[0] else None
                target = int(row[0][0]) + 20 if row and row[0] else 20
                t0 = time.monotonic()
                c.execute("UPDATE items SET touched = touched + 1 WHERE id = %s", (target,))
                waits.append(time.monotonic() - t0)
                stop.wait(0.05)

    t = threading.Thread(target=writer)
    t.start()
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        stop.set()
        t.join()
    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert summary["pauses"] >= 1 and "waited on the backfill's locks" in err
    assert summary["batch_sizes"]["min"] < 400
    assert sql(items, "SELECT count(*) FROM items WHERE id <= 4000 AND v IS DISTINCT FROM src * 2") == [(0,)]
    assert max(waits) > 0.05  # the writer really did queue behind a batch
