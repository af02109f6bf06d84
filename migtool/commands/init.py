"""Look at this project and write a commented migtool.yaml, then run `migtool doctor` on it.

Finds the compose file, the postgres service (by image or pg_isready healthcheck), the migrate
service (a command that runs `prisma migrate deploy`), the app services, the Prisma migrations
folder (prisma.config.ts, package.json or schema.prisma) and where DATABASE_URL comes from, and
says why it guessed each. It never overwrites an existing file without --force. When there is no
migrate service it prints the one to add to the compose file.

Exit code: the doctor's (0 when everything checks out), 1 when refused (file exists).
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

from migtool.errors import CheckFailed, ExitCode, MigtoolError

# cli.py: this command writes the configuration, so it must not require a valid one first.
LOADS_CONFIG = False

FILE_NAME = "migtool.yaml"


def add_arguments(parser) -> None:
    parser.add_argument("--yes", "-y", action="store_true", help="write without asking (needed without a terminal)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing migtool.yaml")
    parser.add_argument("--dry-run", action="store_true", help="print the file that would be written, write nothing")
    parser.add_argument("--no-doctor", action="store_true", help="do not run `migtool doctor` afterwards")


def _target_path(args) -> Path:
    given = getattr(args, "config", None)
    path = Path(given) if given else Path.cwd() / FILE_NAME
    return path if path.is_absolute() else Path.cwd() / path


def _validate(text: str, root: Path) -> None:
    """The file we are about to write must load: a bug here would otherwise surface as a config error later."""
    import tempfile

    from migtool.config import load_config

    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / FILE_NAME
        probe.write_text(text, encoding="utf-8")
        load_config(probe, environ={}, cwd=root)


def _confirm(path: Path) -> bool:
    if not sys.stdin.isatty():
        raise MigtoolError(f"not writing {path} without confirmation (no terminal to ask on)",
                           hint="migtool init --yes", exit_code=ExitCode.USAGE)
    answer = input(f"write {path}? [y/N] ").strip().lower()
    return answer in ("y", "yes")


def run(args, config) -> int:
    from rich.markup import escape

    from migtool import output
    from migtool.backup.files import write_atomic
    from migtool.init.discover import discover
    from migtool.init.render import explain, render

    path = _target_path(args)
    if path.exists() and not args.force and not args.dry_run:
        raise CheckFailed(f"{path} already exists: not overwriting it",
                          hint="migtool doctor  (to check it), or migtool init --force  (to replace it)")
    root = path.parent
    discovery = discover(root)
    text = render(discovery)
    _validate(text, root)
    if args.dry_run:
        sys.stdout.write(text)
        return 0

    console = output.err()
    console.print(f"[bold]Looked at {escape(str(root))}:[/bold]")
    for line in explain(discovery):
        console.print(f"  {escape(line)}")
    if not args.yes and not _confirm(path):
        output.info("nothing written")
        return int(ExitCode.FAILED)
    try:
        write_atomic(path, text.encode(), replace=args.force)
    except FileExistsError:
        raise CheckFailed(f"{path} appeared while we were looking: not overwriting it",
                          hint="migtool init --force") from None
    except OSError as exc:
        import errno

        hint = {errno.ENOSPC: "free some disk space, then run it again (nothing was written)",
                errno.EISDIR: f"{path.name} is a folder: move it away, then run it again"}.get(
                    exc.errno, "check the folder's permissions")
        raise MigtoolError(f"cannot write {path}: {exc.strerror}", hint=hint,
                           exit_code=ExitCode.ENVIRONMENT) from None
    output.out().print(f"wrote {escape(str(path))}: edit any guess marked 'check this'")

    if discovery.migrate_missing and discovery.compose_files is not None:
        compose = discovery.rel(discovery.compose_files.value[0])
        out = output.out()
        out.print(f"\n[yellow]No migrate service in {escape(compose)}.[/yellow] Add this under `services:`, "
                  "then apply migrations with `docker compose run --rm migrate`:\n")
        out.print(escape(discovery.migrate_snippet or ""), markup=True, highlight=False)

    if args.no_doctor:
        return 0
    from migtool.cli import CONFIG_FLAGS
    from migtool.commands import doctor
    from migtool.config import load_config

    output.out().print("\n[bold]migtool doctor[/bold]")
    flags = {k: getattr(args, k) for k in CONFIG_FLAGS if hasattr(args, k)}
    return doctor.run(SimpleNamespace(json=False), load_config(path, flags=flags))
