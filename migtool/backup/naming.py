"""Backup file names: `<db>-<UTC yyyymmddThhmmssZ>-<reason-slug>.<ext>` and the files beside them.

The name alone tells what a file is (database, time, why, format, compression), sorts by time
within a database, and is safe in a shell and in an S3 key. Side files share the full name:
`<name>.json` (manifest), `<name>.sha256` (for `sha256sum -c`), `<name>.verified.json` (last
verification). An encrypted backup adds `.age` (`x.dump.zst.age`: the age file of the compressed
dump). A dump being written is `.<name>.partial`: hidden, and not matching the pattern,
so nothing ever mistakes it for a backup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

FORMATS = ("custom", "sql")
COMPRESSIONS = ("zstd", "gzip")
EXTENSIONS = {
    ("sql", "gzip"): "sql.gz",
    ("sql", "zstd"): "sql.zst",
    ("custom", "gzip"): "dump.gz",
    ("custom", "zstd"): "dump.zst",
}
_BY_EXTENSION = {ext: key for key, ext in EXTENSIONS.items()}
ENCRYPTED_SUFFIX = ".age"

MANIFEST_SUFFIX = ".json"
CHECKSUM_SUFFIX = ".sha256"
VERIFIED_SUFFIX = ".verified.json"
PIN_SUFFIX = ".pinned"
PARTIAL_SUFFIX = ".partial"
REASON_MAX = 40
MAX_ATTEMPTS = 99  # name collisions within one second

_TS_FORMAT = "%Y%m%dT%H%M%SZ"
_NAME_RE = re.compile(
    r"^(?P<db>[A-Za-z0-9_][A-Za-z0-9_.-]*)"
    r"-(?P<ts>\d{8}T\d{6}Z)"
    r"-(?P<reason>[a-z0-9]+(?:-[a-z0-9]+)*)"
    r"\.(?P<ext>" + "|".join(re.escape(e) for e in _BY_EXTENSION) + r")"
    r"(?P<age>" + re.escape(ENCRYPTED_SUFFIX) + r")?$"
)


@dataclass(frozen=True)
class BackupName:
    database: str  # as written in the file name (made file-name safe)
    created: datetime  # UTC, whole seconds
    reason: str  # slug, with a -N suffix when the name was taken
    format: str  # custom or sql
    compression: str  # zstd or gzip
    encrypted: bool = False  # an age file of the compressed dump (`.age` suffix)

    @property
    def extension(self) -> str:
        return EXTENSIONS[(self.format, self.compression)] + (ENCRYPTED_SUFFIX if self.encrypted else "")

    @property
    def filename(self) -> str:
        return f"{self.database}-{timestamp(self.created)}-{self.reason}.{self.extension}"


def slug(text: str | None, default: str = "manual") -> str:
    """'Before 2024-05 deploy!' -> 'before-2024-05-deploy' (lowercase ASCII, at most 40 chars)."""
    s = re.sub(r"[^a-z0-9]+", "-", (text or "").lower()).strip("-")
    s = s[:REASON_MAX].strip("-")
    return s or default


def safe_database(name: str) -> str:
    """A database name as it may appear in a file name: no slash, space or leading dot."""
    s = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    s = s.lstrip(".-")
    return s or "db"


def timestamp(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError("backup times must be timezone-aware")
    return when.astimezone(UTC).strftime(_TS_FORMAT)


def build_name(database: str, created: datetime, reason: str | None, fmt: str, compression: str,
               attempt: int = 1, encrypted: bool = False) -> BackupName:
    """The name for a new backup; attempt 2, 3, ... add a suffix when the first name is taken."""
    if (fmt, compression) not in EXTENSIONS:
        raise ValueError(f"unknown format/compression: {fmt}/{compression}")
    if not 1 <= attempt <= MAX_ATTEMPTS:
        raise ValueError(f"attempt must be 1..{MAX_ATTEMPTS}")
    reason_slug = slug(reason)
    if attempt > 1:
        reason_slug = f"{reason_slug}-{attempt}"
    created = created.astimezone(UTC).replace(microsecond=0)
    return BackupName(safe_database(database), created, reason_slug, fmt, compression, encrypted)


def parse_name(filename: str) -> BackupName | None:
    """The parts of one of our backup file names, or None for any other file."""
    m = _NAME_RE.match(filename)
    if not m:
        return None
    try:
        created = datetime.strptime(m["ts"], _TS_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None
    fmt, compression = _BY_EXTENSION[m["ext"]]
    return BackupName(m["db"], created, m["reason"], fmt, compression, bool(m["age"]))


def is_encrypted_name(filename: str) -> bool:
    return filename.endswith(ENCRYPTED_SUFFIX)


def manifest_name(filename: str) -> str:
    return filename + MANIFEST_SUFFIX


def checksum_name(filename: str) -> str:
    return filename + CHECKSUM_SUFFIX


def verified_name(filename: str) -> str:
    return filename + VERIFIED_SUFFIX


def pin_name(filename: str) -> str:
    return filename + PIN_SUFFIX


def side_names(filename: str) -> tuple[str, str, str]:
    return manifest_name(filename), checksum_name(filename), verified_name(filename)


def partial_name(filename: str) -> str:
    return f".{filename}{PARTIAL_SUFFIX}"


def parse_partial(filename: str) -> str | None:
    """'.x.dump.zst.partial' -> 'x.dump.zst' (also for a side file's partial), else None."""
    if not (filename.startswith(".") and filename.endswith(PARTIAL_SUFFIX)):
        return None
    inner = filename[1:-len(PARTIAL_SUFFIX)]
    for suffix in (VERIFIED_SUFFIX, MANIFEST_SUFFIX, CHECKSUM_SUFFIX, PIN_SUFFIX, ""):
        if inner.endswith(suffix):
            base = inner[:len(inner) - len(suffix)] if suffix else inner
            if parse_name(base) is not None:
                return base
    return None
