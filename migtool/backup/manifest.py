"""What a backup contains, as data: the manifest beside each dump and the `sha256sum` line.

Pure: builds, serialises and validates; reading and writing files is the caller's business. A
manifest is written once, when the dump is complete, and never changed afterwards (a later
verification goes to its own side file), so the copy in S3 always equals the local one.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

MANIFEST_VERSION = 1
ROW_COUNTS = ("exact", "estimated", "none")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class ManifestError(ValueError):
    """A manifest or checksum file that cannot be trusted; the message says what is wrong."""


@dataclass(frozen=True)
class TableInfo:
    schema: str
    name: str
    rows: int | None = None  # exact count(*) in the dump's snapshot, when recorded
    estimated_rows: int | None = None  # pg_class.reltuples (None when never analysed)

    @property
    def qualified(self) -> str:
        """schema.name, for people (ambiguous when a name holds a dot: use `key` to match)."""
        return f"{self.schema}.{self.name}"

    @property
    def key(self) -> str:
        """The quoted '"schema"."name"' that exact row counts are keyed by."""
        return '"' + self.schema.replace('"', '""') + '"."' + self.name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Manifest:
    name: str
    database: str
    format: str
    compression: str
    size: int
    sha256: str
    started_at: datetime
    finished_at: datetime
    reason: str = ""
    server_version: str | None = None
    pg_dump_version: str | None = None
    uncompressed_size: int | None = None
    compression_level: int | None = None
    row_counts: str = "none"  # exact, estimated or none: what `tables[].rows` can be trusted for
    tables: tuple[TableInfo, ...] = ()
    migrations: dict[str, Any] | None = None  # {"last_applied", "pending", "failed"} at dump time
    migrations_note: str | None = None  # why `migrations` is null, when it is
    target: str | None = None
    migtool_version: str | None = None
    created_by: str = "migtool"
    manifest_version: int = MANIFEST_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_seconds(self) -> float:
        return round((self.finished_at - self.started_at).total_seconds(), 3)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "manifest_version": self.manifest_version,
            "name": self.name,
            "database": self.database,
            "server_version": self.server_version,
            "pg_dump_version": self.pg_dump_version,
            "format": self.format,
            "compression": self.compression,
            "compression_level": self.compression_level,
            "size": self.size,
            "uncompressed_size": self.uncompressed_size,
            "sha256": self.sha256,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "duration_seconds": self.duration_seconds,
            "reason": self.reason,
            "migrations": self.migrations,
            "migrations_note": self.migrations_note,
            "row_counts": self.row_counts,
            "tables": [asdict(t) for t in self.tables],
            "target": self.target,
            "migtool_version": self.migtool_version,
            "created_by": self.created_by,
        }
        d.update(self.extra)
        return d

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        if not isinstance(data, dict):
            raise ManifestError("the manifest is not a JSON object")
        known = {f for f in cls.__dataclass_fields__ if f not in ("extra",)} | {"duration_seconds"}
        try:
            tables = tuple(_table(t) for t in data.get("tables") or [])
            manifest = cls(
                name=_required_str(data, "name"),
                database=_required_str(data, "database"),
                format=_required_str(data, "format"),
                compression=_required_str(data, "compression"),
                size=_required_int(data, "size"),
                sha256=_required_str(data, "sha256").lower(),
                started_at=parse_iso(_required_str(data, "started_at")),
                finished_at=parse_iso(_required_str(data, "finished_at")),
                reason=str(data.get("reason") or ""),
                server_version=_opt_str(data, "server_version"),
                pg_dump_version=_opt_str(data, "pg_dump_version"),
                uncompressed_size=_opt_int(data, "uncompressed_size"),
                compression_level=_opt_int(data, "compression_level"),
                row_counts=str(data.get("row_counts") or "none"),
                tables=tables,
                migrations=data.get("migrations") if isinstance(data.get("migrations"), dict) else None,
                migrations_note=_opt_str(data, "migrations_note"),
                target=_opt_str(data, "target"),
                migtool_version=_opt_str(data, "migtool_version"),
                created_by=str(data.get("created_by") or "migtool"),
                manifest_version=_required_int(data, "manifest_version"),
                extra={k: v for k, v in data.items() if k not in known},
            )
        except (TypeError, ValueError) as exc:
            raise ManifestError(f"the manifest is invalid: {exc}") from None
        if not _HEX64.match(manifest.sha256):
            raise ManifestError("the manifest's sha256 is not 64 hex digits")
        if manifest.row_counts not in ROW_COUNTS:
            raise ManifestError(f"the manifest's row_counts must be one of {', '.join(ROW_COUNTS)}")
        if manifest.manifest_version > MANIFEST_VERSION:
            raise ManifestError(f"manifest version {manifest.manifest_version} is newer than this migtool "
                                f"understands ({MANIFEST_VERSION}): upgrade migtool")
        return manifest


def _required_str(d: dict, key: str) -> str:
    v = d.get(key)
    if not isinstance(v, str) or not v:
        raise ValueError(f"'{key}' is missing or not a string")
    return v


def _required_int(d: dict, key: str) -> int:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"'{key}' is missing or not a whole number")
    return v


def _opt_str(d: dict, key: str) -> str | None:
    v = d.get(key)
    return v if isinstance(v, str) else None


def _opt_int(d: dict, key: str) -> int | None:
    v = d.get(key)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _table(t: Any) -> TableInfo:
    if not isinstance(t, dict):
        raise ValueError("'tables' entries must be objects")
    return TableInfo(_required_str(t, "schema"), _required_str(t, "name"), _opt_int(t, "rows"),
                     _opt_int(t, "estimated_rows"))


def iso(when: datetime) -> str:
    """UTC ISO 8601 with microseconds and a Z: sorts as text, parses everywhere."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError(f"time without a timezone: {text!r}")
    return when.astimezone(UTC)


def tables_from_rows(rows: list[dict[str, Any]], exact: dict[str, int] | None) -> tuple[TableInfo, ...]:
    """Rows of {schema, name, estimated_rows} (reltuples; -1 = never analysed) plus exact counts
    keyed by TableInfo.key ('"schema"."name"') -> sorted TableInfo."""
    out = []
    for r in rows:
        est = r.get("estimated_rows")
        est = int(est) if est is not None and float(est) >= 0 else None
        info = TableInfo(r["schema"], r["name"], None, est)
        out.append(TableInfo(r["schema"], r["name"], (exact or {}).get(info.key), est))
    return tuple(sorted(out, key=lambda t: (t.schema, t.name)))


# ---------------------------------------------------------------- the sha256sum file


def checksum_line(sha256: str, filename: str) -> str:
    """One line in `sha256sum` text-mode format, so `sha256sum -c NAME.sha256` works in the folder."""
    if not _HEX64.match(sha256) or "\n" in filename or "/" in filename:
        raise ValueError("bad checksum or file name")
    return f"{sha256}  {filename}\n"


def parse_checksum_file(text: str, filename: str) -> str:
    """The hex digest recorded for `filename` in a sha256sum file."""
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        m = re.match(r"^([0-9a-fA-F]{64}) [ *](.+)$", line)
        if not m:
            raise ManifestError("the .sha256 file is not in sha256sum format")
        if m.group(2) == filename:
            return m.group(1).lower()
    raise ManifestError(f"the .sha256 file has no line for {filename}")
