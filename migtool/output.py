"""Where output goes: data to stdout (tables, JSON), messages and progress to stderr."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

# rich is imported on first use, not at startup: `migtool lint --format json` never needs it, and
# consoles are created per call so tests that swap sys.stdout/sys.stderr (capsys) see our output.


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def out() -> Console:
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False, soft_wrap=True)


def table_out() -> Console:
    """stdout for tables: piped into a log or CI, rows are not squeezed into 80 columns."""
    console = out()
    if not console.is_terminal:
        console.width = 240
    return console


def err() -> Console:
    from rich.console import Console

    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    # Indented for people at a terminal; one line for programs (json's C encoder only runs without
    # indent, which matters for thousands of lint findings).
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(data, indent=indent, default=str) + "\n")
    sys.stdout.flush()


def info(message: str) -> None:
    err().print(escape(message))


def warn(message: str) -> None:
    err().print(f"[yellow]warning:[/yellow] {escape(message)}")


def error(message: str, hint: str | None = None) -> None:
    console = err()
    console.print(f"[bold red]error:[/bold red] {escape(message)}")
    if hint:
        console.print(f"[dim]next:[/dim] {escape(hint)}")
