"""Prisma's migration checksum: lowercase hex SHA-256 of the script, tolerant of line endings.

Prisma reads migration.sql as UTF-8 text (invalid bytes become U+FFFD), hashes that text, and on
comparison accepts three forms of the file (as is, CRLF->LF, LF->CRLF) because git may rewrite line
endings on checkout. Migrations recorded by very old engines stored the hex digits without zero
padding, so a stored checksum that is not 64 characters long is compared in that old form.
"""

from __future__ import annotations

import hashlib

CHECKSUM_LENGTH = 64


def _as_prisma_text(script: bytes) -> bytes:
    # Round-trip through text the way Node's readFile(..., "utf-8") does, so a stray invalid byte
    # hashes the same as Prisma sees it.
    return script.decode("utf-8", errors="replace").encode("utf-8")


def prisma_checksum(script: bytes) -> str:
    """The checksum Prisma writes into `_prisma_migrations.checksum` for this migration.sql."""
    return hashlib.sha256(_as_prisma_text(script)).hexdigest()


def _unpadded_hex(digest: bytes) -> str:
    return "".join(f"{b:x}" for b in digest)


def checksum_matches(script: bytes, stored: str) -> bool:
    """Whether Prisma would consider the file unchanged since it was applied with `stored`."""
    text = _as_prisma_text(script)
    forms = (text, text.replace(b"\r\n", b"\n"), text.replace(b"\n", b"\r\n"))
    old_format = bool(stored) and len(stored) != CHECKSUM_LENGTH
    for form in forms:
        digest = hashlib.sha256(form).digest()
        if (_unpadded_hex(digest) if old_format else digest.hex()) == stored:
            return True
    return False
