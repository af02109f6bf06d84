"""Apply the pending migrations as one guarded step: preflight, lock, status, lint, backup, migrate,
verify; every run is recorded in <backup_dir>/history.jsonl (see `migtool runs`).

Steps:
  preflight  docker, compose, the database, pg_dump, the backup folder and free disk
  lock       our own advisory lock: a second run waits --lock-timeout s, then names the holder;
             a leftover holder of Prisma's migrate lock stops the run (see `migtool unlock`)
  status     nothing pending: exit 0; a failed, modified or missing migration: stop, with the way out
  lint       danger findings refuse (exit 1) unless --allow-danger
  backup     with --backup dangerous (default): when a pending migration has a danger or warning
             finding; verified before anything changes, and pinned against pruning
  migrate    the migrate service as a one-off container (compose), or migrate_command (direct);
             on --timeout, Ctrl-C or SIGTERM the container is removed
  verify     every pending migration must now be applied; else the failure, the backup and the
             rollback command (exit 1)
With notify.webhook_url configured, failures (and with notify.on: always, every run) are POSTed.

exit codes: 0 applied or up to date, 1 refused / failed / lock busy, 2 configuration, 3 environment,
130 interrupted.
"""

from __future__ import annotations

import argparse
import sys


def _seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, e.g. 60, got {raw!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {raw!r}")
    return value


def add_arguments(parser) -> None:
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask before applying")
    parser.add_argument("--dry-run", action="store_true",
                        help="preflight, status and lint only; say what would happen next")
    parser.add_argument("--backup", choices=("always", "dangerous", "never"), default=None,
                        help="when to back up first (default: deploy_backup from the config, else dangerous: "
                             "when a pending migration has a danger or warning finding)")
    parser.add_argument("--allow-danger", action="store_true", help="apply even with unsuppressed danger findings")
    parser.add_argument("--skip-data-checks", action="store_true",
                        help="apply even when a data check says a statement will fail on today's rows (recorded)")
    parser.add_argument("--lock-timeout", type=_seconds, default=None, metavar="S",
                        help="seconds to wait for another run's deploy lock (default: deploy_lock_timeout, 60)")
    parser.add_argument("--timeout", type=_seconds, default=None, metavar="S",
                        help="seconds the migrate step may take before it is stopped (default: migrate_timeout, "
                             "none)")
    parser.add_argument("--on-failure", choices=("stop", "rollback"), default="stop",
                        help="after a failed migration: stop (default) and print the rollback command, or roll back")
    parser.add_argument("--json", action="store_true", help="print the run record as JSON on stdout")


def _confirm(question: str) -> bool:
    from rich.prompt import Confirm

    from migtool import output

    return Confirm.ask(output.escape(question), console=output.err(), default=False)


def run(args, config) -> int:
    from migtool import output
    from migtool.deploy.pipeline import DeployOptions, check_options, deploy_migrate
    from migtool.errors import MigtoolError
    from migtool.steps import StepRunner

    options = DeployOptions(
        yes=args.yes,
        dry_run=args.dry_run,
        backup=args.backup or config.deploy_backup,
        allow_danger=args.allow_danger,
        lock_timeout=args.lock_timeout if args.lock_timeout is not None else config.deploy_lock_timeout,
        timeout=args.timeout if args.timeout is not None else config.migrate_timeout,
        on_failure=args.on_failure,
        skip_data_checks=args.skip_data_checks,
        confirm=_confirm if sys.stdin.isatty() and sys.stderr.isatty() else None,
    )
    check_options(options)  # before anything runs or is recorded
    runner = StepRunner("deploy-migrate", backup_dir=None if options.dry_run else config.backup_dir)
    outcome: dict = {}
    try:
        with runner as run:
            outcome = deploy_migrate(config, options, run, say=output.info)
    except (MigtoolError, KeyboardInterrupt):
        _finish(args, config, runner, outcome)
        raise
    _finish(args, config, runner, outcome)
    return runner.exit_code


def _finish(args, config, runner, outcome) -> None:
    from migtool import output
    from migtool.deploy.notify import notify_run

    record = runner.report()
    if not args.dry_run:
        notify_run(config.notify, record, warn=output.warn, info=output.info)
    if args.json:
        output.print_json({**record, **({"plan": outcome} if outcome else {})})
