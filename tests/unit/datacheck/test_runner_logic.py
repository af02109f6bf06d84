"""The runner's decisions with a scripted executor (no database): when to sample, how estimates are
labelled, and that running out of time or a busy lock is a result, not an error."""

from __future__ import annotations

import json

from migtool.datacheck.plan import plan_sources
from migtool.datacheck.runner import LockBusy, QueryTimeout, Runner, Settings, parse_duration_ms


class Scripted:
    """Answers by the first matching fragment of the last statement; raises what it is told to."""

    server_version_num = 150000

    def __init__(self, answers):
        self.answers = answers
        self.seen = []

    def value(self, statements, timeout_ms):
        sql = statements[-1]
        self.seen.append((sql, timeout_ms))
        for fragment, answer in self.answers:
            if fragment in sql:
                if isinstance(answer, Exception):
                    raise answer
                return json.dumps(answer)
        raise AssertionError(f"unexpected query: {sql}")

    def close(self):
        pass


BIG = {"exists": True, "reltuples": 5_000_000, "relpages": 30000, "heap_bytes": 250 << 20, "total_bytes": 300 << 20}
SMALL = {"exists": True, "reltuples": -1, "relpages": 0, "heap_bytes": 8192, "total_bytes": 16384}


def checks(sql):
    return [c for c in plan_sources([("m.sql", sql)]) if c.kind != "table-size"]


def test_large_table_samples_first_and_keeps_the_estimate_when_the_exact_scan_times_out():
    ex = Scripted([("to_regclass", BIG), ("TABLESAMPLE", {"count": 10, "scanned": 100_000}), ("count(*)", QueryTimeout())])
    (r,) = Runner(ex, Settings()).run(checks('ALTER TABLE "U" ALTER COLUMN "p" SET NOT NULL;'))
    assert (r.result, r.count, r.exact, r.label, r.scanned) == ("will-fail", 500, False, "estimated", 100_000)
    assert (r.rows, r.rows_exact, r.size_bytes) == (5_000_000, False, 300 << 20)
    # Every query got what was left of the one budget.
    assert all(0 < t <= 5000 for _, t in ex.seen)


def test_large_table_exact_when_the_scan_fits():
    ex = Scripted([("to_regclass", BIG), ("TABLESAMPLE", {"count": 0, "scanned": 100_000}), ("count(*)", {"count": 0})])
    (r,) = Runner(ex, Settings()).run(checks('ALTER TABLE "U" ALTER COLUMN "p" SET NOT NULL;'))
    assert (r.result, r.count, r.exact, r.label) == ("ok", 0, True, "exact")


def test_no_duplicates_in_a_sample_proves_nothing():
    ex = Scripted([("to_regclass", BIG), ("TABLESAMPLE", {"count": 0, "rows": 0, "scanned": 99}),
                   ("GROUP BY", QueryTimeout())])
    (r,) = Runner(ex, Settings()).run(checks('CREATE UNIQUE INDEX "i" ON "U" ("e");'))
    assert (r.result, r.label) == ("unknown", "estimated")


def test_small_tables_are_counted_exactly_and_empty_ones_pass():
    ex = Scripted([("to_regclass", SMALL), ("SELECT json_build_object('count', count(*))::text FROM \"U\"", {"count": 0})])
    (r,) = Runner(ex, Settings()).run(checks('ALTER TABLE "U" ADD CONSTRAINT "c" CHECK (a > 0);'))
    assert (r.result, r.count, r.rows, r.rows_exact) == ("ok", 0, 0, True)


def test_timeouts_and_locks_are_results():
    (t,) = Runner(Scripted([("to_regclass", QueryTimeout())]), Settings(timeout_ms=2000)).run(
        checks('ALTER TABLE "U" ALTER COLUMN "p" SET NOT NULL;'))
    assert (t.result, t.label, t.text) == ("unknown", "timeout", "could not check within 2 s")
    (lock,) = Runner(Scripted([("to_regclass", LockBusy())]), Settings()).run(
        checks('ALTER TABLE "U" ALTER COLUMN "p" SET NOT NULL;'))
    assert lock.result == "unknown" and "not waiting" in lock.text


def test_a_missing_table_is_unknown():
    (r,) = Runner(Scripted([("to_regclass", {"exists": False})]), Settings()).run(
        checks('ALTER TABLE "U" ALTER COLUMN "p" SET NOT NULL;'))
    assert r.result == "unknown" and "not in the database" in r.text


def test_durations():
    assert [parse_duration_ms(x) for x in ("5s", "500ms", "1min", "2")] == [5000, 500, 60000, 2000]
