"""Streaming compression on our side of the pipe, using both cores.

zstd: the `zstandard` package with its worker threads (threads=-1: one per CPU). Level 1, not the
CLI's default 3: on two cores that pg_dump and the server's COPY already keep busy, level 3's CPU
(about a fifth of gzip's, shared/MEASUREMENTS.md) still made the dump 1.3x slower than an
uncompressed one, level 1 takes half of that (measured: 1.15x vs 1.32x of `pg_dump -Fc -Z0 > file`)
for files typically 5-10% larger. gzip: `pigz`, which
compresses on all cores, when it is installed, else zlib in-process (one core). Both write frame
checksums (zstd's xxhash, gzip's CRC32), so a flipped bit is caught even without the sha256.

A compressor takes uncompressed bytes with `write()` and hands compressed bytes to a `sink`
callable; `finish()` flushes, `abort()` releases everything after a failure.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import zlib
from collections.abc import Callable
from typing import Protocol

from migtool.errors import MigtoolError

CHUNK = 1 << 20
LEVELS = {"zstd": 1, "gzip": 6}

Sink = Callable[[bytes], None]


class Compressor(Protocol):
    level: int

    def write(self, data: bytes | memoryview) -> None: ...
    def finish(self) -> None: ...
    def abort(self) -> None: ...


class Truncated(MigtoolError):
    """The compressed stream stops before its end marker."""


class Corrupt(MigtoolError):
    """The compressed stream is not valid (bad data, checksum or trailing garbage)."""


class ZstdCompressor:
    def __init__(self, sink: Sink, level: int = LEVELS["zstd"], threads: int = -1):
        import zstandard

        self.level = level
        self._sink = sink
        self._obj = zstandard.ZstdCompressor(level=level, threads=threads, write_checksum=True).compressobj()

    def write(self, data: bytes | memoryview) -> None:
        out = self._obj.compress(data)
        if out:
            self._sink(out)

    def finish(self) -> None:
        out = self._obj.flush()
        if out:
            self._sink(out)

    def abort(self) -> None:
        self._obj = None


class ZlibGzipCompressor:
    def __init__(self, sink: Sink, level: int = LEVELS["gzip"]):
        self.level = level
        self._sink = sink
        self._obj = zlib.compressobj(level, zlib.DEFLATED, 31)  # 31: gzip header and CRC trailer

    def write(self, data: bytes | memoryview) -> None:
        out = self._obj.compress(data)
        if out:
            self._sink(out)

    def finish(self) -> None:
        self._sink(self._obj.flush())

    def abort(self) -> None:
        self._obj = None


class PigzCompressor:
    """pigz in a child process: we feed its stdin, a thread drains its stdout into the sink.

    If the sink fails (disk full), the thread kills pigz so that our next write fails at once
    instead of blocking on a full pipe; the sink's own error is then raised.
    """

    def __init__(self, sink: Sink, level: int = LEVELS["gzip"], exe: str = "pigz"):
        self.level = level
        self._sink = sink
        self._error: BaseException | None = None
        self._proc = subprocess.Popen([exe, "-c", f"-{level}"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._drain, name="pigz-drain", daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        try:
            while True:
                block = self._proc.stdout.read1(CHUNK)
                if not block:
                    return
                self._sink(block)
        except BaseException as exc:  # handed to the writing thread
            self._error = exc
            self._proc.kill()

    def _raise_pending(self) -> None:
        if self._error is not None:
            raise self._error

    def write(self, data: bytes | memoryview) -> None:
        self._raise_pending()
        try:
            self._proc.stdin.write(data)
        except BrokenPipeError:
            self._reader.join()
            self._raise_pending()
            raise MigtoolError(f"pigz stopped unexpectedly: {self._stderr()}") from None

    def finish(self) -> None:
        self._raise_pending()
        self._proc.stdin.close()
        self._reader.join()
        code = self._proc.wait()
        self._raise_pending()
        if code != 0:
            raise MigtoolError(f"pigz failed (exit {code}): {self._stderr()}")

    def _stderr(self) -> str:
        try:
            return self._proc.stderr.read().decode(errors="replace").strip()
        except (OSError, ValueError):
            return ""

    def abort(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            try:
                stream.close()
            except (OSError, ValueError, BrokenPipeError):
                pass
        self._proc.wait()
        self._reader.join(timeout=5)


def pigz_path() -> str | None:
    return shutil.which("pigz")


def open_compressor(kind: str, sink: Sink, level: int | None = None) -> Compressor:
    if kind == "zstd":
        return ZstdCompressor(sink, LEVELS["zstd"] if level is None else level)
    if kind == "gzip":
        level = LEVELS["gzip"] if level is None else level
        exe = pigz_path()
        return PigzCompressor(sink, level, exe) if exe else ZlibGzipCompressor(sink, level)
    raise ValueError(f"unknown compression {kind!r}")


def compressor_description(kind: str) -> str:
    if kind == "zstd":
        return "zstd (zstandard, multithreaded)"
    return "gzip (pigz)" if pigz_path() else "gzip (zlib, one core: install pigz to use both)"


# ---------------------------------------------------------------- decompression


class Decompressor:
    """Decompress a stream of one or more frames/members; `finish()` proves it ended properly."""

    def __init__(self, kind: str):
        if kind not in LEVELS:
            raise ValueError(f"unknown compression {kind!r}")
        self.kind = kind
        self._obj = self._new()
        self._started = False

    def _new(self):
        if self.kind == "zstd":
            import zstandard

            return zstandard.ZstdDecompressor().decompressobj()
        return zlib.decompressobj(31)

    def decompress(self, data: bytes) -> bytes:
        errors = self._errors()
        parts = []
        while data:
            self._started = True
            try:
                parts.append(self._obj.decompress(data))
            except errors as exc:
                raise Corrupt(f"the {self.kind} data is corrupt: {exc}") from None
            if not self._obj.eof:
                break
            data = self._obj.unused_data
            if data:
                self._obj = self._new()  # the next frame (zstd) or member (gzip)
        return b"".join(parts)

    def finish(self) -> None:
        if not self._started:
            raise Truncated("the file is empty")
        if not self._obj.eof:
            raise Truncated(f"the {self.kind} stream ends early (truncated file)")

    def _errors(self) -> tuple[type[BaseException], ...]:
        if self.kind == "zstd":
            import zstandard

            return (zstandard.ZstdError,)
        return (zlib.error,)
