"""Restore a backup file into a given (existing, empty) database. The building block for the
restore-test in `backups verify`, the benchmark and the later `migtool restore`.

custom: decompress to a temp file beside the backup, fill in the data offsets that a streamed
dump lacks (so pg_restore schedules the biggest tables first), then `pg_restore -j N` (parallel
data and index builds; pg_restore needs a seekable file for -j). Where the tools run inside a container
(compose target) they cannot see our files, so the stream goes to a single-job pg_restore.
sql: stream into `psql -v ON_ERROR_STOP=1 -1`, all or nothing.
An encrypted backup (`.age`) is decrypted through age's pipe with the identity file on the way
(encryption/payload.py); the plaintext exists only in pipes, or in the -j temp file, which is as
private (0600, removed afterwards) as any decompressed copy.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from migtool.backup.compression import CHUNK, Decompressor
from migtool.backup.files import remove_quietly, write_all
from migtool.backup.pgarchive import ArchiveFormatError, add_data_offsets
from migtool.database import Database, DirectDatabase
from migtool.encryption.payload import open_payload, require_identity
from migtool.errors import EnvironmentProblem, MigtoolError

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]  # (compressed bytes read, total)


def restore_backup(db: Database, path: Path, *, fmt: str, compression: str, jobs: int = 2,
                   no_owner: bool = False, uncompressed_size: int | None = None,
                   progress: ProgressFn | None = None, single_transaction: bool = False,
                   identity: str | Path | None = None) -> float:
    """Restore `path` into `db`; returns the seconds it took. Raises MigtoolError on any failure.
    single_transaction: all or nothing for custom archives too (rules out -j); plain SQL always is.
    identity: the age key file, for an encrypted backup (ConfigError when it is needed and missing)."""
    require_identity(path, identity)
    t0 = time.monotonic()
    if fmt == "sql":
        argv = ["psql", "-X", "-q", "-w", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-f", "-"]
        _stream_into(db, argv, path, compression, progress, "psql", identity)
    elif fmt == "custom":
        base = ["pg_restore", "--exit-on-error", "--no-password"] + (["--no-owner"] if no_owner else [])
        if single_transaction:
            _stream_into(db, [*base, "--single-transaction"], path, compression, progress, "pg_restore",
                         identity)
        elif isinstance(db, DirectDatabase) and jobs > 1:
            _restore_parallel(db, base, path, compression, jobs, uncompressed_size, progress, identity)
        else:
            _stream_into(db, base, path, compression, progress, "pg_restore", identity)
    else:
        raise MigtoolError(f"unknown backup format {fmt!r}")
    return time.monotonic() - t0


def decompress_to(path: Path, compression: str, out_fd: int, progress: ProgressFn | None = None,
                  identity: str | Path | None = None) -> int:
    """Decompress `path` into `out_fd`; proves the stream ends properly. Returns bytes written."""
    total = path.stat().st_size
    done = written = 0
    d = Decompressor(compression)
    with open_payload(path, identity) as f:
        while block := f.read(CHUNK):
            done += len(block)
            data = d.decompress(block)
            if data:
                write_all(out_fd, data)
                written += len(data)
            if progress:
                progress(done, total)
    d.finish()
    return written


def _restore_parallel(db: Database, base: list[str], path: Path, compression: str, jobs: int,
                      uncompressed_size: int | None, progress: ProgressFn | None,
                      identity: str | Path | None = None) -> None:
    work_dir = path.parent
    if uncompressed_size:
        free = shutil.disk_usage(work_dir).free
        if free < uncompressed_size * 1.05:
            raise EnvironmentProblem(
                f"not enough space in {work_dir} to decompress the backup for a parallel restore "
                f"({uncompressed_size / 2**20:.0f} MiB needed, {free / 2**20:.0f} MiB free)",
                hint="free some space, or restore with jobs=1 (streams without a temp file)")
    try:
        fd, tmp_name = tempfile.mkstemp(dir=work_dir, prefix=f".{path.name}.", suffix=".partial")
    except OSError as exc:
        raise EnvironmentProblem(f"cannot write the decompressed temp file into {work_dir}: {exc.strerror or exc}",
                                 hint=f"make {work_dir} writable (the parallel restore needs "
                                      f"{(uncompressed_size or 0) / 2**20:.0f} MiB there), or copy the backup "
                                      "into a writable folder and use that as --backup-dir") from None
    tmp = Path(tmp_name)
    try:
        # Held while the file exists: `backups prune` removes only partials nobody holds.
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        decompress_to(path, compression, fd, progress, identity)
        _add_offsets(tmp)
        proc = db.tool([*base, "-j", str(jobs), str(tmp)], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise _tool_failure("pg_restore", proc.returncode, err)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot decompress the backup into {work_dir}: {exc.strerror or exc}",
                                 hint="check free space and permissions of the backup folder") from None
    finally:
        remove_quietly(tmp)
        os.close(fd)


def _add_offsets(archive: Path) -> None:
    """Let pg_restore -j schedule the biggest tables first (see pgarchive); optional, never fatal."""
    try:
        n = add_data_offsets(archive)
        log.debug("set %d data offsets in the archive's TOC", n)
    except ArchiveFormatError as exc:
        log.debug("archive left as it is (%s): pg_restore restores in dump order", exc)


def _stream_into(db: Database, argv: list[str], path: Path, compression: str,
                 progress: ProgressFn | None, what: str, identity: str | Path | None = None) -> None:
    proc = db.tool(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err_chunks: list[bytes] = []
    drain = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)
    drain.start()
    total = path.stat().st_size
    done = 0
    d = Decompressor(compression)
    broken = False
    try:
        with open_payload(path, identity) as f:
            while block := f.read(CHUNK):
                done += len(block)
                data = d.decompress(block)
                if data:
                    try:
                        proc.stdin.write(data)
                    except BrokenPipeError:
                        broken = True  # the tool stopped reading: its exit code and stderr say why
                        break
                if progress:
                    progress(done, total)
        if not broken:
            d.finish()
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
        code = proc.wait()
        drain.join(timeout=30)
        if code != 0:
            raise _tool_failure(what, code, b"".join(err_chunks))
        if broken:
            raise MigtoolError(f"{what} stopped reading the backup before its end")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _tool_failure(what: str, code: int, err: bytes) -> MigtoolError:
    text = (err or b"").decode(errors="replace").strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    # pg_restore's last line is often a summary ("errors ignored on restore: 1"): show the first error.
    first_error = next((ln for ln in lines if "error" in ln.lower()), lines[-1] if lines else "no error output")
    lowered = text.lower()
    if any(s in lowered for s in ("could not connect", "connection refused", "server closed the connection",
                                   "terminating connection")):
        # The server went away mid-restore: the environment (exit 3), as pg_dump's failure says too.
        return EnvironmentProblem(f"{what} lost the database: {first_error}",
                                  hint="check the server with `migtool doctor`, then run the same command again")
    return MigtoolError(f"{what} failed (exit {code}): {first_error}")
