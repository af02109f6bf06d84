"""Print the Schema Change Request for migrations, filled in from their analysis: the change (from the
statements), the reason (a `-- reason:` comment in the file, or --reason), whether it is backward
compatible (the lint verdict, its findings as the explanation, and the rollout plan when it is not),
the tables affected with their estimated rows (the live database's statistics when reachable,
otherwise "unknown (database not reachable)"), the backfills, the rollback plan and the testing
checklist.

MIGRATION is a migration folder or migration.sql; without one, the pending migrations (the database
says which). Markdown to stdout, or to --output FILE; --format github for a pull-request comment.
"""

from __future__ import annotations

import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("paths", nargs="*", metavar="MIGRATION",
                        help="migration folders or files (default: the pending migrations)")
    parser.add_argument("--reason", help="why the change is needed (default: the files' `-- reason:` comments)")
    parser.add_argument("--format", choices=("markdown", "github", "json"), default="markdown",
                        help="markdown (default), github (a PR comment body, SQL included) or json")
    parser.add_argument("--json", dest="format", action="store_const", const="json", help="same as --format json")
    parser.add_argument("--output", metavar="FILE", help="write to FILE instead of stdout")
    parser.add_argument("--rehearsal", metavar="FILE",
                        help="a `migtool rehearse --report` file: its proven checks fill in Testing Done")


def _files(args, config) -> list[Path]:
    from migtool.errors import ConfigError, EnvironmentProblem
    from migtool.lint.discover import SCRIPT, expand_paths
    from migtool.plan.writer import shown

    if args.paths:
        return expand_paths([Path(p) for p in args.paths])
    from migtool.migration_status import pending_migration_dirs

    if not Path(config.migrations_dir).is_dir():
        raise ConfigError(f"migrations folder not found: {config.migrations_dir}",
                          hint="pass --migrations-dir DIR, or name the migrations: migtool request PATH...")
    try:
        dirs = pending_migration_dirs(config)
    except EnvironmentProblem as exc:
        raise EnvironmentProblem(f"{exc.message}: cannot tell which migrations are pending",
                                 hint=f"name them: migtool request {shown(config.migrations_dir)}/<folder>") from None
    return [d / SCRIPT for d in dirs]


def _name(path: Path) -> str:
    return path.parent.name if path.name == "migration.sql" else path.name


def _rows(config, tables: list[str]) -> dict[str, str]:
    """Estimated rows per table from the live statistics, or the reason there is no estimate."""
    from migtool.database import open_database
    from migtool.errors import MigtoolError
    from migtool.plan.request import UNREACHABLE
    from migtool.plan.schema import read_live_schema

    try:
        schema = read_live_schema(open_database(config))
    except MigtoolError:
        return dict.fromkeys(tables, UNREACHABLE)
    out = {}
    for t in tables:
        table = schema.tables.get(t)
        if table is None:
            out[t] = "not in the database"
        elif table.rows is None:
            out[t] = "unknown (not analyzed yet)"
        else:
            out[t] = f"about {table.rows:,} (pg_class.reltuples)"
    return out


def _add_data_checks(config, req, files) -> None:
    """Statements the data checks prove will fail, beside their table's estimate ("will fail: 1,204 rows
    of "User" have NULL "phone""): the rows a reviewer must see before approving."""
    from migtool.errors import MigtoolError
    from migtool.plan.request import UNREACHABLE

    if not req.tables or all(v == UNREACHABLE for v in req.rows.values()):
        return
    from migtool.database import open_database
    from migtool.datacheck import check_files, settings_from_config

    try:
        results = check_files(open_database(config), files, settings_from_config(config))
    except MigtoolError:
        return
    for r in results:
        table = r.check.table.name
        if table in req.rows and r.result == "will-fail" and r.text:
            req.rows[table] += f"; {r.text}"


def run(args, config) -> int:
    from migtool import output
    from migtool.errors import ConfigError, EnvironmentProblem
    from migtool.lint import lint_files
    from migtool.lint.discover import applied_before
    from migtool.lint.engine import read_migration
    from migtool.plan.request import Request, analyze, reason_in, render
    from migtool.plan.writer import shown as shown_path

    files = _files(args, config)
    if not files:
        output.info("no pending migrations: nothing to request")
        return 0
    shown = [Path(shown_path(p)) for p in files]
    migrations = [analyze(_name(p), str(p), read_migration(p)) for p in shown]
    report = lint_files(shown, config.pg_version or 15, applied=applied_before(list(shown)))
    reasons = [(m.name, reason_in(m.sql)) for m in migrations]
    reason = args.reason or "; ".join(r if len(migrations) == 1 else f"{n}: {r}" for n, r in reasons if r) or None
    first = re.sub(r"^\d{14}_", "", migrations[0].name)
    backup_reason = "before-" + re.sub(r"[^a-z0-9]+", "-", first.lower()).strip("-")[:40]
    lint_paths = [str(p.parent if p.name == "migration.sql" else p) for p in shown]
    req = Request(migrations, reason, report.findings, {}, backup_reason, lint_paths,
                  datetime.now(UTC).strftime("%Y-%m-%d"))
    req.rows = _rows(config, req.tables)
    _add_data_checks(config, req, shown)
    if args.rehearsal:
        from migtool.plan.request import rehearsal_checklist

        try:
            req.rehearsal = rehearsal_checklist(Path(args.rehearsal).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not a text file"
            raise ConfigError(f"cannot read the rehearsal report {args.rehearsal}: {why}",
                              hint="write one with `migtool rehearse --report FILE`") from None
    if args.format == "json":
        import json

        text = json.dumps(req.to_dict(), indent=2) + "\n"
    else:
        text = render(req, args.format)
    if args.output:
        target = Path(args.output)
        tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
        try:
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, target)
        except OSError as exc:
            try:  # no half-written temp file left beside the target
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            raise EnvironmentProblem(f"cannot write the request to {target}: {exc.strerror or exc}",
                                     hint="pass --output a writable file path (not a folder), or leave it "
                                          "out to print to stdout") from None
        output.info(f"wrote the request to {target}")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return 0
