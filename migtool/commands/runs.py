"""Show the recorded deploy-migrate (and rollback) runs from <backup_dir>/history.jsonl, newest last."""

from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument("-n", type=int, default=20, metavar="N", help="the last N runs (default 20)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


STYLES = {"applied": "green", "up-to-date": "green", "ok": "green", "dry-run": "dim"}


def run(args, config) -> int:
    from rich.markup import escape
    from rich.table import Table

    from migtool import output
    from migtool.runs import read_runs, runs_path

    records = read_runs(config.backup_dir, limit=max(args.n, 1))
    if args.json:
        output.print_json({"runs": records, "path": str(runs_path(config.backup_dir))})
        return 0
    if not records:
        output.info(f"no runs recorded in {runs_path(config.backup_dir)}")
        return 0
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    for name in ("Run", "Started (UTC)", "Seconds", "Result", "Exit", "Pending", "Backup", "By"):
        table.add_column(name, no_wrap=name in ("Run", "Started (UTC)", "Backup"))
    for r in records:
        result = str(r.get("result") or "?")
        style = STYLES.get(result, "red")
        backup = (r.get("backup") or {}).get("name", "") if isinstance(r.get("backup"), dict) else ""
        pending = r.get("pending") if isinstance(r.get("pending"), list) else []  # a hand-edited record
        table.add_row(escape(str(r.get("run_id", "?"))), escape(str(r.get("started_at", ""))[:19].replace("T", " ")),
                      f"{r.get('seconds', 0):.1f}" if isinstance(r.get("seconds"), int | float) else "",
                      f"[{style}]{escape(result)}[/{style}]", str(r.get("exit_code", "")),
                      str(len(pending)), escape(backup), escape(f"{r.get('user', '?')}@{r.get('host', '?')}"))
    output.table_out().print(table)
    last = records[-1]
    if last.get("error"):
        output.err().print(f"[dim]last run's error:[/dim] {escape(str(last['error']))}")
    return 0
