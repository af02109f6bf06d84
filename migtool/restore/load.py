"""Load a backup into a database, after proving it whole, and check the result against its manifest.

Fast defaults that keep durability (see /work/shared/MEASUREMENTS.md): custom archives restore with
`pg_restore -j <cores>` from a decompressed temp file when there is room for it (about 3.6x the
.zst), and the restore's own sessions run with synchronous_commit=off, so its many small commits do
not each wait for the disk. Nothing is reported restored before a normally committed transaction
(the swap's, or the ANALYZE below) has flushed the WAL up to it. maintenance_work_mem did not help
in the measurements, so it is left alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from migtool.backup.catalog import LocalBackup
from migtool.backup.display import ByteProgress
from migtool.backup.restore import restore_backup
from migtool.backup.tables import TABLES_SQL, Comparison, compare_tables, count_sql
from migtool.backup.verify import VerifyReport, verify_backup
from migtool.database import ComposeDatabase, Database, DirectDatabase
from migtool.encryption.payload import require_identity
from migtool.errors import CheckFailed, MigtoolError

SESSION_OPTIONS = "-c synchronous_commit=off"
TEMP_FACTOR_UNKNOWN = 5  # room to ask for when the manifest does not say how big the archive is


class _DirectWithOptions(DirectDatabase):
    def __init__(self, base: DirectDatabase, name: str, options: str):
        super().__init__(base.url, name)
        self._options = options

    def with_database(self, name: str) -> _DirectWithOptions:
        return _DirectWithOptions(self, name, self._options)

    def tool_env(self) -> dict[str, str]:
        env = super().tool_env()
        env["PGOPTIONS"] = (env.get("PGOPTIONS", "") + " " + self._options).strip()
        return env


class _ComposeWithOptions(ComposeDatabase):
    def __init__(self, base: ComposeDatabase, name: str, options: str):
        super().__init__(base.project, base.service, base.user, name)
        self._options = options

    def with_database(self, name: str) -> _ComposeWithOptions:
        return _ComposeWithOptions(self, name, self._options)

    def tool(self, argv, *, stdin=None, stdout=None, stderr=subprocess.PIPE, connect=True):
        args = list(argv)
        if connect:
            args[1:1] = ["-U", self.user, "-d", self.name]
        return self.project.exec_stream(self.service, args, stdin=stdin, stdout=stdout,
                                        stderr=stderr,
                                        env={"PGTZ": "UTC", "PGOPTIONS": self._options})


def with_session_options(db: Database, options: str = SESSION_OPTIONS) -> Database:
    """The same database; pg tools started through it get PGOPTIONS (queries do not)."""
    if isinstance(db, DirectDatabase):
        return _DirectWithOptions(db, db.name, options)
    if isinstance(db, ComposeDatabase):
        return _ComposeWithOptions(db, db.name, options)
    return db


def prove_whole(backup: LocalBackup, db: Database, progress: Callable[[int, int], None] | None = None,
                identity: str | Path | None = None) -> VerifyReport:
    """Checksum, size, the whole stream and the dump's completeness; CheckFailed before any database
    is touched when anything is wrong. An encrypted backup needs its identity (ConfigError, exit 2,
    without one; WrongIdentity, exit 1, for a key that is not a recipient): a restore decrypts it
    completely once here, so a wrong key or a damaged file stops before any database is touched."""
    require_identity(backup.path, identity)
    report = verify_backup(backup, db, progress=progress, identity=identity)
    if not report.ok:
        raise CheckFailed(f"refusing {backup.filename}: " + "; ".join(report.problems) + "; no database was touched",
                          hint="pick another backup: migtool backups list")
    return report


def prove_whole_with_progress(backup: LocalBackup, db: Database, quiet: bool = False,
                              identity: str | Path | None = None) -> VerifyReport:
    """prove_whole with a progress bar (call it inside the step, so the step's line comes first)."""
    with ByteProgress("verifying", total=backup.size, enabled=not quiet) as bar:
        return prove_whole(backup, db, lambda done, total: bar.update(done), identity=identity)


def choose_jobs(backup: LocalBackup, db: Database, wanted: int | None) -> tuple[int, str]:
    """How many pg_restore jobs, and why. -j needs a seekable file, so only the direct target (whose
    pg_restore sees our files) gets it, and only when a decompressed copy fits beside the backup."""
    jobs = wanted or os.cpu_count() or 2
    if backup.name.format != "custom":
        return 1, "plain SQL: one psql session, one transaction"
    if jobs <= 1:
        return 1, "one job"
    if not isinstance(db, DirectDatabase):
        return 1, "compose target: pg_restore runs in the container and reads the stream (one job)"
    need = (backup.manifest.uncompressed_size if backup.manifest else None) or backup.size * TEMP_FACTOR_UNKNOWN
    free = shutil.disk_usage(backup.path.parent).free
    if free < need * 1.05:
        return 1, (f"one job: a decompressed copy needs {need >> 20} MiB beside the backup and only "
                   f"{free >> 20} MiB are free")
    return jobs, f"pg_restore -j {jobs} from a decompressed copy"


@dataclass
class Loaded:
    database: str
    seconds: float
    jobs: int
    comparison: Comparison


def load_into(db: Database, backup: LocalBackup, *, jobs: int, single_transaction: bool = False,
              fast_commits: bool = True, progress: Callable[[int, int], None] | None = None,
              on_activity: Callable[[str], None] | None = None, identity: str | Path | None = None) -> Loaded:
    """Restore the (proven) backup into `db`, then compare tables and row counts with its manifest."""
    manifest = backup.manifest
    fmt, compression = backup.name.format, backup.name.compression
    tool_db = with_session_options(db) if fast_commits else db
    watcher = ActivityWatcher(db, on_activity) if on_activity else None
    if watcher:
        watcher.start()
    try:
        seconds = restore_backup(tool_db, backup.path, fmt=fmt, compression=compression, jobs=jobs,
                                 uncompressed_size=manifest.uncompressed_size if manifest else None,
                                 progress=progress, single_transaction=single_transaction, identity=identity)
    finally:
        if watcher:
            watcher.stop()
    comparison = compare_with_manifest(db, backup)
    return Loaded(db.name, seconds, jobs, comparison)


def load_with_progress(db: Database, backup: LocalBackup, jobs: int, single: bool, quiet: bool, run,
                       identity: str | Path | None = None) -> Loaded:
    """load_into with a progress display (bytes read, what the server is doing, elapsed) and a step detail."""
    with ByteProgress("restoring", total=backup.size, enabled=not quiet) as bar:
        activity = {"now": ""}

        def on_activity(text: str) -> None:
            activity["now"] = text
            bar.update(bar.completed, text)

        loaded = load_into(db, backup, jobs=jobs, single_transaction=single, fast_commits=not single,
                           progress=lambda done, total: bar.update(done, activity["now"]),
                           on_activity=None if quiet else on_activity, identity=identity)
    run.detail(f"{loaded.seconds:.1f} s, {jobs} job(s)"
               + (f", {loaded.comparison.compared} row counts match the manifest" if loaded.comparison.compared else ""))
    return loaded


def compare_with_manifest(db: Database, backup: LocalBackup) -> Comparison:
    rows = db.query(TABLES_SQL)
    sql = count_sql((r["schema"], r["name"]) for r in rows)
    counts = {r["tbl"]: int(r["n"]) for r in db.query(sql)} if sql else {}
    m = backup.manifest
    if m is None:
        return Comparison([], ["no manifest: tables not compared"], 0)
    return compare_tables(m.tables, m.row_counts, counts)


def analyze(db: Database) -> None:
    """Planner statistics before the app sees the database (pg_restore does not gather them); its
    commit, a normal synchronous one, also flushes the WAL of the restore's asynchronous commits."""
    db.execute("ANALYZE")


# Current table or index of the restore, read from the server's progress views (PostgreSQL 14+).
ACTIVITY_SQL = """
SELECT 'loading ' || relid::regclass::text AS what FROM pg_stat_progress_copy WHERE datname = current_database()
UNION ALL
SELECT 'indexing ' || relid::regclass::text FROM pg_stat_progress_create_index WHERE datname = current_database()
"""


class ActivityWatcher:
    """Asks the server every couple of seconds what the restore is doing; best effort, never fatal."""

    def __init__(self, db: Database, report: Callable[[str], None], every: float = 2.0):
        self.db = db
        self.report = report
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                rows = self.db.query(ACTIVITY_SQL)
            except (MigtoolError, OSError):
                continue
            if rows:
                self.report(", ".join(sorted({r["what"] for r in rows}))[:80])


def elapsed_since(t0: float) -> str:
    return f"{time.monotonic() - t0:.1f} s"
