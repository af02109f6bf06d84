"""`migtool rehearse` as a runbook of steps, on a disposable copy of production.

backup -> copy (throwaway postgres from production's image) -> restore -> old code under load ->
[new code on the old schema] -> migrate while the old code's traffic runs, locks sampled ->
old code on the new schema -> new code on the new schema -> rollback drill -> report.
Everything the rehearsal starts belongs to one compose project that a registered cleanup removes
(containers, network, volume), also on failure and Ctrl-C. Production's server does no work
beyond the backup it is asked to take (`--backup fresh`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migtool.config import Config
from migtool.errors import CheckFailed, ConfigError, EnvironmentProblem, MigtoolError
from migtool.rehearse import locks as lockwatch
from migtool.rehearse import stack as stacks
from migtool.rehearse.report import build_report
from migtool.rehearse.traffic import Traffic, summarize
from migtool.steps import StepRunner

DEFAULT_SCENARIO_HINT = ("add a `rehearse: {requests: [...]}` section to migtool.yaml: the requests the app "
                         "serves (method, path, body with {{n}}/{{id}}, expect)")


@dataclass(frozen=True)
class Options:
    backup: str = "latest"  # NAME, latest or fresh
    duration: float = 10.0  # seconds of traffic after migrating, and for the new code
    rate: float = 20.0
    new_image: str | None = None
    check_new_on_old: bool = False
    warmup: float = 3.0


def _copy_credentials(prod: dict[str, Any], service: str) -> tuple[str, str, str]:
    env = (prod.get("services", {}).get(service) or {}).get("environment") or {}
    user = env.get("POSTGRES_USER") or "postgres"
    return user, env.get("POSTGRES_DB") or user, env.get("POSTGRES_PASSWORD") or ""


def _columns_reader(db):
    def columns_of(table: str) -> list[str]:
        rows = db.query(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(quote_ident("
            f"'{table.replace(chr(39), chr(39) * 2)}')) AND attnum > 0 AND NOT attisdropped ORDER BY attnum")
        if not rows:
            raise ConfigError(f"rehearse: table {table!r} named in {{{{columns}}}} does not exist in the copy")
        return [r["attname"] for r in rows]

    return columns_of


def _applied(db) -> list[dict[str, Any]]:
    return db.query(
        "SELECT migration_name AS name, started_at, finished_at, rolled_back_at, logs FROM _prisma_migrations "
        "ORDER BY started_at") if db.query(
        "SELECT to_regclass('_prisma_migrations') IS NOT NULL AS present")[0]["present"] else []


def _parse_ts(text: str | None) -> float | None:
    if not text:
        return None
    from datetime import datetime

    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.timestamp()


def choose_backup(config: Config, ref: str, run: StepRunner):
    from migtool.backup import catalog

    if ref == "fresh":
        from migtool.database import open_database
        from migtool.deploy.backup import take_verified_backup

        taken = take_verified_backup(open_database(config), config, run.run_id, [])
        return catalog.load(Path(taken.path) if not isinstance(taken.path, Path) else taken.path)
    if ref == "latest":
        for backup in catalog.scan(config.backup_dir):
            if backup.verified_ok:
                return backup
        raise CheckFailed(f"no verified backup in {config.backup_dir} to rehearse on",
                          hint="migtool backup && migtool backups verify latest, or migtool rehearse --backup fresh")
    return catalog.resolve(config.backup_dir, ref)


class Rehearsal:
    def __init__(self, config: Config, options: Options, run: StepRunner):
        if config.target != "compose":
            raise ConfigError("rehearse runs on the compose target: it starts a throwaway copy from the "
                              "postgres service's image", hint="use --target compose with your compose file")
        if config.rehearse is None or not config.rehearse.requests:
            raise ConfigError("rehearse needs a request scenario", hint=DEFAULT_SCENARIO_HINT)
        self.config, self.options, self.run = config, options, run
        self.settings = config.rehearse
        self.evidence: dict[str, Any] = {}

    # ------------------------------------------------------------------ steps
    def prepare(self):
        from migtool.database import compose_project

        prod = compose_project(self.config).config()
        app = self.config.app_services[0] if self.config.app_services else "app"
        self.names = stacks.StackNames(self.config.postgres_service, app, self.config.migrate_service)
        model = stacks.copy_model(prod, self.names, new_image=self.options.new_image)
        self.user, self.dbname, self.password = _copy_credentials(prod, self.names.postgres)
        self.app_port = self.settings.app_port or _first_port(prod["services"][app])
        self.prod_model = prod
        self.model = model
        backup = choose_backup(self.config, self.options.backup, self.run)
        self.backup = backup
        self.run.set("backup", backup.filename)
        self.run.detail(f"backup {backup.filename}")

    def start_copy(self):
        self.stack = stacks.RehearsalStack(self.model)
        self.run.on_cleanup("remove the rehearsal copy", self.stack.remove)
        self.run.set("rehearsal_project", self.stack.name)
        self.stack.up([stacks.COPY_SERVICE])
        from migtool.database import ComposeDatabase

        self.copy = ComposeDatabase(self.stack.project, stacks.COPY_SERVICE, self.user, self.dbname)
        self.pg_port = self.stack.port(stacks.COPY_SERVICE, 5432)
        self.run.detail(f"{self.stack.name} (postgres on 127.0.0.1:{self.pg_port})")

    def restore(self):
        from migtool.backup.restore import restore_backup

        b = self.backup
        seconds = restore_backup(self.copy, b.path, fmt=b.name.format, compression=b.name.compression, jobs=1,
                                 identity=self.config.age_identity)
        self.before = _applied(self.copy)
        # The pre-migration state kept beside (a file-level copy, seconds even for large data): what the
        # rollback drill swaps back in, as a beside-and-swap rollback does.
        self.pristine = self.dbname + "_before_rehearsal"
        self._admin(f"CREATE DATABASE {_ident(self.pristine)} TEMPLATE {_ident(self.dbname)};")
        self.run.detail(f"{seconds:.1f} s, {len(self.before)} migrations in the backup")

    def start_old_code(self):
        self._start_app(stacks.OLD_APP, self.settings.old_env)
        self.old = Traffic(self._url(stacks.OLD_APP), self.settings.requests, self.options.rate)
        self.run.on_cleanup("stop the old code's traffic", self.old.stop)
        self.old.phase = "before"
        self.old.start()
        time.sleep(self.options.warmup)
        self.run.detail(_traffic_line(self.old.in_phase("before")))

    def new_on_old(self):
        self._start_app(stacks.NEW_APP, self.settings.new_env)
        traffic = self._drive(stacks.NEW_APP, self.options.duration / 2, "new-on-old")
        self.stack.stop([stacks.NEW_APP])
        self.evidence["new_on_old"] = summarize(traffic.results)
        self.run.detail(_traffic_line(traffic.results))

    def migrate(self):
        from migtool.deploy.migrate import run_migrate

        def connect():
            import psycopg

            return psycopg.connect(host="127.0.0.1", port=self.pg_port, user=self.user, password=self.password,
                                   dbname=self.dbname, autocommit=True, connect_timeout=10)

        self.sampler = lockwatch.LockSampler(connect)
        self.run.on_cleanup("stop the lock sampler", self.sampler.stop)
        self.sampler.start()
        self.old.phase = "migrate"
        copy_config = dataclasses.replace(self.config, compose_file=(self.stack.file,),
                                          compose_project=self.stack.name, compose_env_file=None,
                                          migrate_service=stacks.MIGRATE)
        started = time.time()
        result = run_migrate(copy_config, self.run.run_id + "-rehearse", None, on_cleanup=self.run.on_cleanup)
        ended = time.time()
        self.old.phase = "after"
        self.sampler.stop()
        after = _applied(self.copy)
        known = {m["name"] for m in self.before}
        self.applied_now = [m for m in after if m["name"] not in known]
        self.migrate_result = {"exit_code": result.exit_code, "seconds": result.seconds,
                               "last_line": result.last_line, "started": started, "ended": ended}
        self.per_migration = self._per_migration(started, ended)
        self.run.set("rehearsed_migrations", [m["name"] for m in self.applied_now])
        if result.exit_code != 0:
            self.run.detail(f"migrate exited {result.exit_code}: {result.last_line}")
        else:
            self.run.detail(f"{len(self.applied_now)} migrations in {result.seconds:.1f} s")

    def old_on_new(self):
        time.sleep(self.options.duration)
        self.old.stop()
        self.run.detail(_traffic_line(self.old.in_phase("migrate", "after")))

    def new_on_new(self):
        self._start_app(stacks.NEW_APP, self.settings.new_env)
        traffic = self._drive(stacks.NEW_APP, self.options.duration, "new-on-new")
        self.evidence["new_on_new"] = summarize(traffic.results)
        self.run.detail(_traffic_line(traffic.results))

    def rollback_drill(self):
        """Back to the pre-migration state as `migtool rollback` does it (the restored copy kept beside,
        then names swapped), then the old code's scenario against it."""
        self.stack.stop([stacks.OLD_APP, stacks.NEW_APP])
        self._admin(f"{_terminate(self.dbname)}\nALTER DATABASE {_ident(self.dbname)} RENAME TO "
                    f"{_ident(self.dbname + '_rehearsed')};\n"
                    f"ALTER DATABASE {_ident(self.pristine)} RENAME TO {_ident(self.dbname)};")
        restored = [m["name"] for m in _applied(self.copy)]
        self._start_app(stacks.OLD_APP, self.settings.old_env, recreate=True)
        traffic = self._drive(stacks.OLD_APP, max(3.0, self.options.duration / 2), "rollback")
        self.evidence["rollback"] = {**summarize(traffic.results),
                                     "history_restored": restored == [m["name"] for m in self.before]}
        self.run.detail(_traffic_line(traffic.results))

    def _admin(self, sql: str) -> None:
        self.copy.with_database("postgres").execute(sql)

    def lint_opinion(self) -> dict[str, list[str]]:
        """Lint's danger findings on the rehearsed migrations, by migration; suppressed ones marked so."""
        from migtool.lint.api import lint_pending

        names = [m["name"] for m in self.applied_now]
        folder = Path(self.config.migrations_dir)
        if not names or not folder.is_dir():
            return {}
        all_names = {p.name for p in folder.iterdir() if p.is_dir()}
        applied = sorted(all_names - set(names))
        report = lint_pending(folder, applied, self.config.pg_version or 15)
        out: dict[str, list[str]] = {}
        for f in report.findings:
            if f.severity == "danger":
                rule = f"{f.rule} (suppressed)" if f.suppressed else f.rule
                out.setdefault(Path(str(f.file)).parent.name, []).append(rule)
        return out

    # ------------------------------------------------------------------ helpers
    def _url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.stack.port(service, self.app_port)}"

    def _start_app(self, service: str, env: tuple[tuple[str, str], ...], recreate: bool = False):
        filled = stacks.fill_columns(dict(env), _columns_reader(self.copy))
        # compose interpolates $ in the file: escape it so values arrive as written.
        self.model["services"][service]["environment"].update({k: v.replace("$", "$$") for k, v in filled.items()})
        self.stack.rewrite(self.model)
        if recreate:
            self.stack.stop([service])
        self.stack.up([service])

    def _drive(self, service: str, seconds: float, phase: str) -> Traffic:
        traffic = Traffic(self._url(service), self.settings.requests, self.options.rate)
        traffic.phase = phase
        stop_now = self.run.on_cleanup(f"stop the {phase} traffic", traffic.stop)
        traffic.start()
        time.sleep(seconds)
        stop_now()
        return traffic

    def _per_migration(self, started: float, ended: float) -> list[dict[str, Any]]:
        rows = []
        for m in self.applied_now:
            s = _parse_ts(m["started_at"]) or started
            e = _parse_ts(m["finished_at"]) or ended
            # Exact windows: a margin would charge one migration with the previous one's locks.
            window = [r for r in self.old.results if s <= r.started <= e]
            rows.append({"migration": m["name"], "seconds": round(e - s, 3),
                         "applied": m["finished_at"] is not None and m["rolled_back_at"] is None,
                         "log": (m.get("logs") or "").strip().splitlines()[-1:] or None,
                         "locks": lockwatch.summarize(self.sampler.samples, s, e),
                         "old_code": summarize(window)})
        return rows

    def report(self) -> dict[str, Any]:
        return build_report(
            backup=self.backup.filename,
            migrate=self.migrate_result,
            per_migration=self.per_migration,
            old_during=summarize(self.old.in_phase("migrate", "after")),
            old_before=summarize(self.old.in_phase("before")),
            new_on_new=self.evidence.get("new_on_new"),
            new_on_old=self.evidence.get("new_on_old"),
            rollback=self.evidence.get("rollback"),
            lint=self.lint_opinion(),
            sampler_error=getattr(self, "sampler", None) and self.sampler.error,
        )


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _terminate(dbname: str) -> str:
    literal = "'" + dbname.replace("'", "''") + "'"
    return f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = {literal} AND pid <> pg_backend_pid();"


def _first_port(svc: dict[str, Any]) -> int:
    for p in svc.get("ports") or []:
        target = p.get("target") if isinstance(p, dict) else str(p).rsplit(":", 1)[-1].split("/")[0]
        if target:
            return int(target)
    raise ConfigError("the app service publishes no port, so rehearse cannot reach it",
                      hint="set rehearse.app_port in migtool.yaml to the port the app listens on")


def _traffic_line(results) -> str:
    s = summarize(list(results))
    return f"{s['requests']} requests, {s['failed']} failed, p99 {s['p99_ms']} ms"


def _with_copy_logs(r: Rehearsal, fn):
    """A failing step's message gains the copy server's last log lines: they are removed with it."""
    def step():
        try:
            return fn()
        except MigtoolError as exc:
            stack = getattr(r, "stack", None)
            if stack is not None:
                exc.message += "\nlast lines of the copy's server log:\n" + stack.log_tail(stacks.COPY_SERVICE)
            raise

    return step


def rehearse(config: Config, options: Options, run: StepRunner) -> dict[str, Any]:
    r = Rehearsal(config, options, run)
    run.step("prepare", r.prepare)
    run.step("copy", r.start_copy)
    run.state = "production untouched; the copy is being prepared"
    run.step("restore", _with_copy_logs(r, r.restore))
    run.step("old-code", r.start_old_code)
    if options.check_new_on_old:
        run.step("new-code-on-old-schema", r.new_on_old)
    run.step("migrate", _with_copy_logs(r, r.migrate))
    if r.migrate_result["exit_code"] != 0:
        r.old.stop()
        run.skip("old-code-on-new-schema", "the migration failed")
        run.skip("new-code", "the migration failed")
    else:
        run.step("old-code-on-new-schema", r.old_on_new)
        run.step("new-code", r.new_on_new)
    try:
        run.step("rollback-drill", r.rollback_drill)
    except MigtoolError as exc:
        r.evidence["rollback"] = {"error": exc.message}
    report = r.report()
    run.set("verdicts", {q["id"]: q["answer"] for q in report["questions"]})
    return report


__all__ = ["Options", "rehearse", "EnvironmentProblem"]
