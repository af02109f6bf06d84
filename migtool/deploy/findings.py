"""The lint step: lint what is pending, with the applied migrations as existing objects, and decide
what the findings mean for this deploy (refuse on danger, back up on danger or warning)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from migtool.lint import LintReport
from migtool.migrations.state import MigrationStatus

BACKUP_POLICIES = ("always", "dangerous", "never")


def lint_pending(migrations_dir: Path, pending: list[MigrationStatus], pg_version: int) -> LintReport:
    """Lint the pending migrations in apply order; the folder's earlier migrations count as applied."""
    try:  # issue 10's entry point, when it exists, is the one `migtool lint` itself uses
        from migtool.lint.api import lint_pending as core_lint_pending  # type: ignore[import-not-found]
    except ImportError:
        core_lint_pending = None
    from migtool.lint.discover import SCRIPT, migration_dirs

    if core_lint_pending is not None:
        wanted = {m.name for m in pending}
        applied_names = [d.name for d in migration_dirs(Path(migrations_dir)) if d.name not in wanted]
        return core_lint_pending(migrations_dir, applied_names, pg_version)
    from migtool.lint import lint_files

    files = [m.path / SCRIPT for m in pending if m.path is not None]
    applied = [d / SCRIPT for d in migration_dirs(Path(migrations_dir), before=pending[0].name)] if pending else []
    return lint_files(files, pg_version, applied=applied)


def migration_of(file: str) -> str:
    """prisma/migrations/20250301_x/migration.sql -> 20250301_x"""
    path = Path(file)
    return path.parent.name if path.name == "migration.sql" else path.name


def active_findings(report: LintReport, *severities: str) -> list:
    return [f for f in report.active if not severities or f.severity in severities]


def decide_backup(policy: str, report: LintReport | None) -> tuple[bool, str]:
    """(take a backup?, why) for the --backup policy and the pending migrations' findings."""
    if policy == "always":
        return True, "--backup always"
    if policy == "never":
        return False, "--backup never"
    if policy != "dangerous":
        raise ValueError(f"unknown backup policy {policy!r}")
    risky = active_findings(report, "danger", "warning") if report is not None else []
    if not risky:
        return False, "no pending migration has a danger or warning finding"
    first = risky[0]
    more = f" and {len(risky) - 1} more" if len(risky) > 1 else ""
    return True, f"{migration_of(first.file)}: {first.severity} {first.rule}{more}"


def findings_summary(report: LintReport) -> dict[str, Any]:
    """For the run record: counts, and each unsuppressed finding in one line."""
    return {
        **{k: v for k, v in report.summary().items() if k in ("danger", "warning", "advice", "suppressed")},
        "active": [{"migration": migration_of(f.file), "rule": f.rule, "severity": f.severity, "line": f.line}
                   for f in report.active],
    }


def refusal_lines(report: LintReport) -> list[str]:
    """Each danger finding with its fix, as the refusal prints them."""
    lines = []
    for f in active_findings(report, "danger"):
        lines.append(f"{migration_of(f.file)}:{f.line}  danger  {f.rule}  {f.message}")
        if f.statement:
            lines.append(f"    {f.statement}")
        for i, fix in enumerate(f.fix.splitlines()):
            lines.append(("    fix: " if i == 0 else "         ") + fix)
    return lines
