"""Take one backup: pg_dump streamed through our compressor and sha256 into a private temp file,
published by link/rename only when pg_dump, the compressor and fsync all succeeded.

Runbook order: check the server and pg_dump -> note the migration state -> open a snapshot and
record tables/row counts in it -> claim a name -> stream the dump -> write the sha256 file and the
manifest -> publish the dump last. Any failure or signal on the way (pg_dump error, Ctrl-C,
SIGTERM, a full disk, a killed `docker exec`) removes everything this run created.

With age recipients (config `encryption`), the compressed stream goes through `age --encrypt`
before it reaches the file: the plaintext never touches disk, and the sha256, size and manifest
describe the encrypted file (`.age`), which is what lands in S3 too.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from migtool import __version__
from migtool.backup import naming
from migtool.backup.compression import CHUNK, open_compressor
from migtool.backup.files import (
    create_private,
    fsync_dir,
    publish_no_replace,
    remove_quietly,
    write_all,
    write_atomic,
)
from migtool.backup.interrupts import deferred_interrupts, ignoring_interrupts, signals_raise_interrupt
from migtool.backup.manifest import Manifest, checksum_line, tables_from_rows
from migtool.backup.snapshot import SnapshotSession
from migtool.backup.tables import TABLES_SQL, count_sql, wants_exact_counts
from migtool.database import Database, tool_major
from migtool.errors import EnvironmentProblem, ExitCode, MigtoolError

log = logging.getLogger(__name__)

SQL_TRAILER = b"-- PostgreSQL database dump complete"
CUSTOM_MAGIC = b"PGDMP"
_F_SETPIPE_SZ = 1031  # Linux: a 1 MiB pipe means fewer, larger reads from pg_dump


@dataclass(frozen=True)
class BackupRequest:
    backup_dir: Path
    reason: str = "manual"
    format: str = "custom"
    compression: str = "zstd"
    target: str | None = None
    migrations_dir: Path | None = None
    recipients: tuple[str, ...] = ()  # age public keys: encrypt the backup for them (empty: no encryption)


@dataclass(frozen=True)
class Progress:
    phase: str  # "preparing", "dumping"
    dumped: int = 0  # bytes from pg_dump
    written: int = 0  # compressed bytes on disk
    elapsed: float = 0.0


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: Manifest


ProgressFn = Callable[[Progress], None]


def utcnow() -> datetime:
    return datetime.now(UTC)


def create_backup(db: Database, request: BackupRequest, progress: ProgressFn | None = None,
                  clock: Callable[[], datetime] = utcnow) -> BackupResult:
    if (request.format, request.compression) not in naming.EXTENSIONS:
        raise MigtoolError(f"unknown backup format/compression {request.format}/{request.compression}",
                           exit_code=ExitCode.USAGE)
    report = progress or (lambda p: None)
    report(Progress("preparing"))
    t0 = time.monotonic()
    backup_dir = _ensure_dir(request.backup_dir)
    server_version = _server_version(db)
    pg_dump_version = _pg_dump_version(db, server_version)
    migrations, migrations_note = _migration_state(db, request.migrations_dir)
    log.debug("server %s, %s, migration state: %.3f s", server_version, pg_dump_version, time.monotonic() - t0)

    with SnapshotSession(db) as session, signals_raise_interrupt():
        rows = session.query(TABLES_SQL)
        _check_readable(db, rows)
        # Counting shares pg_dump's snapshot, so it runs beside the dump instead of before it.
        counter = _RowCounter(session, count_sql((r["schema"], r["name"]) for r in rows), wants_exact_counts(rows))
        log.debug("snapshot %s, %d tables: %.3f s", session.snapshot_id, len(rows), time.monotonic() - t0)
        started = clock()
        published = False
        partial: Path | None = None
        fd: int | None = None
        written: list[Path] = []  # side files this run wrote (removed again if the dump never appears)
        try:
            with deferred_interrupts():  # a signal now would leave the claimed partial behind
                name, partial, fd = _claim_name(backup_dir, db.name, started, request)
            final = backup_dir / name.filename
            sha256, size, dumped, level = _stream_dump(db, session.snapshot_id, request, fd, report,
                                                       on_started=counter.start)
            log.debug("dumped %d bytes into %d: %.3f s", dumped, size, time.monotonic() - t0)
            exact = counter.result()
            tables = tables_from_rows(rows, exact)
            log.debug("%s row counts: %.3f s", "exact" if exact is not None else "estimated",
                      time.monotonic() - t0)
            os.fsync(fd)
            os.close(fd)
            fd = None
            log.debug("fsynced: %.3f s", time.monotonic() - t0)
            finished = clock()
            manifest = Manifest(
                name=name.filename, database=db.name, format=request.format, compression=request.compression,
                size=size, sha256=sha256, started_at=started, finished_at=finished, reason=request.reason or "",
                server_version=server_version, pg_dump_version=pg_dump_version, uncompressed_size=dumped,
                compression_level=level, row_counts="exact" if exact is not None else "estimated",
                tables=tables, migrations=migrations, migrations_note=migrations_note, target=request.target,
                migtool_version=__version__,
                extra=_encryption_record(request.recipients),
            )
            for side, data in ((naming.checksum_name(name.filename), checksum_line(sha256, name.filename).encode()),
                               (naming.manifest_name(name.filename), _json_bytes(manifest.to_dict()))):
                write_atomic(backup_dir / side, data, replace=False)
                written.append(backup_dir / side)
            publish_no_replace(partial, final)  # the dump appears last: a visible dump is a whole one
            published = True
            fsync_dir(backup_dir)
        except KeyboardInterrupt:
            raise MigtoolError("backup interrupted; no backup file was left behind",
                               exit_code=ExitCode.INTERRUPTED) from None
        except OSError as exc:
            raise _disk_problem(exc, backup_dir) from None
        finally:
            counter.join()
            if not published:
                with ignoring_interrupts():
                    if fd is not None:
                        with contextlib.suppress(OSError):
                            os.close(fd)
                    if partial is not None:
                        remove_quietly(partial)
                    for side in written:
                        remove_quietly(side)
    return BackupResult(final, manifest)


def _encryption_record(recipients: tuple[str, ...]) -> dict:
    """What the manifest says about encryption: who can decrypt (public keys only)."""
    if not recipients:
        return {}
    return {"encryption": {"tool": "age", "recipients": list(recipients)}}


def _check_readable(db: Database, rows: list[dict]) -> None:
    """pg_dump would stop on the first table it may not read; a count in our snapshot session would
    fail first and end the snapshot, so pg_dump could only say "invalid snapshot identifier".
    Say the real reason up front."""
    denied = [f"{r['schema']}.{r['name']}" for r in rows if r.get("readable") is False]
    if denied:
        shown = ", ".join(denied[:5]) + (f" and {len(denied) - 5} more" if len(denied) > 5 else "")
        raise EnvironmentProblem(
            f"permission denied: role {db.user} cannot read {len(denied)} table(s) of {db.name}: {shown}",
            hint="back up as the database owner, or grant it: GRANT pg_read_all_data TO "
                 f"{db.user} (PostgreSQL 14+), or GRANT SELECT ON ALL TABLES IN SCHEMA ... TO {db.user}")


def _json_bytes(data: dict) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode()


# ---------------------------------------------------------------- steps


def _ensure_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot create the backup folder {path}: {exc.strerror}",
                                 hint="set backup_dir in migtool.yaml (or --backup-dir) to a writable folder") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise EnvironmentProblem(f"the backup folder {path} is not writable",
                                 hint="fix its permissions or choose another --backup-dir")
    return path


def _server_version(db: Database) -> str:
    rows = db.query("SELECT current_setting('server_version') AS v")
    return str(rows[0]["v"])


def _pg_dump_version(db: Database, server_version: str) -> str:
    proc = db.tool(["pg_dump", "--version"], stdout=subprocess.PIPE, connect=False)
    out, err = proc.communicate(timeout=60)
    text = (out or b"").decode(errors="replace").strip()
    if proc.returncode != 0 or not text:
        raise EnvironmentProblem(f"cannot run pg_dump: {(err or b'').decode(errors='replace').strip()}",
                                 hint="install the PostgreSQL client tools (scripts/dev/host-tools)")
    server = int(server_version.split(".")[0]) if server_version[:1].isdigit() else None
    dump = tool_major(text)
    if server is not None and dump < server:
        raise EnvironmentProblem(f"pg_dump {dump} cannot dump a PostgreSQL {server} server",
                                 hint=f"install postgresql-client-{server}, or use the compose target")
    return text


def _migration_state(db: Database, migrations_dir: Path | None) -> tuple[dict | None, str | None]:
    if migrations_dir is None:
        return None, "no migrations folder configured"
    try:
        from migtool.migration_status import migration_state_summary

        return migration_state_summary(db, migrations_dir), None
    except ImportError:
        return None, "migration status is not available in this migtool"
    except MigtoolError as exc:
        log.debug("no migration state for the manifest: %s", exc.message)
        return None, exc.message


def _claim_name(backup_dir: Path, database: str, started: datetime,
                request: BackupRequest) -> tuple[naming.BackupName, Path, int]:
    """A name nobody uses, claimed by creating its partial file exclusively (O_EXCL). Never overwrites.
    Returns the name, the partial file and its open descriptor."""
    name = None
    for attempt in range(1, naming.MAX_ATTEMPTS + 1):
        name = naming.build_name(database, started, request.reason, request.format, request.compression, attempt,
                                 encrypted=bool(request.recipients))
        taken = [backup_dir / name.filename, *(backup_dir / s for s in naming.side_names(name.filename))]
        if any(p.exists() for p in taken):
            continue
        partial = backup_dir / naming.partial_name(name.filename)
        try:
            fd = create_private(partial)
        except FileExistsError:
            continue
        # Held until the fd closes (even on SIGKILL): `backups prune` removes only partials nobody holds.
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if any(p.exists() for p in taken):  # finished by another run between our check and claim
            os.close(fd)
            remove_quietly(partial)
            continue
        return name, partial, fd
    raise MigtoolError(f"too many backups named like {name.filename if name else '?'} in the same second",
                       hint="wait a second and try again")


def _pg_dump_argv(snapshot_id: str | None, fmt: str) -> list[str]:
    argv = ["pg_dump", "--no-password"]
    if snapshot_id:
        argv.append(f"--snapshot={snapshot_id}")
    if fmt == "custom":
        argv += ["--format=custom", "--compress=0"]  # we compress, faster and on both cores
    else:
        argv.append("--format=plain")
    return argv


class _RowCounter:
    """Exact count(*) of every table in the snapshot session, in a thread while pg_dump streams.
    A failed count is not a failed backup: the manifest then keeps the estimates."""

    def __init__(self, session: SnapshotSession, sql: str | None, wanted: bool):
        self._session = session
        self._sql = sql if wanted else None
        self._counts: dict[str, int] | None = {} if wanted and sql is None else None  # no tables: exactly none
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._sql is not None and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="row-counts", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            self._counts = {r["tbl"]: int(r["n"]) for r in self._session.query(self._sql)}
        except MigtoolError as exc:
            log.warning("exact row counts failed, the manifest keeps estimates: %s", exc.message)

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def result(self) -> dict[str, int] | None:
        self.join()
        return self._counts


def _stream_dump(db: Database, snapshot_id: str | None, request: BackupRequest, fd: int,
                 report: ProgressFn, on_started: Callable[[], None] = lambda: None) -> tuple[str, int, int, int]:
    """Run pg_dump into `fd` through the compressor. Returns (sha256, size, uncompressed size, level)."""
    hasher = hashlib.sha256()
    written = 0

    def sink(block: bytes) -> None:
        nonlocal written
        hasher.update(block)
        write_all(fd, block)
        written += len(block)

    proc = db.tool(_pg_dump_argv(snapshot_id, request.format), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    on_started()
    stderr_lines: list[bytes] = []
    drain = threading.Thread(target=_drain_stderr, args=(proc, stderr_lines), daemon=True)
    drain.start()
    compressor = None
    encryptor = None
    ok = False
    try:
        with contextlib.suppress(OSError):
            fcntl.fcntl(proc.stdout.fileno(), _F_SETPIPE_SZ, CHUNK)
        if request.recipients:
            from migtool.encryption.age_stream import AgeEncryptor

            encryptor = AgeEncryptor(sink, request.recipients)
        compressor = open_compressor(request.compression, encryptor.write if encryptor else sink)
        dumped = 0
        head = b""
        tail = b""
        t0 = time.monotonic()
        last_report = 0.0
        read = proc.stdout.read
        while True:
            block = read(CHUNK)
            if not block:
                break
            if len(head) < len(CUSTOM_MAGIC):
                head += block[:len(CUSTOM_MAGIC)]
            tail = (tail + block[-4096:])[-4096:]
            dumped += len(block)
            compressor.write(block)
            now = time.monotonic()
            if now - last_report >= 0.25:
                last_report = now
                report(Progress("dumping", dumped, written, now - t0))
        code = proc.wait()
        drain.join(timeout=10)
        if code != 0:
            raise _pg_dump_failure(db, code, stderr_lines)
        _check_complete(request.format, head, tail)
        compressor.finish()
        if encryptor is not None:
            encryptor.finish()
        report(Progress("dumping", dumped, written, time.monotonic() - t0))
        ok = True
        return hasher.hexdigest(), written, dumped, compressor.level
    finally:
        if not ok:
            with ignoring_interrupts():
                if proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
                if compressor is not None:
                    compressor.abort()
                if encryptor is not None:
                    encryptor.abort()
        with contextlib.suppress(OSError):
            proc.stdout.close()


def _drain_stderr(proc: subprocess.Popen, lines: list[bytes]) -> None:
    for line in proc.stderr:
        lines.append(line)
        del lines[:-50]  # keep the last lines only: pg_dump is quiet unless something is wrong


def _pg_dump_failure(db: Database, code: int, stderr_lines: list[bytes]) -> MigtoolError:
    text = b"".join(stderr_lines).decode(errors="replace").strip()
    lines = text.splitlines()
    # pg_dump prints "pg_dump: error: ..." and then detail lines: the error line says what went wrong.
    last = next((ln for ln in lines if "error:" in ln), lines[-1] if lines else "no error output")
    # A lost snapshot is a consequence; a permission problem anywhere in the output is the cause.
    last = next((ln for ln in lines if "permission denied" in ln.lower()), last)
    if code < 0 or code in (137, 143):
        return MigtoolError(f"pg_dump was killed (exit {code}); no backup was written")
    lowered = text.lower()
    if any(s in lowered for s in ("could not connect", "connection refused", "server closed the connection",
                                   "terminating connection", "no such file or directory")):
        return EnvironmentProblem(f"pg_dump lost the database ({db.describe()}): {last}",
                                  hint="check the server with `migtool doctor`, then run the backup again")
    return MigtoolError(f"pg_dump failed (exit {code}): {last}")


def _check_complete(fmt: str, head: bytes, tail: bytes) -> None:
    """pg_dump exited 0; make sure the stream also looks whole (a `docker exec` can hide a kill)."""
    if fmt == "sql" and SQL_TRAILER not in tail:
        raise MigtoolError("pg_dump's output stops before its end marker; no backup was written")
    if fmt == "custom" and not head.startswith(CUSTOM_MAGIC):
        raise MigtoolError("pg_dump's output is not a custom-format archive; no backup was written")


def _disk_problem(exc: OSError, backup_dir: Path) -> MigtoolError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return EnvironmentProblem(f"no space left for the backup in {backup_dir} ({exc.strerror}); "
                                  "the partial file was removed",
                                  hint="free disk space or point --backup-dir at a bigger disk, then run again")
    if exc.errno == errno.EFBIG:
        return EnvironmentProblem(f"the backup outgrew this process's file size limit in {backup_dir} "
                                  f"({exc.strerror}); the partial file was removed",
                                  hint="raise the limit (ulimit -f unlimited) and run again")
    return EnvironmentProblem(f"cannot write the backup in {backup_dir}: {exc.strerror or exc}",
                              hint="check the folder's permissions and free space")
