"""What the benches share: where they run (Server), how they run and time commands, and how they
record a run (facts about the machine, goals met or not, bench/results/<name>.json).

bench/ is not a package: each bench puts the repository root on sys.path, then imports this.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from migtool.database import libpq_env

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Server:
    """Where the bench runs: our own throw-away cluster, or the server of DATABASE_URL. Either way
    the data goes into a database of its own that is dropped at the end; the URL's database is
    never touched."""

    def __init__(self) -> None:
        self._pg = None
        url = os.environ.get("DATABASE_URL")
        if url:
            self.url = url
        else:
            from tests.support.pgserver import start_server

            log("starting a throw-away PostgreSQL cluster")
            self._pg = start_server()
            self.url = self._pg.url("postgres")
        self.dbname = f"migtool_bench_{uuid.uuid4().hex[:8]}"
        with self.admin() as c:
            c.execute(f'CREATE DATABASE "{self.dbname}"')
        self.url = self.url_for(self.dbname)

    def url_for(self, dbname: str) -> str:
        params = psycopg.conninfo.conninfo_to_dict(self.url)
        params["dbname"] = dbname
        return psycopg.conninfo.make_conninfo(**params)

    def env(self, dbname: str | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("DATABASE_URL", None)
        env.update(libpq_env(self.url, dbname))
        return env

    def admin(self) -> psycopg.Connection:
        # Maintenance database for CREATE/DROP DATABASE: never the bench database itself.
        return psycopg.connect(self.url_for("postgres"), autocommit=True)

    def fresh_database(self) -> str:
        name = f"bench_restore_{uuid.uuid4().hex[:8]}"
        with self.admin() as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop(self, name: str) -> None:
        with self.admin() as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        try:
            self.drop(self.dbname)
        finally:
            if self._pg is not None:
                self._pg.cleanup()


def cli_env(url: str) -> dict[str, str]:
    """The environment for a `migtool` subprocess: none of the caller's MIGTOOL_* settings, and
    DATABASE_URL = `url`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGTOOL_")}
    env["DATABASE_URL"] = url
    return env


def shell(cmd: str, env: dict[str, str]) -> None:
    subprocess.run(["bash", "-o", "pipefail", "-c", cmd], env=env, check=True)


def round_robin(runs: int, jobs: dict[str, Callable[[], float]]) -> dict[str, dict]:
    """Run every job once per round, `runs` rounds: load from other work on the machine then falls
    on all of them alike, so the ratios stay fair even when absolute times wander."""
    times: dict[str, list[float]] = {label: [] for label in jobs}
    for i in range(runs):
        for label, job in jobs.items():
            t = job()
            times[label].append(round(t, 3))
            log(f"  round {i + 1}: {label}: {t:.2f} s")
    return {label: {"median_s": round(statistics.median(ts), 3), "runs_s": ts} for label, ts in times.items()}


def run_facts(**settings: object) -> dict:
    """The head of a results file: when, on what machine, the bench's settings, and the load
    before it started (other work on a shared machine shows up in the figures)."""
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": platform.platform(),
            "cpus": os.cpu_count(), **settings, "load_average_before": os.getloadavg()}


def finish(results: dict, name: str) -> int:
    """Print whether each of results["goals"] was met and write bench/results/<name>.json. Returns
    the exit status: 0, as a goal not met is a finding of the run, not a failure of the bench."""
    for k, ok in results["goals"].items():
        print(f"goal {k}: {'met' if ok else 'NOT met'}")
    out = HERE / "results" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written: {out.relative_to(ROOT)}")
    return 0
