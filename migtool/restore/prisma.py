"""Repair Prisma's history: `prisma migrate resolve --rolled-back|--applied NAME`.

Preferred: Prisma itself, through the compose migrate service (a uniquely named one-off container
that is removed whatever happens) or, for the direct target, locally with DATABASE_URL in the
environment; the command is `resolve_command` (default `npx prisma migrate resolve`). With
`resolve_command` set to "" migtool writes the same rows itself ("native"), as Prisma does:
rolled-back marks the failed attempt's rolled_back_at; applied marks failed attempts rolled back
and records a finished attempt with the file's checksum.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from migtool.backup.tables import quote_literal
from migtool.config import Config
from migtool.database import Database, compose_project
from migtool.errors import CheckFailed, ConfigError, EnvironmentProblem, MigtoolError
from migtool.migration_status import State, read_status
from migtool.migrations.checksum import prisma_checksum
from migtool.migrations.table import qualified_table

MODES = ("rolled-back", "applied")
TIMEOUT = 300


@dataclass(frozen=True)
class Resolved:
    name: str
    mode: str
    how: str  # "prisma in the migrate service", "prisma locally", "native"


def failed_migrations(db: Database, migrations_dir: Path) -> list[str]:
    return [m.name for m in read_status(db, migrations_dir).with_state(State.FAILED)]


def check_resolvable(db: Database, migrations_dir: Path, name: str, mode: str) -> None:
    """Refuse early, with Prisma's own rules, before anything runs."""
    report = read_status(db, migrations_dir)
    by_name = {m.name: m for m in report.migrations}
    m = by_name.get(name)
    if m is None:
        raise CheckFailed(f"no migration named {name} in {migrations_dir} or in _prisma_migrations",
                          hint="migtool status")
    if mode == "rolled-back" and m.state != State.FAILED:
        raise CheckFailed(f"{name} is {m.state}, not failed: only a failed migration can be marked rolled back",
                          hint="to undo an applied migration, restore the backup taken before it: "
                               f"migtool rollback --before {name}")
    if mode == "applied" and m.state == State.APPLIED:
        raise CheckFailed(f"{name} is already applied", hint="migtool status")
    if mode == "applied" and m.path is None:
        raise CheckFailed(f"{name} has no folder in {migrations_dir}: its checksum cannot be recorded",
                          hint="check --migrations-dir")


def resolve(config: Config, db: Database, name: str, mode: str, run_id: str | None = None) -> Resolved:
    if mode not in MODES:
        raise ConfigError(f"unknown resolve mode {mode!r}")
    command = config.resolve_command
    if not command:
        _native(db, config.migrations_dir, name, mode)
        return Resolved(name, mode, "native")
    argv = [*command, f"--{mode}", name]
    if config.target == "compose":
        _in_migrate_service(config, argv, run_id)
        return Resolved(name, mode, f"prisma in the {config.migrate_service} service")
    _locally(config, argv)
    return Resolved(name, mode, "prisma locally")


def _in_migrate_service(config: Config, argv: list[str], run_id: str | None) -> None:
    project = compose_project(config)
    container = f"migtool-resolve-{run_id or secrets.token_hex(4)}"
    proc = project.start_one_off(config.migrate_service, container, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, args=argv)
    try:
        out, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise EnvironmentProblem(f"`{' '.join(argv)}` did not finish in {TIMEOUT} s") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if project.container_exists(container):
            project.remove_container(container)
    if proc.returncode != 0:
        raise _failed(argv, proc.returncode, out)


def _locally(config: Config, argv: list[str]) -> None:
    if config.database_url is None:
        raise ConfigError("the direct target needs DATABASE_URL", hint="export DATABASE_URL=postgresql://...")
    env = dict(os.environ)
    env["DATABASE_URL"] = config.database_url.reveal()  # environment, never argv
    try:
        res = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT,
                             cwd=config.config_path.parent if config.config_path else None)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot run {argv[0]}: {exc.strerror}",
                                 hint='set resolve_command in migtool.yaml, or resolve_command: "" to let '
                                      "migtool write the rows itself") from None
    if res.returncode != 0:
        raise _failed(argv, res.returncode, res.stdout + res.stderr)


def _failed(argv: list[str], code: int, out: bytes) -> MigtoolError:
    lines = [ln for ln in (out or b"").decode(errors="replace").splitlines() if ln.strip()]
    last = next((ln for ln in reversed(lines) if "error" in ln.lower()), lines[-1] if lines else "no output")
    return MigtoolError(f"`{' '.join(argv)}` failed (exit {code}): {last.strip()}")


def _native(db: Database, migrations_dir: Path, name: str, mode: str) -> None:
    check_resolvable(db, migrations_dir, name, mode)
    if mode == "applied" and not read_status(db, migrations_dir).has_table:
        # Prisma creates its table on first use; we only write rows into Prisma's own table.
        raise CheckFailed(f"{db.describe()} has no _prisma_migrations table: nothing was ever applied by Prisma, "
                          f"so there is no history to mark {name} applied in",
                          hint=f"npx prisma migrate resolve --applied {name}  (creates the table), or apply the "
                               "migrations: migtool deploy-migrate")
    table = qualified_table(db)
    lit = quote_literal(name)
    mark = (f"UPDATE {table} SET rolled_back_at = now() "
            f"WHERE migration_name = {lit} AND finished_at IS NULL AND rolled_back_at IS NULL;")
    if mode == "rolled-back":
        db.execute(mark)
        return
    script = (Path(migrations_dir) / name / "migration.sql").read_bytes()
    db.execute(f"BEGIN; {mark} INSERT INTO {table} (id, checksum, finished_at, migration_name, logs, rolled_back_at, "
               f"started_at, applied_steps_count) VALUES ({quote_literal(str(uuid.uuid4()))}, "
               f"{quote_literal(prisma_checksum(script))}, now(), {lit}, '', NULL, now(), 0); COMMIT;")
