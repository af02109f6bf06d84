"""Data-aware checks: will the pending migrations fail on the database's rows, and how big is what they lock?

Pure core: `plan` (which checks, from the parsed statements, following what earlier statements of
the deploy do), `queries` (their SQL), `messages` (what they say), `annotate` (into lint findings),
`order` (out-of-order migrations). `runner` executes checks read-only with a time budget.

Entry points:
    check_files(db, files, settings) -> [Result]           every check, for `migtool lint`
    certain_failures(db, pending_migration_files, applied_names, timeout) -> [Result]
                                                           only the checks that say will-fail, for deploy-migrate
    add_to_lint_report(report, config, pending=True)       the `migtool lint` hook
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from migtool.datacheck.model import WILL_FAIL, Check, Result
from migtool.datacheck.plan import plan_checks, plan_sources
from migtool.datacheck.runner import Runner, Settings, open_executor, parse_duration_ms

DEFAULT_TIMEOUT = "5s"

__all__ = ["Check", "Result", "Settings", "add_to_lint_report", "certain_failures", "check_files", "check_sources",
           "plan_checks", "plan_sources", "settings_from_config"]


def settings_from_config(config) -> Settings:
    return Settings(timeout_ms=parse_duration_ms(getattr(config, "datacheck_timeout", None) or DEFAULT_TIMEOUT))


def check_sources(db, sources: Iterable[tuple[str, str]], settings: Settings | None = None) -> list[Result]:
    """Plan and run the checks for (name, SQL) pairs in apply order. Raises EnvironmentProblem only when
    the database cannot be reached; a check that fails or times out is an `unknown` result."""
    settings = settings or Settings()
    checks = plan_sources(sources)
    if not checks:
        return []
    executor = open_executor(db, settings)
    try:
        return Runner(executor, settings).run(checks)
    finally:
        executor.close()


def _read(path: Path | str) -> str:
    from migtool.lint.engine import read_migration

    return read_migration(Path(path))


def check_files(db, files: Sequence[Path | str], settings: Settings | None = None) -> list[Result]:
    return check_sources(db, ((str(f), _read(f)) for f in files), settings)


def certain_failures(db, pending_migration_files: Sequence[Path | str], applied_names: Iterable[str] = (),
                     timeout: float | str | None = None) -> list[Result]:
    """The pending migrations' statements that will fail on today's data (exit-1 material for a deploy).

    `pending_migration_files` are migration.sql paths in apply order; files whose migration folder is in
    `applied_names` are left out (already applied: their effect is in the database). `timeout` is per
    check: seconds, or a duration such as "5s" (default 5 s). Only `will-fail` results are returned;
    each has `.text` (the counts), `.check.where` (file:line) and `messages.fix_for(result)`.
    """
    applied = set(applied_names)
    files = [f for f in pending_migration_files if Path(f).parent.name not in applied]
    if timeout is None:
        timeout_ms = parse_duration_ms(DEFAULT_TIMEOUT)
    elif isinstance(timeout, int | float):
        timeout_ms = int(timeout * 1000)
    else:
        timeout_ms = parse_duration_ms(timeout)
    results = check_files(db, files, Settings(timeout_ms=timeout_ms))
    return [r for r in results if r.result == WILL_FAIL]


def add_to_lint_report(report, config, *, pending: bool = True) -> None:
    """The `migtool lint` hook: data checks on the report's files, and out-of-order findings when the files
    are the pending migrations. A database that does not answer only costs a warning."""
    from migtool import output
    from migtool.database import open_database
    from migtool.datacheck.annotate import annotate
    from migtool.errors import MigtoolError

    if not report.files:
        return
    try:
        db = open_database(config)
        results = check_files(db, report.files, settings_from_config(config))
        annotate(report, results)
        if pending:
            _out_of_order(report, db, config)
    except MigtoolError as exc:
        output.warn(f"data checks skipped: {exc.message}")
    except Exception as exc:  # noqa: BLE001 - a bug in the data checks must not take lint's findings away
        import logging

        logging.getLogger(__name__).debug("data checks failed", exc_info=True)
        output.warn(f"data checks skipped after an internal error ({type(exc).__name__}: {exc}); "
                    "run again with -v and report it")


def _out_of_order(report, db, config) -> None:
    from migtool.datacheck import order
    from migtool.lint.model import Finding
    from migtool.migration_status import State, read_status

    status = read_status(db, config.migrations_dir)
    applied = [m.name for m in status.with_state(State.APPLIED, State.MODIFIED, State.MISSING_LOCALLY)]
    pending = {m.name for m in status.will_apply()}
    newest = max(applied, default=None)
    late = set(order.out_of_order(pending, applied))
    for name in report.files:
        folder = Path(name).parent.name
        if folder in late and newest is not None:
            report.findings.append(Finding(rule=order.RULE_ID, severity="warning", file=name, line=1, column=None,
                                           statement="", message=order.message(folder, newest), fix=order.FIX))
