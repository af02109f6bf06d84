"""A psql session that holds one REPEATABLE READ snapshot for pg_dump to share.

pg_dump --snapshot=ID dumps exactly what this session sees, so the table list and row counts we
record in the manifest describe the dump even while the application keeps writing. It is a psql
process (through `Database.tool`), so it works the same inside the compose service and directly.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from migtool.database import UNREACHABLE, Database, query_failure
from migtool.errors import MigtoolError

_MARK = "__migtool_snapshot_query_done__"


class SnapshotSession:
    def __init__(self, db: Database):
        self.db = db
        self.snapshot_id: str | None = None
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> SnapshotSession:
        self._proc = self.db.tool(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-w", "-f", "-"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # The session waits idle in its transaction while pg_dump runs: no timeout may end it early.
        lines = self._run("SET idle_in_transaction_session_timeout = 0;\nSET statement_timeout = 0;\n"
                          "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\nSELECT pg_export_snapshot();\n")
        if len(lines) != 1 or not lines[0].strip():
            raise MigtoolError(f"could not export a snapshot from {self.db.describe()}: {lines!r}")
        self.snapshot_id = lines[0].strip()
        return self

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Rows as dicts, in the session's snapshot."""
        wrapped = f"SELECT coalesce(jsonb_agg(t), '[]'::jsonb)::text FROM ({sql.strip().rstrip(';')}) AS t;\n"
        lines = self._run(wrapped)
        return json.loads("".join(lines) or "[]")

    def _run(self, script: str) -> list[str]:
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write((script + f"\\echo {_MARK}\n").encode())
            proc.stdin.flush()
        except BrokenPipeError:
            raise self._failure() from None
        lines = []
        while True:
            raw = proc.stdout.readline()
            if not raw:
                raise self._failure()
            line = raw.decode()
            if line.rstrip("\n") == _MARK:
                return lines
            lines.append(line.rstrip("\n"))

    def _failure(self) -> MigtoolError:
        proc = self._proc
        try:
            proc.wait(timeout=10)
            err = proc.stderr.read().decode(errors="replace").strip()
        except (subprocess.TimeoutExpired, OSError, ValueError):
            proc.kill()
            err = ""
        return query_failure(self.db, err, unreachable=(*UNREACHABLE, "password authentication"),
                             silent=f"psql exited with {proc.returncode}")

    def __exit__(self, *exc_info) -> None:
        proc = self._proc
        if proc is None:
            return
        try:
            if exc_info[0] is not None and proc.poll() is None:
                # Interrupted or failed: the session may be stuck behind a lock (the stats query waits
                # like any reader), and a read-only snapshot has nothing to commit: end it now rather
                # than wait out the 30 s below (docker stop sends SIGKILL after 10).
                proc.kill()
            if proc.poll() is None:
                proc.stdin.write(b"COMMIT;\n\\q\n")
                proc.stdin.close()
                proc.wait(timeout=30)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            pass
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for stream in (proc.stdout, proc.stderr):
                try:
                    stream.close()
                except OSError:
                    pass
