"""Find migration statements that break expand/contract or lock production, and print the safe way.

PATH may be a migration.sql (or any .sql file), one Prisma migration folder, or a migrations folder
(<timestamp>_<name>/migration.sql inside). Files are linted in apply order. What counts as existing
(used by the running release, so changing it can break or lock it) is said in the summary:
- `existing: applied in database` (no PATH and the database answers, or --db): applied migrations
  are existing; the pending ones deploy together, so a table made by an earlier pending one is new;
- `existing: earlier migrations` (PATHs, or no database): each migration is its own release, so
  objects from earlier migrations are existing and only those of the same migration are new;
- `existing: before these files` (--together): the PATHs deploy at once.

Suppress a finding with a comment directly above the statement (or at the top of the file,
followed by a blank line, for the whole file); the reason is required:
    -- migtool:allow drop-column the column is unused since release 41, backed up

Exit 1 when an unsuppressed finding is at or above --fail-on (default: warning), else 0.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

FORMATS = ("text", "json", "github", "sarif", "gitlab")  # gitlab (issue 15): migtool/gitlab_codequality.py
FALLBACK_PG_VERSION = 15


def _pg_version(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a PostgreSQL major version such as 15, got {raw!r}") from None
    if not 9 <= value <= 99:
        raise argparse.ArgumentTypeError(f"expected a PostgreSQL major version such as 15, got {raw!r}")
    return value


def add_arguments(parser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="migration files or folders (default: the pending migrations)")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="text (default), json, github (workflow annotations), sarif (code scanning) or "
                             "gitlab (Code Quality report)")
    parser.add_argument("--json", dest="format", action="store_const", const="json", help="same as --format json")
    parser.add_argument("--fail-on", choices=("danger", "warning", "advice"), default="warning",
                        help="lowest severity that makes the exit code 1 (default: warning)")
    parser.add_argument("--pg-version", type=_pg_version, metavar="N",
                        help="PostgreSQL major version the migrations run on (default: pg_version from the "
                             "config, else the server's when no PATH is given, else 15)")
    parser.add_argument("--list-rules", action="store_true", help="list every rule id with its severity and exit")
    # --changed-since (issue 15): the git logic lives in migtool/gitchanges.py
    parser.add_argument("--changed-since", metavar="REF",
                        help="lint only the migrations added or modified since REF (a pull request's base, e.g. "
                             "origin/main); changing a merged migration is an edited-applied-migration finding")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--together", action="store_true",
                      help="the PATHs deploy at once: objects made by an earlier one are new for the later ones "
                           "(default: each migration is its own release)")
    mode.add_argument("--db", action="store_true",
                      help="ask the database which of the PATHs are applied (existing) and lint the pending ones "
                           "as one deploy (the default without PATH)")


def _display_path(path: Path, cwd: str | None = None) -> Path:
    """Paths under the current directory shown relative to it (as CI annotations expect)."""
    text = str(path)
    if not os.path.isabs(text):
        return path
    # A string prefix test, not os.path.relpath: this runs once per file of a large lint.
    prefix = os.path.join(cwd or os.getcwd(), "")
    text = os.path.normpath(text)
    return Path(text[len(prefix):]) if text.startswith(prefix) else Path(text)


def _project_migrations(config) -> tuple[list[Path], list[Path], bool]:
    """(files to lint, migrations applied before them, whether the database answered).

    Without the database we cannot tell pending from applied, so every migration is linted and
    judged on its own (isolated): a table created by an older migration counts as existing, which
    reports too much on old migrations rather than too little on the new one.
    """
    from migtool import output
    from migtool.errors import ConfigError, EnvironmentProblem
    from migtool.lint.discover import SCRIPT, migration_dirs

    folder = Path(config.migrations_dir)
    if not folder.is_dir():
        raise ConfigError(f"migrations folder not found: {folder}",
                          hint="pass --migrations-dir DIR, set migrations_dir in migtool.yaml, or give PATHs")
    try:
        from migtool.migration_status import pending_migration_dirs
    except ImportError as exc:
        output.warn(f"cannot ask the database which migrations are pending ({exc}); "
                    f"linting every migration in {_display_path(folder)}, each on its own")
        return [d / SCRIPT for d in migration_dirs(folder)], [], False
    try:
        pending = pending_migration_dirs(config)
    except EnvironmentProblem as exc:
        output.warn(f"cannot ask the database which migrations are pending ({exc.message}); "
                    f"linting every migration in {_display_path(folder)} instead, each on its own "
                    "(tables from older migrations count as existing)")
        return [d / SCRIPT for d in migration_dirs(folder)], [], False
    if not pending:
        return [], [], True
    applied = [d / SCRIPT for d in migration_dirs(folder, before=pending[0].name)]
    return [d / SCRIPT for d in pending], applied, True


def _database_configured(config) -> bool:
    """Whether a database is set up for this project (so asking it is worth a try with PATHs)."""
    if config.target == "direct":
        return config.database_url is not None
    return all(Path(f).is_file() for f in config.compose_file)


def _applied_names(config, files: list[Path]) -> set[str]:
    """Names of the migrations the database has applied. Raises EnvironmentProblem when unreachable."""
    from migtool.database import open_database
    from migtool.lint.discover import SCRIPT
    from migtool.migration_status import State, read_status

    # The folder the PATHs are in (Prisma layout), else the configured one.
    folder = files[0].parent.parent if files and files[0].name == SCRIPT else Path(config.migrations_dir)
    report = read_status(open_database(config), folder)
    return {m.name for m in report.with_state(State.APPLIED, State.MODIFIED)}


def _server_major_version(config) -> int | None:
    from migtool.database import open_database
    from migtool.errors import MigtoolError

    try:
        return open_database(config).server_version_num() // 10000
    except MigtoolError:
        return None


def _print_rules(fmt: str) -> None:
    from migtool import output
    from migtool.lint.formats import rules_list

    rules = rules_list()
    if fmt == "json":
        output.print_json({"rules": rules})
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    table.add_column("rule")
    table.add_column("severity")
    table.add_column("what it flags")
    for r in rules:
        table.add_row(r["id"], f"[{_STYLE[r['severity']]}]{r['severity']}[/]", escape(r["summary"]))
    output.table_out().print(table)


_STYLE = {"danger": "bold red", "warning": "yellow", "advice": "cyan"}


def _print_text(report, fail_on: str) -> None:
    from rich.markup import escape

    from migtool import output

    console = output.out()
    by_file: dict[str, list] = {}
    for f in report.findings:
        by_file.setdefault(f.file, []).append(f)
    for file, findings in by_file.items():
        console.print(f"[bold]{escape(file)}[/bold]")
        for f in findings:
            where = f"{f.line}:{f.column}" if f.column else str(f.line)
            if f.suppressed:
                console.print(f"  [dim]{where}  {f.severity}  {f.rule}  suppressed: "
                              f"{escape(f.suppression_reason or '')}[/dim]")
                continue
            console.print(f"  {where}  [{_STYLE[f.severity]}]{f.severity}[/]  [bold]{f.rule}[/bold]  {escape(f.message)}")
            if f.statement:
                console.print(f"      [dim]{escape(f.statement)}[/dim]")
            fix_lines = f.fix.splitlines()
            for i, line in enumerate(fix_lines):
                lead = "[green]fix:[/green] " if i == 0 else "     "
                console.print(f"      {lead}{escape(line)}")
            if f.data:
                # A data check (issue 17) brings its own sentence; other facts print as key=value.
                facts = f.data["text"] if "text" in f.data else ", ".join(f"{k}={v}" for k, v in f.data.items())
                console.print(f"      [cyan]data:[/cyan] {escape(facts)}")
        console.print()
    s = report.summary()
    parts = [f"{s['danger']} danger", f"{s['warning']} warning", f"{s['advice']} advice"]
    if s["suppressed"]:
        parts.append(f"{s['suppressed']} suppressed")
    files = "1 file" if s["files"] == 1 else f"{s['files']} files"
    if report.fails(fail_on):
        verdict = f"[bold red]fails[/bold red] (--fail-on {fail_on})"
    elif report.active:
        verdict = f"[green]passes[/green] (--fail-on {fail_on})"
    else:
        verdict = "[green]no problems found[/green]"
    existing = f"; existing: {report.existing}" if report.existing else ""
    output.err().print(f"{files} linted (PostgreSQL {report.pg_version}{existing}): {', '.join(parts)}: {verdict}")


def _plan(args, config) -> tuple[list[Path], list[Path], str, bool]:
    """(files to lint, migrations applied before them, what counts as existing, database reachable)."""
    from migtool import output
    from migtool.lint.discover import applied_before, expand_paths
    from migtool.lint.engine import APPLIED, EARLIER, TOGETHER

    if not args.paths:
        if args.together:
            from migtool.errors import ConfigError

            raise ConfigError("--together needs PATHs", hint="migtool lint --together prisma/migrations/2025*")
        files, applied, reachable = _project_migrations(config)
        if not files and reachable:
            output.info("no pending migrations: nothing to lint")
        return files, applied, APPLIED if reachable else EARLIER, reachable
    files = expand_paths([Path(p) for p in args.paths])
    if not files:
        output.warn(f"no migration files in {', '.join(args.paths)}")
    applied = applied_before(files)
    if args.db:
        # Raises EnvironmentProblem (exit 3) when the database does not answer: --db asked for it.
        done = _applied_names(config, files)
        applied_given = [f for f in files if f.parent.name in done]
        files = [f for f in files if f.parent.name not in done]
        return files, applied + applied_given, APPLIED, True
    return files, applied, TOGETHER if args.together else EARLIER, False


def run(args, config) -> int:
    if args.list_rules:
        _print_rules(args.format)
        return 0

    from migtool.lint import lint_files

    # --changed-since (issue 15): git says which files; see migtool/gitchanges.py
    changed = None
    if getattr(args, "changed_since", None):
        from migtool.gitchanges import plan_for_lint

        changed = plan_for_lint(args, config)
    files, applied, existing, reachable = changed.plan if changed else _plan(args, config)
    pg_version = args.pg_version or config.pg_version
    if pg_version is None and (reachable or (args.paths and _database_configured(config))):
        pg_version = _server_major_version(config)
    cwd = os.getcwd()
    report = lint_files([_display_path(p, cwd) for p in files], pg_version or FALLBACK_PG_VERSION, applied=applied,
                        existing=existing)
    if changed:  # --changed-since (issue 15)
        changed.add_findings(report)
    # Data-aware checks (row counts and sizes from a reachable database) attach Finding.data here.
    if reachable and report.files:  # issue 17: migtool/datacheck/ (the database is reachable, or --db)
        from migtool.datacheck import add_to_lint_report

        add_to_lint_report(report, config, pending=True)
    _emit(report, args)
    return 1 if report.fails(args.fail_on) else 0


def _emit(report, args) -> None:
    from migtool import output

    if args.format == "json":
        output.print_json(report.to_dict())
    elif args.format == "github":
        import sys

        from migtool.lint.formats import to_github

        sys.stdout.write(to_github(report))
        sys.stdout.flush()
    elif args.format == "sarif":
        from migtool import __version__
        from migtool.lint.formats import to_sarif

        output.print_json(to_sarif(report, Path.cwd(), __version__))
    elif args.format == "gitlab":  # issue 15
        from migtool.gitlab_codequality import to_gitlab

        output.print_json(to_gitlab(report))
    else:
        _print_text(report, args.fail_on)
