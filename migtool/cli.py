"""The thin front: parse arguments, build the configuration, run one command, map errors to exit codes.

Each command lives in migtool/commands/<module>.py and offers `add_arguments(parser)` and
`run(args, config) -> int`. Command modules import their heavy dependencies inside `run`, so
`migtool lint` does not pay for boto3 and `migtool --help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from migtool import __version__, output
from migtool.config import MaskingFormatter, environment_secrets, load_config, mask_secrets
from migtool.errors import ExitCode, MigtoolError

# name -> (module under migtool.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "doctor": ("doctor", "check that docker, compose, the database and the folders are usable"),
    "config": ("show_config", "print the effective configuration (passwords masked)"),
    "status": ("status", "show applied, pending, failed and modified migrations"),
    "history": ("history", "show the latest applied migrations from _prisma_migrations"),
    "lint": ("lint", "find migration statements that break expand/contract or lock production"),
    "plan": ("plan", "write a schema change as expand/contract migrations, one release at a time"),
    "request": ("request", "fill in the Schema Change Request for migrations from their analysis"),
    "backup": ("backup", "take a compressed, checksummed backup with a manifest"),
    "backups": ("backups", "list, verify, prune, upload and download backups"),
    "restore": ("restore", "restore a backup (verified first; --clean restores beside, then swaps names)"),
    "rollback": ("rollback", "roll back to a backup (beside, then swap; undoable), --undo, --cleanup"),
    "resolve": ("resolve", "mark a migration rolled back or applied in Prisma's history (schema-only)"),
    "runbook": ("runbook", "the emergency runbook, interactively: pick, verify, roll back, check"),
    "deploy-migrate": ("deploy_migrate", "apply pending migrations: preflight, lock, lint, backup, migrate, verify"),
    "unlock": ("unlock", "list or end sessions holding the deploy lock or Prisma's migrate lock"),
    "runs": ("runs", "show the recorded deploy-migrate and rollback runs"),
    "rehearse": ("rehearse", "run pending migrations on a throwaway copy of production, under load, and report"),
    "backfill": ("backfill", "fill a column on a live table in small, resumable keyset batches"),
    "init": ("init", "look at this project and write a commented migtool.yaml, then run the doctor"),
}

EXIT_CODES_HELP = """exit codes:
  0  ok
  1  a check failed or an action was refused
  2  usage or configuration error
  3  environment error (docker, the database, the disk or S3 unreachable)
  4  internal error (a bug: run again with -v and report the traceback)
"""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse sizes help text with shutil.get_terminal_size, and importing shutil pulls in zlib,
    bz2 and lzma on every start; the same width computed with os alone keeps startup small."""

    def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
        if width is None:
            try:
                columns = int(os.environ.get("COLUMNS", "0")) or os.get_terminal_size(sys.__stdout__.fileno()).columns
            except (AttributeError, ValueError, OSError):
                columns = 80
            width = columns - 2
        super().__init__(prog, indent_increment, max_help_position, width)


def _common_options() -> argparse.ArgumentParser:
    """Options accepted before or after the command name; only given ones reach the config."""
    common = argparse.ArgumentParser(add_help=False, formatter_class=_HelpFormatter)
    g = common.add_argument_group("configuration (override migtool.yaml and MIGTOOL_* variables)")
    s = argparse.SUPPRESS
    g.add_argument("--config", metavar="PATH", default=s, help="config file (default: ./migtool.yaml)")
    g.add_argument("--target", choices=["compose", "direct"], default=s,
                   help="how to reach PostgreSQL (direct uses DATABASE_URL)")
    g.add_argument("--compose-file", metavar="PATH", action="append", default=s,
                   help="compose file (repeat for overrides)")
    g.add_argument("--compose-project", metavar="NAME", default=s, help="compose project name")
    g.add_argument("--compose-env-file", metavar="PATH", default=s, help="env file for docker compose")
    g.add_argument("--migrations-dir", metavar="DIR", default=s, help="Prisma migrations folder")
    g.add_argument("--backup-dir", metavar="DIR", default=s, help="where backups are written")
    g.add_argument("-v", "--verbose", action="store_true", default=s, help="show tracebacks and debug logs")
    return common


CONFIG_FLAGS = ("target", "compose_file", "compose_project", "compose_env_file", "migrations_dir", "backup_dir")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The full parser; given argv, only the commands named in it import their modules.

    Importing every command module costs more than a whole `migtool lint` run (psycopg, plumbum,
    rich...), so the others get a bare sub-parser: enough for `migtool --help` to list them.
    """
    wanted = set(COMMANDS) if argv is None else {a for a in argv if a in COMMANDS}
    common = _common_options()
    parser = argparse.ArgumentParser(
        prog="migtool",
        description="Database migration discipline you can run: lint, back up, migrate, roll back.",
        epilog=EXIT_CODES_HELP,
        formatter_class=_HelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"migtool {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        if name not in wanted:
            sub.add_parser(name, help=help_text, description=help_text, formatter_class=_HelpFormatter)
            continue
        module = importlib.import_module(f"migtool.commands.{module_name}")
        p = sub.add_parser(name, help=help_text, description=getattr(module, "__doc__", None) or help_text,
                           parents=[common], epilog=EXIT_CODES_HELP,
                           formatter_class=_HelpFormatter)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)  # exits 2 on usage errors, 0 on --help
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    secrets = environment_secrets(os.environ)  # masked in every log line, error and traceback below
    for handler in logging.getLogger().handlers:
        handler.setFormatter(MaskingFormatter("%(levelname)s %(name)s: %(message)s", secrets))
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    try:
        flags = {k: getattr(args, k) for k in CONFIG_FLAGS if hasattr(args, k)}
        # `init` writes the configuration, so it must run even when none (or a broken one) exists.
        loads = getattr(args._module, "LOADS_CONFIG", True)
        config = load_config(getattr(args, "config", None), flags=flags) if loads else None
        return int(args._module.run(args, config))
    except MigtoolError as exc:
        if verbose:
            _print_traceback(secrets)
        output.error(mask_secrets(exc.message, secrets), mask_secrets(exc.hint, secrets) if exc.hint else None)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        output.error("interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return ExitCode.OK
    except Exception as exc:  # a bug: say so plainly, keep the traceback for -v
        if verbose:
            _print_traceback(secrets)
        output.error(mask_secrets(f"internal error: {type(exc).__name__}: {exc}", secrets),
                     "run again with -v and report the traceback")
        return ExitCode.INTERNAL


def _print_traceback(secrets: list[str]) -> None:
    import traceback

    sys.stderr.write(mask_secrets(traceback.format_exc(), secrets))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
