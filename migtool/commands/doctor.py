"""Check docker, compose, the database, pg_dump and the folders; print the fix for each failure."""

from __future__ import annotations

from rich.markup import escape

from migtool import output
from migtool.doctor import as_json, exit_code, run_checks

MARKS = {"ok": "[green]✔[/green]", "fail": "[red]✘[/red]", "skip": "[dim]–[/dim]", "warn": "[yellow]![/yellow]"}


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args, config) -> int:
    checks = run_checks(config)
    if args.json:
        output.print_json(as_json(checks))
        return exit_code(checks)
    console = output.out()
    for c in checks:
        line = f"{MARKS[c.status]} {escape(c.name)}"
        if c.detail:
            line += f" [dim]({escape(c.detail)})[/dim]"
        console.print(line)
        if c.status in ("fail", "warn") and c.fix:
            console.print(f"    [yellow]fix:[/yellow] {escape(c.fix)}")
    return exit_code(checks)
