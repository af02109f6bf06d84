import hashlib

from migtool.migrations.checksum import checksum_matches, prisma_checksum


def test_checksum_is_lowercase_hex_sha256_of_the_bytes():
    script = b"CREATE TABLE a (id int);\n"
    assert prisma_checksum(script) == hashlib.sha256(script).hexdigest()
    assert prisma_checksum(b"hello") == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"


def test_same_file_matches():
    script = b"ALTER TABLE a ADD COLUMN b int;\n"
    assert checksum_matches(script, prisma_checksum(script))


def test_lf_file_matches_checksum_taken_of_crlf_file_and_back():
    lf = b"CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n"
    crlf = lf.replace(b"\n", b"\r\n")
    assert checksum_matches(lf, prisma_checksum(crlf))
    assert checksum_matches(crlf, prisma_checksum(lf))


def test_mixed_line_endings_match_their_normalised_forms_only():
    mixed = b"a\r\nb\nc\r\n"
    assert checksum_matches(mixed, prisma_checksum(b"a\nb\nc\n"))
    # LF->CRLF on a mixed file doubles the CR of existing CRLFs, as Prisma's does.
    assert checksum_matches(mixed, prisma_checksum(b"a\r\r\nb\r\nc\r\r\n"))
    assert not checksum_matches(mixed, prisma_checksum(b"a\r\nb\r\nc\r\n"))


def test_any_real_edit_does_not_match():
    assert not checksum_matches(b"abc", prisma_checksum(b"abcd"))
    assert not checksum_matches(b"abc\n", prisma_checksum(b"abc"))
    assert not checksum_matches(b"x", "")


def test_old_unpadded_checksums_are_accepted():
    # Find a script whose digest has a byte below 0x10, so the old format is shorter than 64.
    script = next(s for s in (f"SELECT {i};".encode() for i in range(1000))
                  if any(b < 16 for b in hashlib.sha256(s).digest()))
    digest = hashlib.sha256(script).digest()
    old = "".join(f"{b:x}" for b in digest)
    assert len(old) < 64
    assert checksum_matches(script, old)
    assert not checksum_matches(script + b" ", old)


def test_invalid_utf8_is_hashed_as_node_reads_it():
    raw = b"SELECT '\xff';\n"
    as_text = raw.decode("utf-8", errors="replace").encode("utf-8")
    assert prisma_checksum(raw) == hashlib.sha256(as_text).hexdigest()
    assert checksum_matches(raw, prisma_checksum(as_text))
