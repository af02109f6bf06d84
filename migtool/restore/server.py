"""Database-level operations for beside-and-swap: names, create like, swap, drop, free space.

A restore never writes into the live database. It loads a new database beside it, and only when
that succeeded are the names swapped: `ALTER DATABASE ... RENAME` twice in one transaction, after
new connections were refused and the remaining ones ended. The live database is never dropped
here: it is kept under a name that says when and why (`<db>_before_rollback_<stamp>`).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from migtool.backup.tables import quote_ident, quote_literal
from migtool.database import ComposeDatabase, Database, DirectDatabase
from migtool.errors import CheckFailed, ConfigError, MigtoolError

NAME_MAX = 63  # PostgreSQL's identifier limit (bytes; our names are ASCII-safe parts + the db name)
STAMP_FORMAT = "%Y%m%d%H%M%S"
KEPT_RE = re.compile(r"^(?P<db>.+)_before_(?P<why>rollback|restore|undo)_(?P<stamp>\d{14})$")


def stamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime(STAMP_FORMAT)


def _fit(target: str, suffix: str) -> str:
    room = NAME_MAX - len(suffix.encode())
    base = target.encode()[:room].decode(errors="ignore")
    return base + suffix


def scratch_name(target: str, when: str) -> str:
    """The database a backup is loaded into beside `target`."""
    return _fit(target, f"_restore_{when}")


def kept_name(target: str, why: str, when: str) -> str:
    """What the replaced database is renamed to: `<db>_before_rollback_<stamp>`."""
    return _fit(target, f"_before_{why}_{when}")


@dataclass(frozen=True)
class KeptCopy:
    name: str
    database: str  # the database it was (as far as the name could hold it)
    why: str
    taken: datetime


def parse_kept(name: str) -> KeptCopy | None:
    m = KEPT_RE.match(name)
    if not m:
        return None
    try:
        when = datetime.strptime(m["stamp"], STAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None
    return KeptCopy(name, m["db"], m["why"], when)


def kept_copies_of(names: list[str], target: str) -> list[KeptCopy]:
    """Kept copies that belong to `target`, newest first."""
    found = []
    for n in names:
        k = parse_kept(n)
        # A long database name was cut to fit: only then does a prefix of it count.
        truncated = len(n.encode()) == NAME_MAX and target.startswith(k.database) if k else False
        if k is not None and (k.database == target or truncated):
            found.append(k)
    return sorted(found, key=lambda k: (k.taken, k.name), reverse=True)


# ---------------------------------------------------------------- acting on a server


def admin_of(db: Database) -> Database:
    """A session in the maintenance database: a database cannot be renamed from inside itself."""
    return db.with_database("template1" if db.name == "postgres" else "postgres")


def list_databases(admin: Database) -> list[str]:
    return [r["datname"] for r in admin.query("SELECT datname FROM pg_database ORDER BY 1")]


def exists(admin: Database, name: str) -> bool:
    return bool(admin.query(f"SELECT 1 AS x FROM pg_database WHERE datname = {quote_literal(name)}"))


def check_target_name(name: str) -> None:
    """PostgreSQL silently cuts a longer name to 63 bytes: we would report a database that is not
    the one written to. An empty name is a typo, not "the configured database"."""
    if not name:
        raise ConfigError("the target database name is empty",
                          hint="leave out --target-db to restore into the configured database")
    if len(name.encode()) > NAME_MAX:
        raise ConfigError(f"database name {name[:20]}... is {len(name.encode())} bytes: PostgreSQL keeps only "
                          f"{NAME_MAX} and would use another name", hint="choose a shorter --target-db")


def refuse_template(admin: Database, name: str) -> None:
    """A restore into template1 would put the app's tables into every database created later."""
    rows = admin.query(f"SELECT datistemplate AS is_template FROM pg_database WHERE datname = {quote_literal(name)}")
    if rows and rows[0]["is_template"]:
        raise CheckFailed(f"{name} is a template database: every new database is copied from it",
                          hint="choose another --target-db (a new name is created for you)")


def create_like(admin: Database, name: str, like: str | None) -> None:
    """An empty database from template0 with the owner, encoding and locale of `like`."""
    sql = f"CREATE DATABASE {quote_ident(name)} TEMPLATE template0"
    if like is not None:
        rows = admin.query(
            "SELECT pg_get_userbyid(datdba) AS owner, pg_encoding_to_char(encoding) AS enc, datcollate AS coll, "
            f"datctype AS ctype FROM pg_database WHERE datname = {quote_literal(like)}")
        if rows:
            r = rows[0]
            sql += (f" OWNER {quote_ident(r['owner'])} ENCODING {quote_literal(r['enc'])}"
                    f" LC_COLLATE {quote_literal(r['coll'])} LC_CTYPE {quote_literal(r['ctype'])}")
    try:
        admin.execute(sql)
    except MigtoolError as exc:
        raise MigtoolError(f"cannot create the database {name}: {exc.message}",
                           hint="the role needs CREATEDB (or use a superuser for the restore)") from None


def drop(admin: Database, name: str) -> None:
    admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")


def drop_unfinished(admin: Database, name: str) -> None:
    """Drop a half-loaded copy; when the server is gone too, say which database is left and how to drop it
    (no later run knows it: `rollback --cleanup` lists only kept copies)."""
    try:
        drop(admin, name)
    except MigtoolError as exc:
        raise MigtoolError(f"{name} is left behind ({exc.message}); once the server is back, drop it: "
                           f"DROP DATABASE {quote_ident(name)} WITH (FORCE);", exit_code=exc.exit_code) from None


def database_bytes(admin: Database, name: str) -> int | None:
    rows = admin.query(f"SELECT pg_database_size({quote_literal(name)}) AS n "
                       f"WHERE EXISTS (SELECT 1 FROM pg_database WHERE datname = {quote_literal(name)})")
    return int(rows[0]["n"]) if rows else None


def swap(admin: Database, live: str, replacement: str, kept: str, attempts: int = 10) -> float:
    """Put `replacement` in place of `live`, which becomes `kept`. Returns the seconds it took (the
    live name refuses connections for that long). Any failure leaves `live` in place, connectable,
    and `replacement` beside it."""
    q_live, q_new, q_kept = quote_ident(live), quote_ident(replacement), quote_ident(kept)
    statements = [
        f"ALTER DATABASE {q_live} ALLOW_CONNECTIONS false",  # committed first: no new sessions from here
        "SELECT count(pg_terminate_backend(pid, 5000)) AS n FROM pg_stat_activity "
        f"WHERE datname = {quote_literal(live)} AND pid <> pg_backend_pid()",
        f"BEGIN; ALTER DATABASE {q_live} RENAME TO {q_kept}; ALTER DATABASE {q_new} RENAME TO {q_live}; COMMIT",
        f"ALTER DATABASE {q_kept} ALLOW_CONNECTIONS true",
    ]
    t0 = time.monotonic()
    last = ""
    for attempt in range(1, attempts + 1):
        try:
            _run_each(admin, statements)
            return time.monotonic() - t0
        except MigtoolError as exc:
            last = exc.message
        # Not swapped (the renames are one transaction): reopen the live database, then decide.
        if not exists(admin, kept):
            admin.execute(f"ALTER DATABASE {q_live} ALLOW_CONNECTIONS true")
        else:  # swapped; only reopening the kept copy failed
            return time.monotonic() - t0
        if "being accessed by other users" not in last:
            raise MigtoolError(f"cannot swap {replacement} in for {live}: {last}") from None
        time.sleep(min(0.2 * attempt, 1.0))
    raise CheckFailed(f"cannot swap {replacement} in for {live}: sessions keep coming back ({last})",
                      hint="stop what connects to it (the app services) and run again")


def _run_each(db: Database, statements: list[str]) -> None:
    """In order, each committed on its own; through compose in one psql session (one `docker compose
    exec` instead of four: this is the app's downtime)."""
    if isinstance(db, ComposeDatabase):
        db.execute("".join(s + ";\n" for s in statements))
        return
    for s in statements:
        db.execute(s)


def server_free_bytes(db: Database) -> int | None:
    """Free bytes on the volume that holds the server's data directory, when we can see it."""
    if isinstance(db, ComposeDatabase):
        try:
            res = db.project.exec(db.service, ["sh", "-c", 'df -P -k "${PGDATA:-/var/lib/postgresql/data}"'],
                                  timeout=60)
        except MigtoolError:
            return None
        return parse_df(res.stdout.decode(errors="replace")) if res.returncode == 0 else None
    if isinstance(db, DirectDatabase):
        import os
        import shutil

        try:
            rows = db.query("SELECT current_setting('data_directory') AS d")
        except MigtoolError:  # needs superuser or pg_read_all_settings
            return None
        path = rows[0]["d"] if rows else None
        if path and os.path.isdir(path):  # the server runs on this machine
            return shutil.disk_usage(path).free
    return None


def parse_df(text: str) -> int | None:
    """`df -P -k` output -> free bytes of its one file system."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    if len(lines) < 2:
        return None
    parts = lines[-1].split()
    try:
        return int(parts[3]) * 1024
    except (IndexError, ValueError):
        return None
