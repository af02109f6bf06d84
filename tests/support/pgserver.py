"""A real, throw-away PostgreSQL cluster for tests.

The server refuses to run as root, so as root we start it as the `postgres` user (runuser);
otherwise as ourselves. It listens on 127.0.0.1 on a free port with password (scram) auth, so
tests exercise the same DATABASE_URL path users do.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg


def find_bindir() -> Path:
    override = os.environ.get("MIGTOOL_TEST_PG_BINDIR")
    if override:
        return Path(override)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    for c in candidates:
        if Path(c, "initdb").exists():
            # Prefer 15: the version we measure against and what CI has.
            if "/15/" in c:
                return Path(c)
    if candidates:
        return Path(candidates[-1])
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL server binaries not found (set MIGTOOL_TEST_PG_BINDIR)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PgServer:
    bindir: Path
    root: Path
    port: int
    password: str
    user: str = "postgres"
    host: str = "127.0.0.1"

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str = "postgres", password: str | None = None) -> str:
        pw = self.password if password is None else password
        return f"postgresql://{self.user}:{pw}@{self.host}:{self.port}/{dbname}"

    def _as_owner(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)

    def init(self) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        self._as_owner([str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", self.user,
                        "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}",
                        "-E", "UTF8", "--locale=C.UTF-8" if _has_c_utf8() else "--locale=C"])
        pwfile.unlink()
        with open(self.datadir / "postgresql.conf", "a") as f:
            f.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{self.root}'\n"
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                    "max_connections = 60\nshared_buffers = 128MB\n")

    def start(self) -> None:
        self._as_owner([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l",
                        str(self.root / "server.log"), "-w", "-t", "60", "start"])

    def stop(self) -> None:
        self._as_owner([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"])

    def is_running(self) -> bool:
        r = subprocess.run([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "status"],
                           capture_output=True)
        return r.returncode == 0

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url(), autocommit=True)

    def create_database(self, name: str | None = None) -> str:
        name = name or f"t_{uuid.uuid4().hex[:10]}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def cleanup(self) -> None:
        try:
            if self.is_running():
                self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _has_c_utf8() -> bool:
    out = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.lower()
    return "c.utf8" in out or "c.utf-8" in out


def start_server() -> PgServer:
    root = Path(tempfile.mkdtemp(prefix="migtool-pg-"))
    os.chmod(root, 0o755)
    server = PgServer(find_bindir(), root, free_port(), secrets.token_urlsafe(16))
    try:
        server.init()
        server.start()
    except subprocess.CalledProcessError as exc:
        log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL: {exc.stderr}\n{log}") from exc
    return server
