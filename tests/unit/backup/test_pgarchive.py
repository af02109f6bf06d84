"""pgarchive on archives built here byte by byte in pg_dump's custom format (no files, no pg_dump)."""

import pytest

from migtool.backup.pgarchive import (
    OFFSET_NO_DATA,
    OFFSET_NOT_SET,
    OFFSET_SET,
    ArchiveFormatError,
    locate_blocks,
    read_toc,
)

INT = 4
OFF = 8


def i(v):
    return (b"\x01" if v < 0 else b"\x00") + abs(v).to_bytes(INT, "little")


def s(text):
    if text is None:
        return i(-1)
    data = text.encode()
    return i(len(data)) + data


def archive(entries, blocks, version=(1, 14, 0), compression=0, trailing=b""):
    """entries: (dump_id, had_dumper, desc, state, offset); blocks: (dump_id, [chunks])."""
    head = b"PGDMP" + bytes(version) + bytes([INT, OFF, 1])
    head += bytes([compression]) if version[:2] >= (1, 15) else i(compression)
    head += b"".join(i(v) for v in (1, 2, 3, 4, 5, 124, 0)) + s("shop") + s("15.18") + s("15.18")
    toc = i(len(entries))
    for dump_id, had_dumper, desc, state, offset in entries:
        toc += i(dump_id) + i(had_dumper) + s("1259") + s("16384") + s(f"t{dump_id}") + s(desc) + i(3)
        toc += s("CREATE ...;") + s("DROP ...;") + s("COPY ...;") + s("public") + s("")
        if version[:2] >= (1, 14):
            toc += s("heap")
        if version[:2] >= (1, 16):
            toc += i(114)
        toc += s("postgres") + s("false") + s("12") + s("13") + s(None)
        toc += bytes([state]) + offset.to_bytes(OFF, "little")
    data = b""
    starts = {}
    base = len(head) + len(toc)
    for dump_id, chunks in blocks:
        starts[dump_id] = base + len(data)
        data += bytes([1]) + i(dump_id)
        for chunk in chunks:
            data += i(len(chunk)) + chunk
        data += i(0)
    return head + toc + data + trailing, starts, len(head) + len(toc)


ROWS = [b"1\talice\n" * 300, b"2\tbob \\N\n", b"x" * 65536]  # chunk lengths with zero bytes in them


@pytest.mark.parametrize("version", [(1, 13, 0), (1, 14, 0), (1, 15, 0), (1, 16, 0)])
def test_finds_every_block_in_toc_order(version):
    entries = [(5, 0, "TABLE", OFFSET_NO_DATA, 0), (300, 1, "TABLE DATA", OFFSET_NOT_SET, 0),
               (65536, 1, "TABLE DATA", OFFSET_NOT_SET, 0), (7, 1, "TABLE DATA", OFFSET_NOT_SET, 0)]
    blocks = [(300, ROWS), (65536, []), (7, ROWS[::-1])]  # an empty table in the middle
    buf, starts, toc_end = archive(entries, blocks, version)
    toc = read_toc(buf)
    assert toc.version == version and toc.end == toc_end and not toc.compressed
    assert [e.dump_id for e in toc.entries] == [300, 65536, 7]
    assert all(e.state == OFFSET_NOT_SET for e in toc.entries)
    assert locate_blocks(buf, toc) == starts
    # the offset field really is where the state byte sits
    for e in toc.entries:
        assert buf[e.field_pos] == OFFSET_NOT_SET


def test_offsets_already_set_are_read():
    entries = [(3, 1, "TABLE DATA", OFFSET_SET, 0)]
    buf, starts, _ = archive(entries, [(3, ROWS)])
    toc = read_toc(buf)
    assert toc.entries[0].state == OFFSET_SET


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda b: b"XXXXX" + b[5:], "not a pg_dump custom archive"),
    (lambda b: b[:5] + bytes([1, 30, 0]) + b[8:], "version 1.30"),
    (lambda b: b[:10] + bytes([3]) + b[11:], "not a custom-format archive"),
    (lambda b: b[:200], "unexpected end"),
])
def test_bad_headers(mutate, message):
    buf, _, _ = archive([(3, 1, "TABLE DATA", OFFSET_NOT_SET, 0)], [(3, ROWS)])
    with pytest.raises(ArchiveFormatError, match=message):
        read_toc(mutate(buf))


def test_compressed_archives_and_large_objects_are_left_alone():
    buf, _, _ = archive([(3, 1, "TABLE DATA", OFFSET_NOT_SET, 0)], [(3, ROWS)], compression=6)
    toc = read_toc(buf)
    assert toc.compressed
    with pytest.raises(ArchiveFormatError, match="compressed"):
        locate_blocks(buf, toc)
    buf, _, _ = archive([(3, 1, "BLOBS", OFFSET_NOT_SET, 0)], [(3, ROWS)])
    with pytest.raises(ArchiveFormatError, match="large objects"):
        locate_blocks(buf, read_toc(buf))


def test_missing_or_misplaced_blocks_are_errors():
    entries = [(3, 1, "TABLE DATA", OFFSET_NOT_SET, 0), (4, 1, "TABLE DATA", OFFSET_NOT_SET, 0)]
    buf, _, _ = archive(entries, [(3, ROWS)])  # block 4 missing
    with pytest.raises(ArchiveFormatError, match="no data block for dump id 4"):
        locate_blocks(buf, read_toc(buf))
    buf, _, _ = archive(entries, [(4, ROWS), (3, ROWS)])  # out of TOC order
    with pytest.raises(ArchiveFormatError, match="first data block"):
        locate_blocks(buf, read_toc(buf))
    buf, _, _ = archive(entries, [(3, ROWS), (4, ROWS)], trailing=b"junk")
    with pytest.raises(ArchiveFormatError, match="not terminated"):
        locate_blocks(buf, read_toc(buf))
