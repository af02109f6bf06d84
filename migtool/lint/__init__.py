"""Find migration statements that break expand/contract or lock production, and say the safe way.

Public entry points (pure apart from reading the files):
    lint_files(paths, pg_version=15, *, applied=(), isolated=False, existing=None) -> LintReport
    lint_sources([(name, sql), ...], pg_version=15, *, applied=(), ...) -> LintReport  (no file reading)
    migtool.lint.api.lint_pending(migrations_dir, applied_names, pg_version) -> LintReport  (deploy-migrate)
    lint_sql(sql, name="<sql>", pg_version=15) -> list[Finding]
    LintReport.max_severity, .has_danger, .fails(threshold), .summary(), .to_dict(), .existing
What counts as existing (EXISTING_MODES): see migtool.lint.engine.
"""

from migtool.lint.engine import DEFAULT_PG_VERSION, lint_files, lint_sources, lint_sql
from migtool.lint.model import SEVERITIES, Finding, LintReport

__all__ = ["DEFAULT_PG_VERSION", "SEVERITIES", "Finding", "LintReport", "lint_files", "lint_sources", "lint_sql"]
