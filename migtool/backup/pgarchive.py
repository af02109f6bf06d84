"""Give a streamed custom-format archive the data offsets pg_dump could not write.

pg_dump writes the table of contents before the data. Writing to a file it can seek in, it comes
back at the end and fills in where each table's data starts; writing to a pipe (as we do, to
compress on the fly) it cannot, so every entry says "position not set". pg_restore -j then has no
sizes to schedule by (it restores the largest tables first only when it knows the offsets) and
falls back to dump order, which can start the biggest table, and its index builds, last.

After decompressing to a temp file for a parallel restore we find each data block and write its
offset into the TOC in place, the way pg_dump itself would have. Only the fixed-size offset
fields change. Anything unexpected (an archive version we do not know, compressed data blocks,
large objects, a block not where it must be) leaves the file untouched: pg_restore reads it as
before, just without the size-based order.

Format (pg_backup_archiver.c / pg_backup_custom.c): integers are a sign byte plus `intSize`
little-endian bytes; strings are an integer length (-1 = NULL) plus bytes; an offset is a state
byte (1 = not set, 2 = set, 3 = no data) plus `offSize` little-endian bytes. Data blocks follow
the TOC in TOC order: type byte (1 = table data, 3 = large objects), dump id, then chunks of
(length, bytes) ending with a zero length.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"PGDMP"
FORMAT_CUSTOM = 1
OFFSET_NOT_SET, OFFSET_SET, OFFSET_NO_DATA = 1, 2, 3
BLOCK_DATA = 1
MIN_VERSION, MAX_VERSION = (1, 12), (1, 16)  # PostgreSQL 9.0 .. 17


class ArchiveFormatError(ValueError):
    """Not an archive we can safely patch; the message says why."""


@dataclass(frozen=True)
class DataEntry:
    dump_id: int
    desc: str
    state: int
    offset: int
    field_pos: int  # where the entry's offset field (state byte) sits in the file


@dataclass(frozen=True)
class Toc:
    version: tuple[int, int, int]
    int_size: int
    off_size: int
    compressed: bool
    entries: list[DataEntry]  # entries that have (or had) a data block, in TOC order
    end: int  # first byte after the TOC: where the data blocks start


class _Reader:
    def __init__(self, buf, int_size: int = 4):
        self.buf = buf
        self.pos = 0
        self.int_size = int_size

    def byte(self) -> int:
        if self.pos >= len(self.buf):
            raise ArchiveFormatError("unexpected end of archive in the header/TOC")
        b = self.buf[self.pos]
        self.pos += 1
        return b

    def bytes(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise ArchiveFormatError("unexpected end of archive in the header/TOC")
        out = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return out

    def int(self) -> int:
        sign = self.byte()
        value = int.from_bytes(self.bytes(self.int_size), "little")
        return -value if sign else value

    def str(self) -> str | None:
        n = self.int()
        if n < 0:
            return None
        return self.bytes(n).decode("utf-8", errors="replace")


def read_toc(buf) -> Toc:
    r = _Reader(buf)
    if r.bytes(5) != MAGIC:
        raise ArchiveFormatError("not a pg_dump custom archive")
    version = (r.byte(), r.byte(), r.byte())
    if not MIN_VERSION <= version[:2] <= MAX_VERSION:
        raise ArchiveFormatError(f"archive version {version[0]}.{version[1]} is not one we know")
    r.int_size = r.byte()
    off_size = r.byte()
    if not 1 <= r.int_size <= 8 or not 1 <= off_size <= 8:
        raise ArchiveFormatError("implausible integer or offset size")
    if r.byte() != FORMAT_CUSTOM:
        raise ArchiveFormatError("not a custom-format archive")
    compressed = (r.byte() != 0) if version[:2] >= (1, 15) else (r.int() != 0)
    for _ in range(7):  # creation time: sec, min, hour, mday, mon, year, isdst
        r.int()
    r.str()  # database name
    r.str()  # server version
    r.str()  # pg_dump version
    count = r.int()
    if count < 0:
        raise ArchiveFormatError("negative TOC size")
    entries = []
    for _ in range(count):
        dump_id = r.int()
        had_dumper = r.int()
        r.str()  # table oid
        r.str()  # oid
        r.str()  # tag
        desc = r.str() or ""
        r.int()  # section
        for _ in range(5):  # defn, dropStmt, copyStmt, namespace, tablespace
            r.str()
        if version[:2] >= (1, 14):
            r.str()  # table access method
        if version[:2] >= (1, 16):
            r.int()  # relkind
        r.str()  # owner
        r.str()  # "with oids" (always false)
        while r.str() is not None:  # dependencies, NULL-terminated
            pass
        field_pos = r.pos
        state = r.byte()
        offset = int.from_bytes(r.bytes(off_size), "little")
        if had_dumper and state != OFFSET_NO_DATA:
            entries.append(DataEntry(dump_id, desc, state, offset, field_pos))
    return Toc(version, r.int_size, off_size, compressed, entries, r.pos)


def _int_bytes(value: int, int_size: int) -> bytes:
    return b"\x00" + value.to_bytes(int_size, "little")


def locate_blocks(buf, toc: Toc) -> dict[int, int]:
    """Dump id -> file offset of its data block, found in TOC order.

    A block ends with a zero-length chunk (a sign byte and intSize zero bytes) and the next block
    starts right after with its type byte and dump id. Text COPY data never contains a NUL byte,
    and chunk lengths are never zero, so that run of zeros followed by the expected header marks a
    block boundary and nothing else."""
    if toc.compressed:
        raise ArchiveFormatError("the data blocks are compressed by pg_dump")
    if any(e.desc != "TABLE DATA" for e in toc.entries):
        raise ArchiveFormatError("the archive holds data other than table rows (e.g. large objects)")
    terminator = b"\x00" * (1 + toc.int_size)
    found: dict[int, int] = {}
    pos = toc.end
    for i, entry in enumerate(toc.entries):
        header = bytes([BLOCK_DATA]) + _int_bytes(entry.dump_id, toc.int_size)
        if i == 0:
            if buf[pos:pos + len(header)] != header:
                raise ArchiveFormatError("the first data block does not follow the TOC")
            start = pos
        else:
            hit = buf.find(terminator + header, pos)
            if hit < 0:
                raise ArchiveFormatError(f"no data block for dump id {entry.dump_id}")
            start = hit + len(terminator)
        found[entry.dump_id] = start
        pos = start + len(header)
    if toc.entries and buf[len(buf) - len(terminator):] != terminator:
        raise ArchiveFormatError("the last data block is not terminated")
    return found


def add_data_offsets(path: Path) -> int:
    """Fill in the TOC's data offsets of a custom archive file in place. Returns how many entries
    were set (0 when there was nothing to do). Raises ArchiveFormatError, leaving the file as it
    was, when the archive is not one we can patch safely."""
    with open(path, "r+b") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise ArchiveFormatError("empty file")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            toc = read_toc(buf)
            todo = [e for e in toc.entries if e.state == OFFSET_NOT_SET]
            if not todo:
                return 0
            if len(todo) != len(toc.entries):
                raise ArchiveFormatError("some offsets are set and some are not")
            offsets = locate_blocks(buf, toc)
        for e in todo:
            os.pwrite(f.fileno(), bytes([OFFSET_SET]) + offsets[e.dump_id].to_bytes(toc.off_size, "little"),
                      e.field_pos)
        f.flush()
    return len(todo)
