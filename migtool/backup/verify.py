"""Prove a backup whole: manifest and checksum file agree, the bytes hash to them, the stream
decompresses to its end marker, and what comes out is a complete dump (pg_dump's trailer for
plain SQL; for custom, pg_restore reads the whole archive: TOC and every data block). One pass
over the file does all of it. `--restore-test` then restores into a scratch database on the same
server and compares tables and row counts with the manifest; the scratch database is always dropped.

The result is recorded atomically in `<name>.verified.json` (the manifest itself never changes).

An encrypted backup (`.age`) is hashed as it is on disk (the checksum covers the encrypted file),
then decrypted with the identity through age's pipe and checked like any other. Without an
identity only the encrypted file is checked (checksum, size, age header) and a warning says the
content was not: that is what a backup host that holds only the public keys can prove. A key that
is not one of the recipients raises WrongIdentity (exit 1) and records nothing: it says nothing
about the file.

Two kinds of outcome, kept apart:
- a verdict: a check of the file itself ran and passed or failed (checksum, compressed stream,
  archive, restored content). Recorded as `verdict: passed|failed` (and `ok`).
- could not check: something around the file was missing (docker or the database unreachable,
  the service stopped, no scratch database, no disk space for the restore). `CouldNotCheck`
  (exit 3); the record keeps the previous verdict and notes the attempt in `last_attempt`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from migtool import __version__
from migtool.backup import naming
from migtool.backup.catalog import COULD_NOT_CHECK, LocalBackup
from migtool.backup.compression import CHUNK, Corrupt, Decompressor, Truncated
from migtool.backup.dump import SQL_TRAILER
from migtool.backup.files import write_atomic
from migtool.backup.interrupts import ignoring_interrupts, signals_raise_interrupt
from migtool.backup.manifest import ManifestError, iso, parse_checksum_file
from migtool.backup.restore import restore_backup
from migtool.backup.tables import TABLES_SQL, compare_tables, count_sql, quote_ident, quote_literal
from migtool.database import Database
from migtool.encryption.age_stream import WrongIdentity, decrypted, identity_path, is_encrypted
from migtool.errors import CheckFailed, EnvironmentProblem, MigtoolError

ProgressFn = Callable[[int, int], None]

SCRATCH_PREFIX = "migtool_verify_"
SCRATCH_COMMENT = "migtool verify scratch database"  # + pid, host: lets prune tell ours from a user's

# What a tool or the server says when the problem is around the file, not in it.
OUTAGE_PHRASES = (
    "could not connect", "connection refused", "no such file or directory", "is not running",
    "timeout expired", "the database system is", "server closed the connection", "terminating connection",
    "no space left on device", "could not extend file", "disk full", "cannot connect to the docker daemon",
    "error during connect", "permission denied to create database", "out of memory", "no such service",
    "not reachable", "connection to server", "password authentication failed",
)


class CouldNotCheck(EnvironmentProblem):
    """The check could not run; nothing is known about the file. Exit 3; the last verdict stands."""


def looks_like_outage(text: str) -> bool:
    lowered = text.lower()
    return any(p in lowered for p in OUTAGE_PHRASES)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class VerifyReport:
    name: str
    checks: list[Check] = field(default_factory=list)
    sha256: str | None = None
    restore_test: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def problems(self) -> list[str]:
        return [f"{c.name}: {c.detail}" for c in self.checks if not c.ok]

    def to_dict(self) -> dict[str, Any]:
        now = iso(datetime.now(UTC))
        return {
            "name": self.name,
            "verdict": "passed" if self.ok else "failed",
            "ok": self.ok,
            "verified_at": now,
            "last_attempt": {"at": now, "outcome": "passed" if self.ok else "failed"},
            "sha256": self.sha256,
            "problems": self.problems,
            "warnings": self.warnings,
            "checks": [asdict(c) for c in self.checks],
            "restore_test": self.restore_test,
            "seconds": round(self.seconds, 3),
            "migtool_version": __version__,
        }


def verify_backup(backup: LocalBackup, db: Database | None, restore_test: bool = False,
                  progress: ProgressFn | None = None, record: bool = True,
                  identity: str | Path | None = None) -> VerifyReport:
    """Check `backup`; returns the verdict (report.ok). Raises CouldNotCheck when a check could not
    run: then the record keeps its previous verdict and only notes the attempt. `identity`: the age
    key file for an encrypted backup."""
    try:
        report = _run_checks(backup, db, restore_test, progress, identity)
    except CouldNotCheck as exc:
        if record:
            record_outage(backup, exc.message)
        raise
    if record:
        _record(backup, report.to_dict(), report.warnings)
    return report


def _run_checks(backup: LocalBackup, db: Database | None, restore_test: bool,
                progress: ProgressFn | None, identity: str | Path | None = None) -> VerifyReport:
    t0 = time.monotonic()
    report = VerifyReport(backup.filename)
    manifest = backup.manifest
    fmt, compression = backup.name.format, backup.name.compression

    if manifest is not None:
        report.checks.append(Check("manifest", True, f"{len(manifest.tables)} tables, {manifest.row_counts} row counts"))
    else:
        report.checks.append(Check("manifest", False, backup.manifest_problem or "missing manifest"))
    expected_from_file = _checksum_file(backup, report)
    if manifest is not None and expected_from_file is not None and manifest.sha256 != expected_from_file:
        report.checks.append(Check("checksums agree", False, "the .sha256 file and the manifest disagree"))
    if manifest is not None:
        ok = backup.size == manifest.size
        detail = (f"{backup.size} bytes" if ok else
                  f"file has {backup.size} bytes, the manifest says {manifest.size}"
                  + (" (truncated)" if backup.size < manifest.size else ""))
        report.checks.append(Check("size", ok, detail))
    if manifest is not None and (manifest.format, manifest.compression) != (fmt, compression):
        report.checks.append(Check("format", False, f"the manifest says {manifest.format}/{manifest.compression}, "
                                                    f"the name says {fmt}/{compression}"))

    if backup.name.encrypted:
        if identity is not None or restore_test:
            identity_path(identity, backup.filename)  # no usable key: ConfigError before any work
        sha256, not_judged = _read_through_encrypted(backup, db, fmt, compression, report, progress, identity)
    else:
        sha256, not_judged = _read_through(backup, db, fmt, compression, report, progress)
    report.sha256 = sha256
    expected = manifest.sha256 if manifest else expected_from_file
    if expected is None:
        report.checks.append(Check("sha256", False, "no recorded checksum to compare with"))
    else:
        report.checks.append(Check("sha256", sha256 == expected,
                                   "matches" if sha256 == expected else
                                   f"checksum mismatch: the file hashes to {sha256[:16]}..., "
                                   f"recorded {expected[:16]}... (corrupt or modified)"))
    if not_judged is not None:
        if report.ok:  # nothing else is wrong with the file: no verdict can be given
            raise CouldNotCheck(f"could not check: {not_judged}",
                                hint="check docker and the database service with `migtool doctor`, then verify again")
        report.checks.append(Check("complete dump", False, f"not checked: {not_judged}"))

    if restore_test:
        if not report.ok:
            report.checks.append(Check("restore test", False, "skipped: the file itself failed the checks above"))
        elif db is None:
            raise MigtoolError("a restore test needs a database connection")
        else:
            _restore_test(backup, db, report, identity)
    report.seconds = time.monotonic() - t0
    return report


def _record(backup: LocalBackup, data: dict[str, Any], warnings: list[str]) -> None:
    try:
        write_atomic(backup.path.parent / naming.verified_name(backup.filename),
                     (json.dumps(data, indent=2) + "\n").encode())
    except OSError as exc:  # e.g. a read-only copy: the verdict stands, only its record is lost
        warnings.append(f"could not record the result beside the backup: {exc.strerror or exc}")


def record_outage(backup: LocalBackup, why: str) -> None:
    """Note the failed attempt; the previous verdict (if any) stays exactly as it was."""
    previous = dict(backup.verification or {})
    if not previous:
        previous = {"name": backup.filename, "verdict": None, "ok": None}
    previous["last_attempt"] = {"at": iso(datetime.now(UTC)), "outcome": COULD_NOT_CHECK, "why": why}
    _record(backup, previous, [])


def _checksum_file(backup: LocalBackup, report: VerifyReport) -> str | None:
    cpath = backup.path.parent / naming.checksum_name(backup.filename)
    try:
        value = parse_checksum_file(cpath.read_text(encoding="utf-8"), backup.filename)
    except FileNotFoundError:
        if backup.manifest is not None:
            # The manifest holds the same checksum and the sha256 check below uses it: the file
            # can still be proven whole, so this is a missing convenience file, not a bad backup.
            report.warnings.append(f"missing {cpath.name} (the manifest's checksum is used instead); "
                                   f"recreate it: cd {backup.path.parent} && sha256sum {backup.filename} "
                                   f"> {cpath.name}")
        else:
            report.checks.append(Check("checksum file", False, f"missing {cpath.name}"))
        return None
    except (OSError, UnicodeDecodeError, ManifestError) as exc:
        report.checks.append(Check("checksum file", False, str(exc)))
        return None
    report.checks.append(Check("checksum file", True, cpath.name))
    return value


def _hash_file(backup: LocalBackup, progress: ProgressFn | None) -> str:
    hasher = hashlib.sha256()
    done = 0
    try:
        with open(backup.path, "rb") as f:
            while block := f.read(CHUNK):
                hasher.update(block)
                done += len(block)
                if progress:
                    progress(done, backup.size)
    except OSError as exc:
        raise CouldNotCheck(f"could not check: cannot read {backup.path}: {exc.strerror or exc}",
                            hint="check the file's permissions and the disk, then verify again") from None
    return hasher.hexdigest()


def _read_through_encrypted(backup: LocalBackup, db: Database | None, fmt: str, compression: str,
                            report: VerifyReport, progress: ProgressFn | None,
                            identity: str | Path | None) -> tuple[str, str | None]:
    """Hash the encrypted file, then (with an identity) decrypt, decompress and check the dump."""
    sha256 = _hash_file(backup, progress)
    try:
        header = is_encrypted(backup.path)
    except OSError as exc:
        raise CouldNotCheck(f"could not check: cannot read {backup.path}: {exc.strerror or exc}") from None
    report.checks.append(Check("age header", header, "an age file" if header else
                               "the file does not start with an age header (not encrypted, or damaged)"))
    if not header:
        return sha256, None
    if identity is None:
        report.warnings.append("encrypted backup checked without its identity: checksum, size and age header "
                               "only, not the dump inside (set MIGTOOL_AGE_IDENTITY or pass --identity)")
        return sha256, None
    d = Decompressor(compression)
    content = _SqlTrailer() if fmt == "sql" else _PgRestoreReader(db)
    stream_error: str | None = None
    try:
        try:
            with decrypted(backup.path, identity) as plain:
                while block := plain.read(CHUNK):
                    if stream_error is None:
                        try:
                            data = d.decompress(block)
                        except Corrupt as exc:
                            stream_error = exc.message
                        else:
                            if data:
                                content.feed(data)
        except WrongIdentity:
            raise
        except CheckFailed as exc:  # age refused the file itself: damaged header or body
            report.checks.append(Check("decrypts", False, exc.message))
            return sha256, None
        report.checks.append(Check("decrypts", True, "age stream authenticated to its end"))
        if stream_error is None:
            try:
                d.finish()
            except Truncated as exc:
                stream_error = exc.message
        report.checks.append(Check("decompresses", stream_error is None, stream_error or f"{compression} stream complete"))
        ok, detail = content.close(complete_stream=stream_error is None)
        if ok is None:
            return sha256, detail
        report.checks.append(Check("complete dump", ok, detail))
    finally:
        content.abort()
    return sha256, None


def _read_through(backup: LocalBackup, db: Database | None, fmt: str, compression: str,
                  report: VerifyReport, progress: ProgressFn | None) -> tuple[str, str | None]:
    """One pass: hash the file, decompress it, and feed the dump to its content check.
    Returns the sha256 and, when the content check could not judge the dump, why."""
    hasher = hashlib.sha256()
    d = Decompressor(compression)
    content = _SqlTrailer() if fmt == "sql" else _PgRestoreReader(db)
    total = backup.size
    done = 0
    stream_error: str | None = None
    try:
        try:
            with open(backup.path, "rb") as f:
                while block := f.read(CHUNK):
                    hasher.update(block)
                    done += len(block)
                    if stream_error is None:
                        try:
                            data = d.decompress(block)
                        except Corrupt as exc:
                            stream_error = exc.message
                        else:
                            if data:
                                content.feed(data)
                    if progress:
                        progress(done, total)
        except OSError as exc:  # an unreadable file or a failing disk says nothing about the bytes
            raise CouldNotCheck(f"could not check: cannot read {backup.path}: {exc.strerror or exc}",
                                hint="check the file's permissions and the disk, then verify again") from None
        if stream_error is None:
            try:
                d.finish()
            except Truncated as exc:
                stream_error = exc.message
        report.checks.append(Check("decompresses", stream_error is None, stream_error or f"{compression} stream complete"))
        ok, detail = content.close(complete_stream=stream_error is None)
        if ok is None:
            return hasher.hexdigest(), detail
        report.checks.append(Check("complete dump", ok, detail))
    finally:
        content.abort()
    return hasher.hexdigest(), None


class _SqlTrailer:
    def __init__(self) -> None:
        self.tail = b""
        self.size = 0

    def feed(self, data: bytes) -> None:
        self.size += len(data)
        self.tail = (self.tail + data[-4096:])[-4096:]

    def close(self, complete_stream: bool) -> tuple[bool | None, str]:
        if SQL_TRAILER in self.tail:
            return True, "ends with pg_dump's completion trailer"
        return False, "no pg_dump completion trailer at the end: the dump is incomplete"

    def abort(self) -> None:
        pass


class _PgRestoreReader:
    """`pg_restore -f /dev/null` reading the archive from stdin: it parses the TOC and every data
    block, and fails on a cut or damaged archive. Runs where the pg tools are (container or local)."""

    def __init__(self, db: Database | None):
        argv = ["pg_restore", "-f", "/dev/null"]
        if db is not None:
            _preflight(db)
            try:
                self.proc = db.tool(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, connect=False)
            except MigtoolError as exc:
                raise CouldNotCheck(f"could not check: cannot start pg_restore: {exc.message}",
                                    hint=exc.hint) from None
        else:
            exe = shutil.which("pg_restore")
            if exe is None:
                raise CouldNotCheck("could not check: pg_restore is needed to check a custom-format backup",
                                    hint="install the PostgreSQL client tools")
            self.proc = subprocess.Popen([exe, *argv[1:]], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE)
        self.err: list[bytes] = []
        self.broken = False
        self._drain = threading.Thread(target=lambda: self.err.append(self.proc.stderr.read()), daemon=True)
        self._drain.start()

    def feed(self, data: bytes) -> None:
        if self.broken:
            return
        try:
            self.proc.stdin.write(data)
        except BrokenPipeError:
            self.broken = True

    def close(self, complete_stream: bool) -> tuple[bool | None, str]:
        """(True/False, detail) for a verdict; (None, why) when pg_restore could not judge."""
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.close()
        code = self.proc.wait()
        self._drain.join(timeout=30)
        text = b"".join(self.err).decode(errors="replace").strip()
        if code == 0 and not self.broken:
            return True, "pg_restore read the whole archive"
        # Only pg_restore's own complaint about its input is a verdict; a killed `docker exec`, a
        # stopped service or silence says nothing about the file.
        own = [ln for ln in text.splitlines() if ln.startswith("pg_restore:")]
        if not own or code < 0 or code in (125, 126, 127, 137, 143) or looks_like_outage(text):
            last = text.splitlines()[-1] if text else f"pg_restore exited with {code}"
            return None, f"pg_restore stopped without judging the archive: {last}"
        return False, f"pg_restore cannot read the archive: {own[-1]}"

    def abort(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _preflight(db: Database) -> None:
    """Can the pg tools run where the target says? (docker up, service running.) Else no verdict."""
    try:
        proc = db.tool(["pg_restore", "--version"], stdout=subprocess.PIPE, connect=False)
        out, err = proc.communicate(timeout=120)
    except (MigtoolError, OSError, subprocess.TimeoutExpired) as exc:
        why = exc.message if isinstance(exc, MigtoolError) else str(exc)
        raise CouldNotCheck(f"could not check: cannot run pg_restore: {why}",
                            hint="check docker and the database service with `migtool doctor`") from None
    if proc.returncode != 0 or b"pg_restore" not in (out or b""):
        text = (err or b"").decode(errors="replace").strip()
        last = text.splitlines()[-1] if text else f"exit {proc.returncode}"
        raise CouldNotCheck(f"could not check: cannot run pg_restore: {last}",
                            hint="check docker and the database service with `migtool doctor`")


# ---------------------------------------------------------------- restore test


def scratch_name(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{SCRATCH_PREFIX}{now.strftime('%Y%m%d%H%M%S')}_{secrets.token_hex(3)}"


def scratch_comment() -> str:
    import os
    import socket

    return f"{SCRATCH_COMMENT} (pid {os.getpid()} on {socket.gethostname()})"


def _outage_or(exc: MigtoolError, what: str) -> CouldNotCheck | None:
    if isinstance(exc, EnvironmentProblem) or looks_like_outage(exc.message):
        return CouldNotCheck(f"could not check: {what}: {exc.message}",
                             hint=exc.hint or "check the database with `migtool doctor`, then verify again")
    return None


def _restore_test(backup: LocalBackup, db: Database, report: VerifyReport,
                  identity: str | Path | None = None) -> None:
    manifest = backup.manifest
    assert manifest is not None
    scratch = scratch_name()
    created = False
    try:
        with signals_raise_interrupt():
            try:
                db.execute(f"CREATE DATABASE {quote_ident(scratch)}")
            except MigtoolError as exc:
                # Not being allowed to, or not reaching the server, says nothing about the file.
                raise CouldNotCheck(f"could not check: cannot create the scratch database {scratch} "
                                    f"for the restore test: {exc.message}",
                                    hint="run the restore test as a role with CREATEDB on a reachable server") from None
            created = True
            try:
                db.execute(f"COMMENT ON DATABASE {quote_ident(scratch)} IS {quote_literal(scratch_comment())}")
            except MigtoolError:
                pass  # only helps `backups prune` recognise it after a crash; the name still does
            target = db.with_database(scratch)
            try:
                seconds = restore_backup(target, backup.path, fmt=manifest.format, compression=manifest.compression,
                                         jobs=2, no_owner=True, uncompressed_size=manifest.uncompressed_size,
                                         identity=identity)
            except MigtoolError as exc:
                outage = _outage_or(exc, "the restore test could not run")
                if outage is not None:
                    raise outage from None
                report.restore_test = {"database": scratch, "error": exc.message}
                report.checks.append(Check("restore test", False, exc.message))
                return
            try:
                rows = target.query(TABLES_SQL)
                sql = count_sql((r["schema"], r["name"]) for r in rows)
                restored = {r["tbl"]: int(r["n"]) for r in target.query(sql)} if sql else {}
            except MigtoolError as exc:
                raise CouldNotCheck(f"could not check: cannot count the restored rows: {exc.message}",
                                    hint="check the database with `migtool doctor`, then verify again") from None
        cmp = compare_tables(manifest.tables, manifest.row_counts, restored)
        report.warnings.extend(cmp.warnings)
        report.restore_test = {
            "database": scratch,
            "seconds": round(seconds, 3),
            "tables": len(restored),
            "row_counts_compared": cmp.compared,
            "row_counts": manifest.row_counts,
            "problems": cmp.problems,
        }
        detail = (f"restored in {seconds:.1f} s into {scratch}; {len(restored)} tables"
                  + (f", {cmp.compared} exact row counts match" if cmp.compared else "")
                  if not cmp.problems else "; ".join(cmp.problems))
        report.checks.append(Check("restore test", not cmp.problems, detail))
    finally:
        if created:
            _drop_scratch(db, scratch)


def _drop_scratch(db: Database, scratch: str) -> None:
    """Always runs, even after Ctrl-C: a second Ctrl-C must not leave the scratch database behind."""
    with ignoring_interrupts(signal.SIGINT, signal.SIGTERM):
        try:
            db.execute(f"DROP DATABASE IF EXISTS {quote_ident(scratch)} WITH (FORCE)")
        except MigtoolError:
            # Before PostgreSQL 13 there is no FORCE; our own restore has ended, so nothing is connected.
            try:
                db.execute(f"DROP DATABASE IF EXISTS {quote_ident(scratch)}")
            except MigtoolError:
                pass  # the server went away: doctor and prune report and remove it later
