"""Prove a backup whole: manifest and checksum file agree, the bytes hash to them, the stream
decompresses to its end marker, and what comes out is a complete dump (pg_dump's trailer for
plain SQL; for custom, pg_restore reads the whole archive: TOC and every data block). One pass
over the file does all of it. `--restore-test` then restores into a scratch database on the same
server and compares tables and row counts with the manifest; the scratch database is always dropped.

The result is recorded atomically in `<name>.verified.json` (the manifest itself never changes).
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
from typing import Any

from migtool import __version__
from migtool.backup import naming
from migtool.backup.catalog import LocalBackup
from migtool.backup.compression import CHUNK, Corrupt, Decompressor, Truncated
from migtool.backup.dump import SQL_TRAILER
from migtool.backup.files import write_atomic
from migtool.backup.interrupts import ignoring_interrupts, signals_raise_interrupt
from migtool.backup.manifest import ManifestError, iso, parse_checksum_file
from migtool.backup.restore import restore_backup
from migtool.backup.tables import TABLES_SQL, compare_tables, count_sql, quote_ident
from migtool.database import Database
from migtool.errors import EnvironmentProblem, MigtoolError

ProgressFn = Callable[[int, int], None]


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
        return {
            "name": self.name,
            "ok": self.ok,
            "verified_at": iso(datetime.now(UTC)),
            "sha256": self.sha256,
            "problems": self.problems,
            "warnings": self.warnings,
            "checks": [asdict(c) for c in self.checks],
            "restore_test": self.restore_test,
            "seconds": round(self.seconds, 3),
            "migtool_version": __version__,
        }


def verify_backup(backup: LocalBackup, db: Database | None, restore_test: bool = False,
                  progress: ProgressFn | None = None, record: bool = True) -> VerifyReport:
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

    sha256 = _read_through(backup, db, fmt, compression, report, progress)
    report.sha256 = sha256
    expected = manifest.sha256 if manifest else expected_from_file
    if expected is None:
        report.checks.append(Check("sha256", False, "no recorded checksum to compare with"))
    else:
        report.checks.append(Check("sha256", sha256 == expected,
                                   "matches" if sha256 == expected else
                                   f"checksum mismatch: the file hashes to {sha256[:16]}..., "
                                   f"recorded {expected[:16]}... (corrupt or modified)"))

    if restore_test:
        if not report.ok:
            report.checks.append(Check("restore test", False, "skipped: the file itself failed the checks above"))
        elif db is None:
            raise MigtoolError("a restore test needs a database connection")
        else:
            _restore_test(backup, db, report)
    report.seconds = time.monotonic() - t0
    if record:
        try:
            write_atomic(backup.path.parent / naming.verified_name(backup.filename),
                         (json.dumps(report.to_dict(), indent=2) + "\n").encode())
        except OSError as exc:  # e.g. a read-only copy: the verdict stands, only its record is lost
            report.warnings.append(f"could not record the result beside the backup: {exc.strerror or exc}")
    return report


def _checksum_file(backup: LocalBackup, report: VerifyReport) -> str | None:
    cpath = backup.path.parent / naming.checksum_name(backup.filename)
    try:
        value = parse_checksum_file(cpath.read_text(encoding="utf-8"), backup.filename)
    except FileNotFoundError:
        report.checks.append(Check("checksum file", False, f"missing {cpath.name}"))
        return None
    except (OSError, UnicodeDecodeError, ManifestError) as exc:
        report.checks.append(Check("checksum file", False, str(exc)))
        return None
    report.checks.append(Check("checksum file", True, cpath.name))
    return value


def _read_through(backup: LocalBackup, db: Database | None, fmt: str, compression: str,
                  report: VerifyReport, progress: ProgressFn | None) -> str:
    """One pass: hash the file, decompress it, and feed the dump to its content check."""
    hasher = hashlib.sha256()
    d = Decompressor(compression)
    content = _SqlTrailer() if fmt == "sql" else _PgRestoreReader(db)
    total = backup.size
    done = 0
    stream_error: str | None = None
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
        if stream_error is None:
            try:
                d.finish()
            except Truncated as exc:
                stream_error = exc.message
        report.checks.append(Check("decompresses", stream_error is None, stream_error or f"{compression} stream complete"))
        ok, detail = content.close(complete_stream=stream_error is None)
        report.checks.append(Check("complete dump", ok, detail))
    finally:
        content.abort()
    return hasher.hexdigest()


class _SqlTrailer:
    def __init__(self) -> None:
        self.tail = b""
        self.size = 0

    def feed(self, data: bytes) -> None:
        self.size += len(data)
        self.tail = (self.tail + data[-4096:])[-4096:]

    def close(self, complete_stream: bool) -> tuple[bool, str]:
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
            self.proc = db.tool(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, connect=False)
        else:
            exe = shutil.which("pg_restore")
            if exe is None:
                raise EnvironmentProblem("pg_restore is needed to check a custom-format backup",
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

    def close(self, complete_stream: bool) -> tuple[bool, str]:
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.close()
        code = self.proc.wait()
        self._drain.join(timeout=30)
        text = b"".join(self.err).decode(errors="replace").strip()
        if code == 0 and not self.broken:
            return True, "pg_restore read the whole archive"
        last = text.splitlines()[-1] if text else f"pg_restore exited with {code}"
        return False, f"pg_restore cannot read the archive: {last}"

    def abort(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# ---------------------------------------------------------------- restore test


def scratch_name(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"migtool_verify_{now.strftime('%Y%m%d%H%M%S')}_{secrets.token_hex(3)}"


def _restore_test(backup: LocalBackup, db: Database, report: VerifyReport) -> None:
    manifest = backup.manifest
    assert manifest is not None
    scratch = scratch_name()
    created = False
    try:
        with signals_raise_interrupt():
            db.execute(f"CREATE DATABASE {quote_ident(scratch)}")
            created = True
            target = db.with_database(scratch)
            seconds = restore_backup(target, backup.path, fmt=manifest.format, compression=manifest.compression,
                                     jobs=2, no_owner=True, uncompressed_size=manifest.uncompressed_size)
            rows = target.query(TABLES_SQL)
            sql = count_sql((r["schema"], r["name"]) for r in rows)
            restored = {r["tbl"]: int(r["n"]) for r in target.query(sql)} if sql else {}
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
    except MigtoolError as exc:
        report.restore_test = {"database": scratch, "error": exc.message}
        report.checks.append(Check("restore test", False, exc.message))
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
            db.execute(f"DROP DATABASE IF EXISTS {quote_ident(scratch)}")
