"""Names as Prisma writes them: quoted identifiers, constraint and index names, migration folder
names, and the schema.prisma spelling of a column's type and default. Pure functions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

# PostgreSQL truncates identifiers to 63 bytes; Prisma names constraints the same way.
MAX_IDENTIFIER = 63
TIMESTAMP_FORMAT = "%Y%m%d%H%M%S"
_FOLDER = re.compile(r"^(\d{14})_")


def qi(name: str) -> str:
    """A quoted identifier, as Prisma writes every table and column name: "User", "phone"."""
    return '"' + name.replace('"', '""') + '"'


def ql(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def truncate(name: str) -> str:
    data = name.encode()
    if len(data) <= MAX_IDENTIFIER:
        return name
    return data[:MAX_IDENTIFIER].decode(errors="ignore")


def index_name(table: str, columns: list[str], unique: bool = False) -> str:
    """Prisma's default: "User_email_key" for @@unique/@unique, "Order_userId_idx" for @@index."""
    return truncate("_".join([table, *columns, "key" if unique else "idx"]))


def foreign_key_name(table: str, columns: list[str]) -> str:
    return truncate("_".join([table, *columns, "fkey"]))


def not_null_check_name(table: str, column: str) -> str:
    return truncate(f"{table}_{column}_not_null")


def sync_function_name(table: str, old: str, new: str) -> str:
    return truncate(f"{table}_{old}_{new}_sync")


def slug(*parts: str) -> str:
    """A migration folder name part: "User", "phone" -> "user_phone" (Prisma's names are snake_case)."""
    words = []
    for part in parts:
        spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", part)
        words.append(re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_"))
    return "_".join(w for w in words if w)


def folder_timestamp(name: str) -> datetime | None:
    m = _FOLDER.match(name)
    if not m:
        return None
    try:
        return datetime.strptime(m.group(1), TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def timestamps(count: int, existing: list[str], now: datetime) -> list[str]:
    """`count` strictly increasing folder timestamps, the first no earlier than `now` and all after
    the newest existing migration (so the new folders sort, and apply, last)."""
    newest = max((t for t in (folder_timestamp(n) for n in existing) if t), default=None)
    start = now.astimezone(UTC).replace(microsecond=0)
    if newest is not None and start <= newest:
        start = newest + timedelta(seconds=1)
    return [(start + timedelta(seconds=i)).strftime(TIMESTAMP_FORMAT) for i in range(count)]


# SQL type (as format_type or a migration spells it) -> Prisma scalar type and native attribute.
_PRISMA_TYPES = {
    "text": ("String", None),
    "integer": ("Int", None), "int": ("Int", None), "int4": ("Int", None), "serial": ("Int", None),
    "smallint": ("Int", "@db.SmallInt"), "int2": ("Int", "@db.SmallInt"),
    "bigint": ("BigInt", None), "int8": ("BigInt", None), "bigserial": ("BigInt", None),
    "boolean": ("Boolean", None), "bool": ("Boolean", None),
    "double precision": ("Float", None), "float8": ("Float", None),
    "real": ("Float", "@db.Real"), "float4": ("Float", "@db.Real"),
    "jsonb": ("Json", None), "json": ("Json", "@db.Json"),
    "uuid": ("String", "@db.Uuid"),
    "date": ("DateTime", "@db.Date"),
    "bytea": ("Bytes", None),
}


def prisma_type(sql_type: str) -> str:
    """`phone String` for TEXT, `total Decimal @db.Decimal(10, 2)` for numeric(10,2); a best effort
    for the common types, with the SQL type in a comment otherwise."""
    t = " ".join(sql_type.strip().lower().split())
    array = t.endswith("[]")
    t = t.removesuffix("[]")
    # format_type spells "timestamp(3) without time zone", "character varying(20)", "numeric(10,2)"
    m = re.fullmatch(r'(.+?)\s*(?:\(([^)]*)\))?(\s+with(?:out)? time zone)?', t)
    base, mods, zone = (m.group(1).strip(), (m.group(2) or "").replace(" ", ""), m.group(3) or "") if m else (t, "", "")
    if base in _PRISMA_TYPES:
        name, native = _PRISMA_TYPES[base]
    elif base in ("numeric", "decimal"):
        name, native = "Decimal", f"@db.Decimal({mods.replace(',', ', ')})" if mods else None
    elif base in ("varchar", "character varying"):
        name, native = "String", f"@db.VarChar({mods})" if mods else "@db.VarChar"
    elif base in ("char", "character", "bpchar"):
        name, native = "String", f"@db.Char({mods})" if mods else "@db.Char"
    elif base.startswith("timestamp"):
        name = "DateTime"
        with_tz = zone.strip() == "with time zone" or base.startswith("timestamptz")
        native = (f"@db.Timestamptz({mods})" if mods else "@db.Timestamptz") if with_tz else (
            None if mods in ("", "3") else f"@db.Timestamp({mods})")
    elif base.startswith('"') or re.fullmatch(r"[a-z_][a-z0-9_]*", base):
        # an enum (or another user type): Prisma names the enum itself
        name, native = sql_type.strip().removesuffix("[]").strip().strip('"'), None
    else:
        return f"Unsupported(\"{sql_type}\")"
    return name + ("[]" if array else "") + (f" {native}" if native else "")


def prisma_default(sql_default: str) -> str:
    """The @default(...) of schema.prisma for a SQL default expression."""
    text = sql_default.strip()
    m = re.fullmatch(r"'((?:[^']|'')*)'(?:::[\w\" ]+)?", text)
    if m:
        value = m.group(1).replace("''", "'")
        return "@default(" + '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' + ")"
    if re.fullmatch(r"-?\d+(\.\d+)?", text) or text.lower() in ("true", "false"):
        return f"@default({text.lower() if text.lower() in ('true', 'false') else text})"
    if text.lower() in ("now()", "current_timestamp"):
        return "@default(now())"
    return "@default(dbgenerated(" + '"' + text.replace('"', '\\"') + '"' + "))"
