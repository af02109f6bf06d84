"""Time `migtool backup` and its restore against the seed's `pg_dump | gzip` and `gunzip | psql`.

    .venv/bin/python bench/backup_bench.py             # MIGTOOL_BENCH_MB=500 MIGTOOL_BENCH_RUNS=3

Builds a realistic database (users, orders with a foreign key, events with jsonb; 11 indexes
including unique, partial and GIN) of about MIGTOOL_BENCH_MB MiB on a throw-away cluster
(tests/support/pgserver.py), or on the server of DATABASE_URL when it is set; either way in a
database of its own (and restores in scratch databases), all dropped at the end. Then, in the same run, median of MIGTOOL_BENCH_RUNS each:

Runs go round-robin (each variant once per round) so that other work on the machine weighs on all
of them alike.

  dumps:    seed `pg_dump | gzip`, uncompressed `pg_dump > file` (plain, and -Fc -Z0),
            `migtool backup` (direct target) for custom/zstd (the default), sql/zstd, custom/gzip
  restores: seed `gunzip -c | psql`, and migtool's restore of each migtool backup (custom:
            decompress + pg_restore -j 2; sql: psql -1) into a fresh database

Goals: default backup <= 1.3x the uncompressed pg_dump of the same format; restore of the default
format <= 0.6x the seed's `gunzip | psql`. Results go to bench/results/backup.json.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from common import Server, cli_env, finish, log, round_robin, run_facts, shell  # noqa: E402

from migtool.backup.restore import restore_backup  # noqa: E402
from migtool.config import Secret  # noqa: E402
from migtool.database import DirectDatabase  # noqa: E402

# Rows per MiB of database: the proportions of the reference data set in shared/MEASUREMENTS.md,
# scaled so that MIGTOOL_BENCH_MB=N gives about N MiB with this generator's row widths.
USERS_PER_MB, ORDERS_PER_MB, EVENTS_PER_MB = 985, 3282, 820

SEED_SQL = """
CREATE TABLE users (
    id bigserial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    name text NOT NULL,
    status text NOT NULL DEFAULT 'active',
    created_at timestamptz NOT NULL
);
CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id),
    amount_cents integer NOT NULL,
    currency char(3) NOT NULL DEFAULT 'EUR',
    status text NOT NULL,
    note text,
    created_at timestamptz NOT NULL
);
CREATE TABLE events (
    id bigserial PRIMARY KEY,
    user_id bigint REFERENCES users (id),
    kind text NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL
);
INSERT INTO users (email, name, status, created_at)
SELECT 'user' || g || '@example.com', 'User ' || substr(md5(g::text), 1, 12),
       CASE WHEN g %% 10 = 0 THEN 'inactive' ELSE 'active' END,
       timestamptz '2024-01-01' + g * interval '17 seconds'
FROM generate_series(1, %(users)s) g;
INSERT INTO orders (user_id, amount_cents, status, note, created_at)
SELECT 1 + (g::bigint * 7919) %% %(users)s, (g * 31) %% 100000,
       (ARRAY['pending', 'paid', 'shipped', 'cancelled'])[1 + g %% 4],
       CASE WHEN g %% 3 = 0 THEN 'gift wrap ' || md5(g::text) END,
       timestamptz '2024-01-01' + g * interval '5 seconds'
FROM generate_series(1, %(orders)s) g;
INSERT INTO events (user_id, kind, payload, created_at)
SELECT 1 + (g::bigint * 104729) %% %(users)s, (ARRAY['login', 'view', 'click', 'purchase'])[1 + g %% 4],
       jsonb_build_object('path', '/products/' || (g %% 5000), 'agent', 'Mozilla/5.0 ' || substr(md5(g::text), 1, 16),
                          'items', jsonb_build_array(g %% 7, g %% 11, g %% 13), 'ok', g %% 9 <> 0),
       timestamptz '2024-01-01' + g * interval '20 seconds'
FROM generate_series(1, %(events)s) g;
CREATE INDEX users_created_at_idx ON users (created_at);
CREATE INDEX orders_user_id_idx ON orders (user_id);
CREATE INDEX orders_created_at_idx ON orders (created_at);
CREATE INDEX orders_pending_idx ON orders (created_at) WHERE status = 'pending';
CREATE INDEX events_user_id_idx ON events (user_id);
CREATE INDEX events_created_at_idx ON events (created_at);
CREATE INDEX events_payload_idx ON events USING gin (payload);
"""


def seed_counts(mb: int) -> dict[str, int]:
    """SEED_SQL's row counts for a database of about `mb` MiB."""
    return {"users": USERS_PER_MB * mb, "orders": ORDERS_PER_MB * mb, "events": EVENTS_PER_MB * mb}


def seed(server: Server, mb: int) -> dict:
    with psycopg.connect(server.url, autocommit=True) as c:
        counts = seed_counts(mb)
        log(f"seeding about {mb} MiB into {server.dbname}: {counts}")
        t0 = time.monotonic()
        c.execute(SEED_SQL % counts)
        c.execute("VACUUM ANALYZE")
        log(f"seeded in {time.monotonic() - t0:.1f} s")
        size = c.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        version = c.execute("SHOW server_version").fetchone()[0]
    return {"database_bytes": size, "server_version": version}


def timed(fn: Callable[[], None]) -> float:
    t0 = time.monotonic()
    fn()
    return time.monotonic() - t0


def main() -> int:
    mb = int(os.environ.get("MIGTOOL_BENCH_MB", "500"))
    runs = int(os.environ.get("MIGTOOL_BENCH_RUNS", "3"))
    server = Server()
    work = Path(tempfile.mkdtemp(prefix="migtool-bench-", dir=os.environ.get("MIGTOOL_BENCH_DIR")))
    results = run_facts(runs=runs) | {"dumps": {}, "restores": {}, "sizes": {}}
    variants = [("custom", "zstd"), ("sql", "zstd"), ("custom", "gzip")]
    try:
        results.update(seed(server, mb))
        log(f"database is {results['database_bytes'] / 2**20:.0f} MiB")
        env = server.env(server.dbname)
        files = {"seed": work / "seed.sql.gz", "plain": work / "plain.sql", "custom0": work / "custom0.dump"}
        manifests: dict[str, dict] = {}

        def migtool_backup(fmt: str, comp: str) -> float:
            out_dir = work / f"{fmt}-{comp}"
            shutil.rmtree(out_dir, ignore_errors=True)
            cmd = [sys.executable, "-m", "migtool", "backup", "--target", "direct", "--backup-dir", str(out_dir),
                   "--reason", "bench", "--format", fmt, "--compression", comp, "--no-upload", "--json",
                   "--migrations-dir", str(work / "no-migrations")]
            env = cli_env(server.url)
            t0 = time.monotonic()
            res = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=work)
            t = time.monotonic() - t0
            if res.returncode != 0:
                raise SystemExit(f"migtool backup failed: {res.stderr}")
            manifests[f"{fmt}/{comp}"] = json.loads(res.stdout)
            return t

        dump_jobs: dict[str, Callable[[], float]] = {
            "pg_dump | gzip (seed)": lambda: timed(lambda: shell(f"pg_dump | gzip > {files['seed']}", env)),
            "pg_dump > file (plain)": lambda: timed(lambda: shell(f"pg_dump > {files['plain']}", env)),
            "pg_dump -Fc -Z0 > file": lambda: timed(lambda: shell(f"pg_dump -Fc -Z0 > {files['custom0']}", env)),
        }
        for fmt, comp in variants:
            dump_jobs[f"migtool backup {fmt}/{comp}"] = lambda fmt=fmt, comp=comp: migtool_backup(fmt, comp)
        results["dumps"] = round_robin(runs, dump_jobs)
        results["sizes"] = {
            "pg_dump | gzip (seed)": files["seed"].stat().st_size,
            "pg_dump > file (plain)": files["plain"].stat().st_size,
            "pg_dump -Fc -Z0 > file": files["custom0"].stat().st_size,
            **{f"migtool backup {k}": m["size"] for k, m in manifests.items()},
        }
        files["plain"].unlink()
        files["custom0"].unlink()

        def into_fresh_database(restore: Callable[[str], None]) -> Callable[[], float]:
            def job() -> float:
                target = server.fresh_database()
                try:
                    return timed(lambda: restore(target))
                finally:
                    server.drop(target)
            return job

        def migtool_restore(manifest: dict) -> Callable[[str], None]:
            def restore(db: str) -> None:
                restore_backup(DirectDatabase(Secret(server.url_for(db))), Path(manifest["path"]),
                               fmt=manifest["format"], compression=manifest["compression"], jobs=2,
                               uncompressed_size=manifest["uncompressed_size"])
            return restore

        restore_jobs = {"gunzip -c | psql (seed)": into_fresh_database(lambda db: shell(
            f"gunzip -c {files['seed']} | psql -X -q -v ON_ERROR_STOP=1 -d {db} > /dev/null", server.env(db)))}
        for key, manifest in manifests.items():
            restore_jobs[f"migtool restore {key}"] = into_fresh_database(migtool_restore(manifest))
        results["restores"] = round_robin(runs, restore_jobs)
        results["load_average_after"] = os.getloadavg()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        server.close()

    d, r = results["dumps"], results["restores"]
    ratios = {
        "backup custom/zstd vs pg_dump -Fc -Z0 > file": d["migtool backup custom/zstd"]["median_s"]
        / d["pg_dump -Fc -Z0 > file"]["median_s"],
        "backup custom/zstd vs pg_dump > file (plain)": d["migtool backup custom/zstd"]["median_s"]
        / d["pg_dump > file (plain)"]["median_s"],
        "backup sql/zstd vs pg_dump > file (plain)": d["migtool backup sql/zstd"]["median_s"]
        / d["pg_dump > file (plain)"]["median_s"],
        "backup custom/zstd vs pg_dump | gzip (seed)": d["migtool backup custom/zstd"]["median_s"]
        / d["pg_dump | gzip (seed)"]["median_s"],
        "restore custom/zstd vs gunzip | psql (seed)": r["migtool restore custom/zstd"]["median_s"]
        / r["gunzip -c | psql (seed)"]["median_s"],
        "restore sql/zstd vs gunzip | psql (seed)": r["migtool restore sql/zstd"]["median_s"]
        / r["gunzip -c | psql (seed)"]["median_s"],
    }
    results["ratios"] = {k: round(v, 3) for k, v in ratios.items()}
    goals = {"backup": ratios["backup custom/zstd vs pg_dump -Fc -Z0 > file"] <= 1.3,
             "restore": ratios["restore custom/zstd vs gunzip | psql (seed)"] <= 0.6}
    results["goals"] = {"backup <= 1.3x uncompressed pg_dump (same format)": goals["backup"],
                        "restore <= 0.6x seed gunzip | psql": goals["restore"]}

    print(f"\ndatabase {results['database_bytes'] / 2**20:.0f} MiB, PostgreSQL {results['server_version']}, "
          f"median of {runs}")
    print(f"{'dump':48} {'median':>9} {'size':>10}")
    for k, v in d.items():
        print(f"{k:48} {v['median_s']:8.2f}s {results['sizes'].get(k, 0) / 2**20:8.1f}Mi")
    print(f"{'restore':48} {'median':>9}")
    for k, v in r.items():
        print(f"{k:48} {v['median_s']:8.2f}s")
    print("ratios:")
    for k, v in results["ratios"].items():
        print(f"  {k:52} {v:.2f}x")
    return finish(results, "backup")


if __name__ == "__main__":
    sys.exit(main())
