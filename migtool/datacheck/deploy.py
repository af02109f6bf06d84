"""deploy-migrate's data-check refusal: a pending migration that will fail on today's rows is refused
(exit 1) with the counts and the fix, before any backup is taken. `--allow-danger` does not override
a certain failure (the migration cannot succeed, so there is no risk to accept); `--skip-data-checks`
does, and the run record says so."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from migtool.datacheck.annotate import failure_lines
from migtool.datacheck.model import Result
from migtool.errors import CheckFailed

SCRIPT = "migration.sql"


def record_of(failures: Sequence[Result], skipped: bool = False) -> dict[str, Any]:
    """What the run record keeps about the data checks."""
    if skipped:
        return {"skipped": True, "why": "--skip-data-checks"}
    return {"skipped": False, "will_fail": [
        {"migration": Path(r.check.file).parent.name, "line": r.check.line, **r.to_data()} for r in failures]}


def refusal(failures: Sequence[Result]) -> CheckFailed:
    first = failures[0]
    from migtool.datacheck.messages import fix_for

    return CheckFailed(
        f"{len(failures)} statement(s) of the pending migrations will fail on today's data (listed above, each "
        "with its fix); nothing was changed and no backup was taken",
        hint=f"{fix_for(first)}  (or, if the check is wrong: migtool deploy-migrate --skip-data-checks)")


def refuse_on_certain_failures(db, config, pending, *, skip: bool, record: Callable[[str, Any], None],
                               say: Callable[[str], None], on_refuse: Callable[[], None] = lambda: None) -> None:
    """Run the data checks of the pending migrations (MigrationStatus objects, in apply order) and raise
    CheckFailed when one will fail. `record(key, value)` stores the outcome in the run record;
    `on_refuse` runs before the raise (e.g. to mark the run refused)."""
    if skip:
        record("data_checks", record_of((), skipped=True))
        say("data checks skipped (--skip-data-checks)")
        return
    from migtool.datacheck import certain_failures

    files = [Path(m.path) / SCRIPT for m in pending if getattr(m, "path", None) is not None]
    failures = certain_failures(db, files, timeout=getattr(config, "datacheck_timeout", None))
    record("data_checks", record_of(failures))
    if not failures:
        return
    for line in failure_lines(failures):
        say(line)
    on_refuse()
    raise refusal(failures)
