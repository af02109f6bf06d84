"""What a crashed (SIGKILLed) backup or restore test leaves behind, and how to tell it from live work.

- partial files in the backup folder: `.NAME.partial` (a dump being written) and
  `.NAME.RANDOM.partial` (a side file, or the decompressed copy a parallel restore test makes).
  A live run holds an flock on its partial, so a file counts as left over only when it is older
  than STALE_SECONDS and nobody holds it.
- scratch databases of `backups verify --restore-test`: named `migtool_verify_<UTC time>_<hex>`
  and commented "migtool verify scratch database (pid N on HOST)". Both must match before we call
  one ours; it is left over when older than STALE_SECONDS, nobody is connected to it, and its
  pid is not alive on this host.

`doctor` and `backups list` report them; `backups prune` removes them.
"""

from __future__ import annotations

import fcntl
import os
import re
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from migtool.backup import catalog
from migtool.backup.tables import quote_ident
from migtool.database import Database
from migtool.errors import MigtoolError

STALE_SECONDS = 5 * 60
SCRATCH_RE = re.compile(r"^migtool_verify_(\d{14})_[0-9a-f]{6}$")
_COMMENT_RE = re.compile(r"^migtool verify scratch database \(pid (\d+) on (.+)\)$")

SCRATCH_SQL = r"""
SELECT d.datname AS name, shobj_description(d.oid, 'pg_database') AS comment,
       (SELECT count(*) FROM pg_stat_activity a WHERE a.datid = d.oid) AS connections
FROM pg_database d
WHERE d.datname LIKE 'migtool\_verify\_%'
ORDER BY 1
"""


def in_use(path: Path) -> bool:
    """Does a live process hold the flock our writers take on their partial files?"""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing releases the lock we may have taken
    return False


def stale_partials(backup_dir: Path, now: datetime | None = None, min_age: float = STALE_SECONDS) -> list[Path]:
    now_ts = (now or datetime.now(UTC)).timestamp()
    out = []
    for p in catalog.stale_partials(backup_dir):
        try:
            age = now_ts - p.stat().st_mtime
        except FileNotFoundError:
            continue
        if age > min_age and not in_use(p):
            out.append(p)
    return out


@dataclass(frozen=True)
class ScratchDatabase:
    name: str
    created: datetime
    pid: int
    host: str
    connections: int


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def parse_scratch(name: str, comment: str | None, connections: int) -> ScratchDatabase | None:
    """One of our scratch databases (name AND comment match), else None."""
    m = SCRATCH_RE.match(name)
    c = _COMMENT_RE.match(comment or "")
    if not m or not c:
        return None
    created = datetime.strptime(m.group(1), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    return ScratchDatabase(name, created, int(c.group(1)), c.group(2), int(connections or 0))


def is_left_over(s: ScratchDatabase, now: datetime, min_age: float = STALE_SECONDS,
                 hostname: str | None = None) -> bool:
    if (now - s.created).total_seconds() <= min_age or s.connections:
        return False
    here = hostname or socket.gethostname()
    return not (s.host == here and _pid_alive(s.pid))


def stale_scratch_databases(db: Database, now: datetime | None = None,
                            min_age: float = STALE_SECONDS) -> list[ScratchDatabase]:
    """Raises MigtoolError when the server cannot be asked."""
    now = now or datetime.now(UTC)
    found = [parse_scratch(r["name"], r["comment"], r["connections"]) for r in db.query(SCRATCH_SQL)]
    return [s for s in found if s is not None and is_left_over(s, now, min_age)]


def drop_scratch(db: Database, name: str) -> None:
    if not SCRATCH_RE.match(name):  # never anything but our own pattern
        raise ValueError(f"not a scratch database name: {name}")
    try:
        db.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
    except MigtoolError:  # before PostgreSQL 13 there is no FORCE (and nobody is connected: checked)
        db.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)}")
