"""Time `migtool restore` and scripts/restore/postgres-restore.sh against the seed's `gunzip -c | psql`,
in the same run, on two generated databases, and say where the time goes.

    .venv/bin/python bench/restore_bench.py      # MIGTOOL_BENCH_MB=200 MIGTOOL_BENCH_RUNS=3

Databases (bench/backup_bench.py's generator, about MIGTOOL_BENCH_MB MiB each, on a throw-away cluster
or on the server of DATABASE_URL, in databases of their own that are dropped at the end):
  btree: users, orders with a foreign key, events with a text payload; btree indexes only
  gin:   the same with a jsonb payload and a GIN index on it, as many real apps have

For each, one `migtool backup` (custom/zstd) and one seed `pg_dump | gzip`, then round-robin, median of
MIGTOOL_BENCH_RUNS, each into a database that does not exist yet:
  seed      gunzip -c x.sql.gz | psql -v ON_ERROR_STOP=1
  migtool   migtool restore x.dump.zst --clean --target-db NEW --yes   (verify, -j <cores>, check, analyze)
  script    postgres-restore.sh x.dump.zst -c --target-db NEW --yes   (no Python)
Where the time goes: pg_restore's sections timed one by one with one job (pre-data, data = COPY,
post-data = indexes, constraints, foreign keys), and the GIN index built alone.

And `migtool rollback --to` the backup on the live database: the swap (the only time the database
name refuses connections) against the whole rollback.

Goals: btree: migtool <= 0.6x seed. gin: a GIN build is single-threaded before PostgreSQL 18, so
migtool <= 1.1x (the GIN build + the rest of the serial work spread over the cores).
Results go to bench/results/restore.json.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from backup_bench import SEED_SQL, seed_counts  # noqa: E402
from common import Server, finish, log, round_robin, run_facts, shell  # noqa: E402
from common import cli_env as migtool_env  # noqa: E402

SCRIPT = ROOT / "scripts" / "restore" / "postgres-restore.sh"
GIN_INDEX = "CREATE INDEX events_payload_idx ON events USING gin (payload);\n"
PAYLOAD_JSON = "payload jsonb NOT NULL"


def btree_sql() -> str:
    """The generator without jsonb and GIN: a text payload, btree indexes and foreign keys only."""
    sql = SEED_SQL.replace(GIN_INDEX, "").replace(PAYLOAD_JSON, "payload text NOT NULL")
    head, sep, tail = sql.partition("jsonb_build_object(")
    inner, _, rest = tail.partition("'ok', g %% 9 <> 0)")
    return head + "jsonb_build_object(" + inner + "'ok', g %% 9 <> 0)::text" + rest


def seed_database(server: Server, name: str, sql: str, mb: int) -> dict:
    with server.admin() as c:
        c.execute(f'CREATE DATABASE "{name}"')
    counts = seed_counts(mb)
    with psycopg.connect(server.url_for(name), autocommit=True) as c:
        t0 = time.monotonic()
        c.execute(sql % counts)
        c.execute("VACUUM ANALYZE")
        log(f"seeded {name} in {time.monotonic() - t0:.1f} s: {counts}")
        return {"database_bytes": c.execute("SELECT pg_database_size(current_database())").fetchone()[0],
                "rows": counts}


def cli_env(url: str) -> dict[str, str]:
    return migtool_env(as_url(url))


def as_url(conninfo: str) -> str:
    """key=value conninfo -> postgresql:// URL (what the script reads)."""
    from urllib.parse import quote

    if conninfo.startswith(("postgres://", "postgresql://")):
        return conninfo
    p = psycopg.conninfo.conninfo_to_dict(conninfo)
    auth = quote(str(p.get("user", "postgres")), safe="")
    if p.get("password"):
        auth += ":" + quote(str(p["password"]), safe="")
    return f"postgresql://{auth}@{p.get('host', '127.0.0.1')}:{p.get('port', 5432)}/{quote(str(p['dbname']), safe='')}"


def run(cmd: list[str], env: dict[str, str], cwd: Path) -> None:
    res = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed: {res.stderr[-2000:]}")


def bench_one(server: Server, label: str, sql: str, mb: int, runs: int, work: Path) -> dict:
    source = f"bench_{label}_{uuid.uuid4().hex[:6]}"
    info = seed_database(server, source, sql, mb)
    out = work / label
    out.mkdir()
    try:
        url = server.url_for(source)
        seed_file = out / "seed.sql.gz"
        shell(f"pg_dump | gzip > {seed_file}", server.env(source))
        res = subprocess.run([sys.executable, "-m", "migtool", "backup", "--target", "direct", "--backup-dir",
                              str(out / "b"), "--reason", "bench", "--no-upload", "--json",
                              "--migrations-dir", str(work / "none")], env=cli_env(url), cwd=work,
                             capture_output=True, text=True)
        if res.returncode != 0:
            raise SystemExit(f"migtool backup failed: {res.stderr}")
        manifest = json.loads(res.stdout)
        backup = Path(manifest["path"])
        info["sizes"] = {"seed .sql.gz": seed_file.stat().st_size, "migtool .dump.zst": manifest["size"]}

        def new_db_job(restore) -> callable:
            def job() -> float:
                target = f"bench_restore_{uuid.uuid4().hex[:8]}"
                t0 = time.monotonic()
                try:
                    restore(target)
                    return time.monotonic() - t0
                finally:
                    server.drop(target)
                    for kept in _like(server, f"{target}\\_%"):
                        server.drop(kept)
            return job

        def seed_restore(target: str) -> None:
            with server.admin() as c:
                c.execute(f'CREATE DATABASE "{target}"')
            shell(f"gunzip -c {seed_file} | psql -X -q -v ON_ERROR_STOP=1 -d {target} > /dev/null",
                  server.env(target))

        def migtool_restore(target: str) -> None:
            run([sys.executable, "-m", "migtool", "restore", str(backup), "--clean", "--target-db", target, "--yes",
                 "--target", "direct", "--backup-dir", str(out / "b")], cli_env(url), work)

        def script_restore(target: str) -> None:
            run(["bash", str(SCRIPT), str(backup), "-c", "--target-db", target, "--yes"], cli_env(url), work)

        info["restores"] = round_robin(runs, {"seed gunzip | psql": new_db_job(seed_restore),
                                              "migtool restore": new_db_job(migtool_restore),
                                              "postgres-restore.sh": new_db_job(script_restore)})
        info["migtool_steps_median_s"] = migtool_steps(out / "b")
        info["rollback"] = rollback_downtime(server, source, backup, out / "b", url, work)
        info["where_the_time_goes"] = sections(server, backup, work, has_gin=GIN_INDEX in sql)
    finally:
        server.drop(source)
    return info


def rollback_downtime(server: Server, source: str, backup: Path, backup_dir: Path, url: str, work: Path) -> dict:
    """`migtool rollback --to` the backup on the source database itself: how long the database name
    refuses connections (the swap) against the whole rollback. (Direct target: no app services to
    stop; the e2e test measures the app's full downtime through compose.)"""
    from migtool.runs import read_runs

    run([sys.executable, "-m", "migtool", "rollback", "--to", str(backup), "--yes", "--target", "direct",
         "--backup-dir", str(backup_dir), "--migrations-dir", str(work / "none")], cli_env(url), work)
    record = next(r for r in reversed(read_runs(backup_dir)) if r.get("operation") == "rollback")
    for kept in _like(server, f"{source}\\_before\\_rollback\\_%"):
        server.drop(kept)
    steps = {st["name"]: st["seconds"] for st in record["steps"]}
    return {"rollback_s": record["seconds"], "restore_beside_s": steps.get("restore"), "swap_s": steps.get("swap"),
            "row_diff_s": steps.get("row diff")}


def migtool_steps(backup_dir: Path) -> dict[str, float]:
    """Median seconds of each step of the `migtool restore` runs (from their run records)."""
    import statistics

    from migtool.runs import read_runs

    per_step: dict[str, list[float]] = {}
    for record in read_runs(backup_dir):
        if record.get("operation") == "restore" and record.get("result") == "restored":
            for st in record["steps"]:
                per_step.setdefault(st["name"], []).append(st["seconds"])
    return {k: round(statistics.median(v), 3) for k, v in per_step.items()}


def _like(server: Server, pattern: str) -> list[str]:
    with server.admin() as c:
        return [r[0] for r in c.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (pattern,))]


def sections(server: Server, backup: Path, work: Path, has_gin: bool) -> dict:
    """One job, section by section, into a fresh database; then the GIN index alone."""
    archive = work / "sections.dump"
    shell(f"zstd -dcq {backup} > {archive}", os.environ.copy())
    target = f"bench_sections_{uuid.uuid4().hex[:8]}"
    with server.admin() as c:
        c.execute(f'CREATE DATABASE "{target}"')
    out: dict[str, float] = {}
    try:
        env = server.env(target)
        for section in ("pre-data", "data", "post-data"):
            t0 = time.monotonic()
            shell(f"pg_restore --exit-on-error --section={section} -d {target} {archive}", env)
            out[f"{section} s"] = round(time.monotonic() - t0, 3)
        if has_gin:
            with psycopg.connect(server.url_for(target), autocommit=True) as c:
                c.execute("DROP INDEX events_payload_idx")
                t0 = time.monotonic()
                c.execute(GIN_INDEX)
                out["gin index build s"] = round(time.monotonic() - t0, 3)
    finally:
        server.drop(target)
        archive.unlink(missing_ok=True)
    serial = out["pre-data s"] + out["data s"] + out["post-data s"]
    out["serial total s"] = round(serial, 3)
    out["data load share"] = round(out["data s"] / serial, 3)
    out["index and constraint share"] = round(out["post-data s"] / serial, 3)
    if has_gin:
        out["gin share"] = round(out["gin index build s"] / serial, 3)
    return out


def main() -> int:
    mb = int(os.environ.get("MIGTOOL_BENCH_MB", "200"))
    runs = int(os.environ.get("MIGTOOL_BENCH_RUNS", "3"))
    cores = os.cpu_count() or 2
    server = Server()
    work = Path(tempfile.mkdtemp(prefix="migtool-restore-bench-", dir=os.environ.get("MIGTOOL_BENCH_DIR")))
    results = run_facts(cpus=cores, runs=runs, mb=mb)
    try:
        with psycopg.connect(server.url, autocommit=True) as c:
            results["server_version"] = c.execute("SHOW server_version").fetchone()[0]
        results["btree"] = bench_one(server, "btree", btree_sql(), mb, runs, work)
        results["gin"] = bench_one(server, "gin", SEED_SQL, mb, runs, work)
        results["load_average_after"] = os.getloadavg()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        server.close()

    ratios, goals = {}, {}
    for label in ("btree", "gin"):
        r = results[label]["restores"]
        seed_s = r["seed gunzip | psql"]["median_s"]
        ratios[f"{label}: migtool restore vs seed"] = round(r["migtool restore"]["median_s"] / seed_s, 3)
        ratios[f"{label}: postgres-restore.sh vs seed"] = round(r["postgres-restore.sh"]["median_s"] / seed_s, 3)
    goals["btree: migtool restore <= 0.6x seed"] = ratios["btree: migtool restore vs seed"] <= 0.6
    w = results["gin"]["where_the_time_goes"]
    ideal = w["gin index build s"] + (w["serial total s"] - w["gin index build s"]) / cores
    results["gin"]["ideal_s"] = round(ideal, 3)
    ratios["gin: migtool restore vs (gin build + rest / cores)"] = round(
        results["gin"]["restores"]["migtool restore"]["median_s"] / ideal, 3)
    goals["gin: migtool restore <= 1.1x (gin build + rest / cores)"] = \
        ratios["gin: migtool restore vs (gin build + rest / cores)"] <= 1.1
    results["ratios"], results["goals"] = ratios, goals

    print(f"\nPostgreSQL {results['server_version']}, {cores} cores, about {mb} MiB each, median of {runs}")
    for label in ("btree", "gin"):
        info = results[label]
        print(f"{label} ({info['database_bytes'] / 2**20:.0f} MiB):")
        for k, v in info["restores"].items():
            print(f"  {k:28} {v['median_s']:8.2f}s  {v['runs_s']}")
        print("  migtool restore's steps (median s): "
              + ", ".join(f"{k} {v}" for k, v in info["migtool_steps_median_s"].items()))
        print("  rollback (direct): " + ", ".join(f"{k} {v}" for k, v in info["rollback"].items()))
        print("  where the time goes (one job): " + ", ".join(f"{k} {v}" for k, v in info["where_the_time_goes"].items()))
    for k, v in ratios.items():
        print(f"ratio {k:56} {v:.2f}x")
    return finish(results, "restore")


if __name__ == "__main__":
    sys.exit(main())
