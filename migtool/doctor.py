"""Checks that everything migtool needs is in place; each failure carries its fix."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from migtool.config import Config
from migtool.database import (
    ComposeDatabase,
    Database,
    compose_project,
    open_database,
    path_writable,
    server_major,
    tool_major,
)
from migtool.errors import ExitCode, MigtoolError


@dataclass
class Check:
    name: str
    status: str  # ok, fail, skip, warn (worth knowing, not a failure: the exit code ignores it)
    detail: str = ""
    fix: str = ""
    kind: str = "environment"  # environment or configuration: decides the exit code on failure


def _docker_engine() -> str:
    import docker  # imported here: only the compose target needs it

    try:
        client = docker.from_env(timeout=10)
        version = client.version()
    except Exception as exc:  # the SDK raises a variety of connection errors
        raise MigtoolError(f"not reachable: {str(exc).splitlines()[0][:200]}") from None
    return f"engine {version.get('Version', '?')} (API {version.get('ApiVersion', '?')})"


def run_checks(config: Config) -> list[Check]:
    checks: list[Check] = []
    failed: set[str] = set()

    def check(name: str, fn: Callable[[], str], fix: str, kind: str = "environment",
              needs: tuple[str, ...] = ()) -> None:
        missing = [n for n in needs if n in failed]
        if missing:
            checks.append(Check(name, "skip", f"needs: {', '.join(missing)}", kind=kind))
            failed.add(name)
            return
        try:
            detail = fn()
            checks.append(Check(name, "ok", detail, kind=kind))
        except MigtoolError as exc:
            checks.append(Check(name, "fail", exc.message, exc.hint or fix, kind=kind))
            failed.add(name)

    project = compose_project(config)
    compose = config.target == "compose"
    state: dict[str, object] = {}

    if compose:
        check("docker engine reachable", _docker_engine,
              "start the Docker engine (systemctl start docker, or scripts/dev/bootstrap)")

        def compose_v2() -> str:
            version = project.version()
            if not version.split(".")[0].isdigit() or int(version.split(".")[0]) < 2:
                raise MigtoolError(f"docker compose {version} is too old")
            return f"docker compose {version}"

        check("compose v2 available", compose_v2,
              "install the compose v2 plugin (docker-compose-plugin, or scripts/dev/bootstrap)",
              needs=("docker engine reachable",))

        def compose_valid() -> str:
            state["services"] = sorted(project.config().get("services", {}))
            return ", ".join(str(f) for f in config.compose_file)

        check("compose file valid", compose_valid,
              f"fix the file until `{project.describe()} config` succeeds", kind="configuration",
              needs=("compose v2 available",))

        def services_defined() -> str:
            services = state.get("services", [])
            wanted = [config.postgres_service, config.migrate_service]
            missing = [s for s in wanted if s not in services]
            if missing:
                raise MigtoolError(f"not defined: {', '.join(missing)} (found: {', '.join(services) or 'none'})")
            return ", ".join(wanted)

        check("postgres and migrate services defined", services_defined,
              "define them in the compose file, or set postgres_service / migrate_service in migtool.yaml",
              kind="configuration", needs=("compose file valid",))

    db_holder: dict[str, Database] = {}

    def database_reachable() -> str:
        db = open_database(config)
        db_holder["db"] = db
        num = db.server_version_num()
        state["server_major"] = server_major(num)
        return f"{db.describe()}: PostgreSQL {num // 10000}.{num % 100}"

    if compose:
        db_fix = f"start it: {project.hint_command('up', '-d', '--wait', config.postgres_service)}"
    else:
        db_fix = "start PostgreSQL or fix DATABASE_URL (host, port, user, password, database)"
    check("database reachable", database_reachable, db_fix,
          needs=("postgres and migrate services defined",) if compose else ())

    def pg_dump_version() -> str:
        db = db_holder["db"]
        proc = db.tool(["pg_dump", "--version"], stdout=subprocess.PIPE, connect=False)
        out, err = proc.communicate(timeout=60)
        if proc.returncode != 0:
            raise MigtoolError(f"pg_dump --version failed: {err.decode(errors='replace').strip()}")
        dump_major = tool_major(out.decode())
        server = int(state["server_major"])  # type: ignore[arg-type]
        where = "in the postgres service" if isinstance(db, ComposeDatabase) else "on this machine"
        if dump_major < server:
            raise MigtoolError(f"pg_dump {dump_major} {where} is older than the server ({server})",
                               hint=f"install postgresql-client-{server} or newer")
        return f"pg_dump {dump_major} {where} >= server {server}"

    check("pg_dump version >= server", pg_dump_version, "install a pg_dump at least as new as the server",
          needs=("database reachable",))

    def backup_dir_writable() -> str:
        path = config.backup_dir
        if path.exists() and not path.is_dir():
            raise MigtoolError(f"{path} exists and is not a folder")
        if not path_writable(path):
            raise MigtoolError(f"{path} is not writable")
        return str(path) + ("" if path.exists() else " (will be created)")

    check("backup dir writable", backup_dir_writable,
          "create it or fix its permissions, or set backup_dir in migtool.yaml", kind="configuration")

    checks.append(_leftovers_check(config, db_holder.get("db")))

    def migrations_dir_readable() -> str:
        path: Path = config.migrations_dir
        if not path.is_dir():
            raise MigtoolError(f"{path} is not a folder")
        if not os.access(path, os.R_OK | os.X_OK):
            raise MigtoolError(f"{path} is not readable")
        count = sum(1 for p in path.iterdir() if (p / "migration.sql").is_file())
        return f"{path} ({count} migrations)"

    check("migrations dir readable", migrations_dir_readable,
          "pass --migrations-dir or set migrations_dir in migtool.yaml", kind="configuration")
    return checks


def _leftovers_check(config: Config, db: Database | None) -> Check:
    """Partial files and scratch databases that a SIGKILLed backup or restore test left behind."""
    from migtool.backup.leftovers import stale_partials, stale_scratch_databases

    name = "no leftovers from interrupted runs"
    found = [p.name for p in stale_partials(config.backup_dir)]
    unknown = ""
    if db is not None:
        try:
            found += [f"database {s.name}" for s in stale_scratch_databases(db)]
        except MigtoolError as exc:
            unknown = f" (scratch databases not checked: {exc.message})"
    if not found:
        return Check(name, "ok", "none" + unknown, kind="environment")
    shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
    return Check(name, "warn", f"{len(found)} found: {shown}{unknown}",
                 "look with `migtool backups prune --dry-run`, remove with `migtool backups prune --yes`")


def exit_code(checks: list[Check]) -> ExitCode:
    failures = [c for c in checks if c.status == "fail"]
    if not failures:
        return ExitCode.OK
    if any(c.kind == "environment" for c in failures):
        return ExitCode.ENVIRONMENT
    return ExitCode.USAGE


def as_json(checks: list[Check]) -> dict:
    return {"ok": exit_code(checks) == ExitCode.OK, "checks": [asdict(c) for c in checks]}
