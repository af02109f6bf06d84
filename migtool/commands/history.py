"""Show the latest attempts recorded in _prisma_migrations, newest first: name, start time, duration,
state and, for failures, the line of the log that says what went wrong.

Ordered by started_at (newest first), not finished_at: a failed or running attempt has no
finished_at and belongs at the moment it started, which for the latest failure is the top.

exit codes for history:
  0  the history was read (also when the table does not exist yet)
  2  bad arguments or configuration
  3  the database (or docker) cannot be reached
"""

from __future__ import annotations

import argparse
from datetime import datetime

from rich.markup import escape
from rich.table import Table

from migtool import output
from migtool.migrations.state import HistoryEntry

STYLES = {"applied": "green", "rolled-back": "yellow", "running": "cyan", "failed": "bold red"}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def add_arguments(parser) -> None:
    parser.add_argument("-n", "--limit", type=_positive_int, default=10, metavar="N",
                        help="how many attempts to show (default: 10)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def _table(entries: list[HistoryEntry]) -> Table:
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("Started (UTC)", no_wrap=True)
    table.add_column("Migration", no_wrap=True)
    table.add_column("Duration", justify="right", no_wrap=True)
    table.add_column("State", no_wrap=True)
    table.add_column("Log", overflow="fold")
    for e in entries:
        style = STYLES.get(str(e.state), "")
        log = e.log_summary if e.state in ("failed", "rolled-back") else ""
        table.add_row(_time(e.started_at), escape(e.name), format_duration(e.duration_seconds),
                      f"[{style}]{e.state}[/{style}]", escape(log))
    return table


def run(args, config) -> int:
    from migtool.database import open_database
    from migtool.migration_status import read_history

    entries, has_table = read_history(open_database(config), args.limit)
    if args.json:
        output.print_json({"entries": [e.to_json() for e in entries], "has_migrations_table": has_table})
        return 0
    console = output.table_out()
    if not has_table:
        console.print("no _prisma_migrations table: no migration has been applied to this database yet")
        return 0
    if not entries:
        console.print("_prisma_migrations is empty: no migration has been applied yet")
        return 0
    console.print(_table(entries))
    return 0
