"""What is about to happen, shown before anything changes, and the operator's go-ahead.

On a terminal the operator types the database's name (a `y` is too easy at 3 a.m.); without a
terminal nothing is asked and the operation is refused unless --yes was given.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime

from migtool import output
from migtool.backup.catalog import LocalBackup
from migtool.backup.display import human_bytes
from migtool.errors import CheckFailed


def age_text(then: datetime, now: datetime | None = None) -> str:
    secs = int(((now or datetime.now(UTC)) - then).total_seconds())
    if secs < 0:
        return "in the future (clock skew?)"
    if secs >= 86400:
        return f"{secs // 86400} d {(secs % 86400) // 3600} h ago"
    if secs >= 3600:
        return f"{secs // 3600} h {(secs % 3600) // 60} min ago"
    return f"{secs // 60} min ago"


def migrations_text(backup: LocalBackup) -> str:
    m = backup.manifest
    if m is None or m.migrations is None:
        why = (m.migrations_note if m else None) or "not recorded"
        return f"unknown ({why})"
    last = m.migrations.get("last_applied") or "none"
    pending = m.migrations.get("pending") or []
    failed = m.migrations.get("failed") or []
    text = f"last applied {last}"
    if pending:
        shown = ", ".join(pending[:3]) + (f" and {len(pending) - 3} more" if len(pending) > 3 else "")
        text += f"; pending then: {shown}"
    if failed:
        text += f"; failed then: {', '.join(failed)}"
    return text


def summary_rows(backup: LocalBackup, server: str, database: str, action: str) -> list[tuple[str, str]]:
    return [
        ("backup", str(backup.path)),
        ("taken", f"{backup.created.strftime('%Y-%m-%d %H:%M:%S UTC')} ({age_text(backup.created)})"),
        ("size", f"{human_bytes(backup.size)}, {backup.name.format}/{backup.name.compression}"),
        ("migrations", migrations_text(backup)),
        ("server", server),
        ("database", database),
        ("action", action),
    ]


def show(rows: list[tuple[str, str]]) -> None:
    console = output.err()
    console.print()
    for key, value in rows:
        console.print(f"  [bold]{key:<11}[/bold]{output.escape(value)}")
    console.print()


def confirm(rows: list[tuple[str, str]], database: str, yes: bool, rerun: str,
            ask: Callable[[str], str] | None = None, interactive: bool | None = None) -> None:
    """Show the plan; CheckFailed unless --yes or the operator types the database's name."""
    show(rows)
    if yes:
        return
    if interactive is None:
        interactive = sys.stdin.isatty() and sys.stderr.isatty()
    if not interactive:
        raise CheckFailed("no terminal to confirm on; nothing was changed", hint=f"{rerun} --yes")
    answer = (ask or _ask)(f"Type the database name ({database}) to go ahead: ")
    if answer.strip() != database:
        raise CheckFailed("not confirmed; nothing was changed", hint=rerun)


def _ask(prompt: str) -> str:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    try:
        return sys.stdin.readline()
    except KeyboardInterrupt:
        return ""
