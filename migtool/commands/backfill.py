"""Fill a column on a live table in small keyset batches, each its own short transaction, with
progress kept in the database so a run can be interrupted (Ctrl-C, a crash, SIGKILL) and resumed.

    migtool backfill --table User --set "email_lower = lower(email)" --dry-run
    migtool backfill --table User --set "email_lower = lower(email)" --yes
    migtool backfill --table User --set "email_lower = lower(email)" --resume --yes

The table is walked in primary-key ranges (`WHERE pk > last ORDER BY pk LIMIT n`, never OFFSET)
and in each range only rows matching --where (default: the --set column IS NULL) are updated, so a
re-run touches only what is left. A batch that
waits on a lock longer than --max-lock-wait, or runs longer than --statement-timeout, is rolled
back and retried smaller after a backoff. When application sessions wait on the backfill's locks
it pauses and shrinks its batches; when replicas lag it waits for them.

It runs on a connection of its own: DATABASE_URL with --target direct, or with --target compose
the postgres service's published port and the credentials from the compose file.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from migtool import output
from migtool.errors import CheckFailed, ConfigError, ExitCode


def _batch_size(text: str) -> str | int:
    if text == "auto":
        return text
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number of rows or 'auto'") from None
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def _positive_ms(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected milliseconds (a whole number)") from None
    if n < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return n


def add_arguments(parser) -> None:
    parser.add_argument("--table", required=True, metavar="T",
                        help="table to update: NAME or SCHEMA.NAME, case-sensitive as in Prisma (User)")
    parser.add_argument("--set", dest="set_", required=True, metavar='"COL = EXPR"',
                        help="SQL assignments, e.g. \"email_lower = lower(email)\"")
    parser.add_argument("--where", metavar="COND",
                        help="which rows still need it (default: the first --set column IS NULL)")
    parser.add_argument("--batch-size", type=_batch_size, default="auto", metavar="N|auto",
                        help="rows per batch; auto (default) keeps each batch near 50 ms")
    parser.add_argument("--sleep", type=_positive_ms, default=0, metavar="MS",
                        help="pause between batches (default 0)")
    parser.add_argument("--max-lock-wait", type=_positive_ms, default=200, metavar="MS",
                        help="lock_timeout of each batch; a batch that waits longer is retried (default 200)")
    parser.add_argument("--statement-timeout", type=_positive_ms, default=5000, metavar="MS",
                        help="statement_timeout of each batch; a slower batch is retried smaller (default 5000)")
    parser.add_argument("--max-retries", type=int, default=30, metavar="N",
                        help="give up after N failed attempts of the same batch (default 30; progress is kept)")
    parser.add_argument("--max-replication-lag", type=float, default=10.0, metavar="SEC",
                        help="pause while a replica's replay lag is above this (default 10)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print one batch's SQL, the rows to update and an estimated duration; change nothing")
    again = parser.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue an interrupted run where it stopped")
    again.add_argument("--restart", action="store_true",
                       help="forget an interrupted run's progress and start from the first key")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--json", action="store_true", help="print the plan or the summary as JSON")


class _StopOnSignal:
    """First SIGINT/SIGTERM: finish the current batch, record progress, stop. Second: abort the
    batch (it rolls back; the progress of the batches before it stays)."""

    def __init__(self, quiet: bool):
        self.event = threading.Event()
        self.quiet = quiet
        self._old: dict[int, object] = {}

    def _handle(self, signum, frame):
        if self.event.is_set():
            raise KeyboardInterrupt
        self.event.set()
        if not self.quiet:
            output.warn("stopping after the current batch (press Ctrl-C again to abort it)")

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _command_line(args, extra: str) -> str:
    parts = ["migtool backfill", f"--table {args.table!r}", f"--set {args.set_!r}"]
    if getattr(args, "target", None):  # given on the command line: keep it in the next command
        parts.insert(1, f"--target {args.target}")
    if args.where:
        parts.append(f"--where {args.where!r}")
    return " ".join([*parts, extra])


def run(args, config) -> int:
    from migtool.backfill.catalog import describe_table, rows_to_update
    from migtool.backfill.display import BackfillDisplay
    from migtool.backfill.expressions import parse_set, parse_where
    from migtool.backfill.plan import BatchPlan, check_assignments, default_condition
    from migtool.backfill.progress import ProgressTable
    from migtool.backfill.runner import Backfill, Options, dry_run
    from migtool.backfill.target import backfill_database

    assignments = parse_set(args.set_)
    condition = parse_where(args.where) if args.where is not None else default_condition(assignments)
    if args.max_retries < 0 or args.max_replication_lag <= 0:
        raise ConfigError("--max-retries must be >= 0 and --max-replication-lag > 0")
    options = Options(batch_size=args.batch_size, sleep_ms=args.sleep, max_lock_wait_ms=args.max_lock_wait,
                      statement_timeout_ms=args.statement_timeout, max_retries=args.max_retries,
                      max_replication_lag_s=args.max_replication_lag)
    db = backfill_database(config)

    with db.connect() as conn:
        table = describe_table(conn, args.table)
        problem = check_assignments(table, assignments)
        if problem:
            raise CheckFailed(problem)
        plan = BatchPlan(table, tuple(assignments), condition)
        saved = ProgressTable(plan).load(conn)
        resume = None
        if saved is not None and saved.resumable:
            if args.resume:
                resume = saved
            elif not args.restart:
                how = "did not finish (killed, or still running elsewhere)" if saved.state == "running" else f"stopped ({saved.state})"
                raise CheckFailed(
                    f"an earlier backfill of this job {how} after key {saved.last_key}, "
                    f"{saved.rows_done:,} rows done, started {saved.started_at:%Y-%m-%d %H:%M:%S} UTC",
                    hint=_command_line(args, "--resume") + "   (or --restart to start from the first key)")
        elif args.resume and not args.dry_run and not args.json:
            output.info("nothing to resume for this job: starting from the first key")
        total = None if args.dry_run else rows_to_update(conn, plan)

    if args.dry_run:
        report = dry_run(db.connect, plan, options, resume)
        if args.json:
            output.print_json(report)
        else:
            _print_plan(report)
        return ExitCode.OK

    rows, exact = total
    if not args.yes:
        what = f"{'' if exact else 'about '}{rows:,} rows of {table.qualified} where {condition}"
        if not sys.stdin.isatty():
            raise CheckFailed(f"backfill would update {what}; not asking without a terminal",
                              hint=_command_line(args, "--yes"))
        answer = input(f"update {what}? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            output.info("nothing changed")
            return ExitCode.FAILED
    if resume is not None and not args.json:
        output.info(f"resuming after key {resume.last_key} ({resume.rows_done:,} rows done, "
                    f"started {resume.started_at:%Y-%m-%d %H:%M:%S} UTC)")

    runner = Backfill(db.connect, plan, options)
    with _StopOnSignal(quiet=args.json) as stop, BackfillDisplay(table.qualified, rows, quiet=args.json) as shown:
        summary = runner.execute(resume=resume, stop=stop.event, on_batch=shown.update)

    if args.json:
        output.print_json(summary.to_dict())
    if summary.state == "interrupted":
        output.warn(f"interrupted: progress recorded after key {summary.last_key or (resume and resume.last_key)} "
                    f"({summary.rows_done_total:,} rows done in all)")
        output.info(f"next: {_command_line(args, '--resume --yes')}")
        return ExitCode.INTERRUPTED
    if not args.json:
        output.out().print(
            f"backfill done: {summary.rows_updated:,} rows updated in {summary.batches} batches, "
            f"{summary.seconds:.1f} s ({summary.rows_per_second:,.0f} rows/s), {summary.retries} retries, "
            f"{summary.pauses} pauses", markup=False, highlight=False)
    if summary.remaining:
        output.warn(f"{summary.remaining:,} rows still match {condition}: written behind the walk meanwhile, "
                    "or the expression gives NULL for them; run again to update them")
    return ExitCode.OK


def _print_plan(report: dict) -> None:
    console = output.out()
    approx = "" if report["rows_exact"] else "about "
    console.print(f"table:      {report['table']} (key: {', '.join(report['key'])})", markup=False)
    console.print(f"condition:  {report['condition']}", markup=False)
    console.print(f"rows:       {approx}{report['rows_to_update']:,} to update "
                  f"({'counted' if report['rows_exact'] else 'planner estimate'})", markup=False)
    console.print(f"batch size: {report['batch_size']}", markup=False)
    sample = report["sample_batch"]
    if sample["error"]:
        console.print(f"sample:     the sample batch could not run: {sample['error']}", markup=False)
    else:
        console.print(f"sample:     one batch of {sample['keys']} keys updated {sample['rows']} rows in "
                      f"{sample['seconds'] * 1000:.0f} ms (rolled back)", markup=False)
    est = report["estimated_seconds"]
    console.print(f"estimate:   {'?' if est is None else f'{est:,.1f} s'} for about {report['table_rows']:,} keys",
                  markup=False)
    if report["resume_from"]:
        console.print(f"resumes after key {report['resume_from']}", markup=False)
    console.print("one batch:", markup=False)
    console.print(report["batch_sql"], markup=False, highlight=False)
