"""Data checks on a 5-million-row table: each returns within its timeout with an exact or a labelled
estimated result; meanwhile pg_locks shows migtool's sessions holding nothing stronger than
ACCESS SHARE, and no transaction id (no write)."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from migtool.config import Secret
from migtool.database import DirectDatabase
from migtool.datacheck import check_sources
from migtool.datacheck.runner import APPLICATION_NAME, Settings

pytestmark = pytest.mark.integration

ROWS = 5_000_000
STATEMENTS = [
    'ALTER TABLE "Big" ALTER COLUMN "phone" SET NOT NULL;',
    'ALTER TABLE "Big" ADD CONSTRAINT "Big_code_key" UNIQUE ("code");',
    'ALTER TABLE "Big" ADD CONSTRAINT "Big_parent_fkey" FOREIGN KEY ("parent") REFERENCES "Parent"("id");',
    'ALTER TABLE "Big" ADD CONSTRAINT "Big_n_check" CHECK ("n" >= 0);',
    'ALTER TABLE "Big" ALTER COLUMN "label" TYPE integer USING "label"::integer;',
]


@pytest.fixture(scope="module")
def big_url(pg_server):
    name = pg_server.create_database()
    url = pg_server.url(name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute('CREATE TABLE "Parent" (id int PRIMARY KEY)')
        conn.execute('INSERT INTO "Parent" SELECT g FROM generate_series(1, 1000) g')
        # Narrow rows, few bad ones: every 1,000th phone NULL, every 500th parent an orphan, every
        # 1,000th n negative, every 100,000th code repeated, every 250th label not a number.
        conn.execute(f"""
            CREATE UNLOGGED TABLE "Big" AS
            SELECT g AS id,
                   CASE WHEN g % 1000 = 0 THEN NULL ELSE 'p' END AS phone,
                   CASE WHEN g % 100000 = 0 THEN 1 ELSE g END AS code,
                   CASE WHEN g % 500 = 0 THEN 5000 ELSE g % 1000 + 1 END AS parent,
                   CASE WHEN g % 1000 = 1 THEN -1 ELSE 1 END AS n,
                   CASE WHEN g % 250 = 0 THEN 'x' ELSE '1' END AS label
            FROM generate_series(1, {ROWS}) g""")
        conn.execute('ANALYZE "Big"')
    try:
        yield url
    finally:
        pg_server.drop_database(name)


def _sample_locks(url: str, stop: threading.Event, seen: list) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.is_set():
            rows = conn.execute(
                "SELECT l.locktype, l.mode, l.granted, a.backend_xid IS NOT NULL AS writes "
                "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE a.application_name = %s",
                (APPLICATION_NAME,)).fetchall()
            seen.extend(rows)
            time.sleep(0.01)


def test_five_million_rows_within_the_timeout_and_only_access_share(big_url):
    stop, seen = threading.Event(), []
    sampler = threading.Thread(target=_sample_locks, args=(big_url, stop, seen), daemon=True)
    sampler.start()
    settings = Settings(timeout_ms=5000)
    started = time.monotonic()
    try:
        results = check_sources(DirectDatabase(Secret(big_url)), [("big.sql", "\n".join(STATEMENTS))], settings)
    finally:
        stop.set()
        sampler.join(5)
    total = time.monotonic() - started
    checks = {r.check.kind: r for r in results if r.check.kind != "table-size"}
    assert set(checks) == {"not-null", "unique", "foreign-key", "check", "type-change"}
    for r in checks.values():
        assert r.elapsed_ms <= settings.timeout_ms + 500, (r.check.kind, r.elapsed_ms)
        assert r.rows is not None and r.rows > 4_000_000 and r.size_bytes > 100 << 20
        # Exact, or a labelled estimate/sample: a large table never gets an unlabelled guess.
        assert r.exact or r.label in ("estimated", "sample", "timeout"), (r.check.kind, r.label)
        assert r.result in ("will-fail", "unknown"), (r.check.kind, r.text)
    nn = checks["not-null"]
    if nn.exact:
        assert nn.count == ROWS // 1000
    else:
        assert nn.label == "estimated" and 0.5 * ROWS // 1000 < nn.count < 2 * ROWS // 1000
    assert checks["type-change"].label == "sample" and checks["type-change"].result == "will-fail"
    assert "sample" in checks["type-change"].text
    assert total < 30

    assert seen, "the lock sampler saw no migtool session"
    relation_modes = {mode for locktype, mode, _, _ in seen if locktype == "relation"}
    assert relation_modes and relation_modes <= {"AccessShareLock"}, relation_modes
    assert {locktype for locktype, *_ in seen} <= {"relation", "virtualxid"}
    assert not any(writes for *_, writes in seen)


def test_a_tiny_budget_gives_labelled_estimates(big_url):
    results = check_sources(DirectDatabase(Secret(big_url)), [("big.sql", STATEMENTS[0] + "\n" + STATEMENTS[2])],
                            Settings(timeout_ms=150))
    checks = [r for r in results if r.check.kind != "table-size"]
    assert checks
    for r in checks:
        assert r.elapsed_ms < 1500
        assert r.label in ("estimated", "timeout", "exact"), r.label
        if r.label == "estimated":
            assert not r.exact and r.result == "will-fail" and "estimated from a sample" in r.text
    assert any(r.label == "estimated" for r in checks), [r.text for r in checks]
