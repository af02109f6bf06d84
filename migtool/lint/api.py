"""The lint entry point for other operations (deploy-migrate): no printing, data in, report out."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from migtool.lint.discover import SCRIPT, migration_dirs
from migtool.lint.engine import APPLIED, DEFAULT_PG_VERSION, lint_files
from migtool.lint.model import LintReport


def split_by_applied(migrations_dir: Path, applied_names: Iterable[str]) -> tuple[list[Path], list[Path]]:
    """(pending migration.sql files, applied ones), each in apply (name) order."""
    applied_set = set(applied_names)
    pending, applied = [], []
    for folder in migration_dirs(Path(migrations_dir)):
        (applied if folder.name in applied_set else pending).append(folder / SCRIPT)
    return pending, applied


def lint_pending(migrations_dir: Path | str, applied_names: Iterable[str],
                 pg_version: int = DEFAULT_PG_VERSION) -> LintReport:
    """Lint what the next deploy applies: the migrations of `migrations_dir` not in applied_names.

    The applied migrations are existing (they are only read for facts, never reported on); the
    pending ones deploy together, in order, so objects made by an earlier pending one are new
    (report.existing == "applied in database"). Each Finding has rule, severity
    ("danger" | "warning" | "advice"), suppressed, file, line, message, fix (and data, if attached).
    Raises ConfigError when the folder or a file cannot be read.
    """
    pending, applied = split_by_applied(Path(migrations_dir), applied_names)
    return lint_files(pending, pg_version, applied=applied, existing=APPLIED)
