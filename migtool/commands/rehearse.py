"""Prove a migration safe by running it: on a throwaway copy of production restored from a backup,
with the old code under load while it migrates, then the new code, then a rollback drill.

Needs the compose target and a request scenario in migtool.yaml (`rehearse.requests`). Production's
server does no work (beyond `--backup fresh`); everything the rehearsal starts is removed at the end,
also after a failure or Ctrl-C. Exit 0 when every checked question is answered yes, 1 otherwise.
"""

from __future__ import annotations

from pathlib import Path


def _positive(raw: str) -> float:
    import argparse

    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {raw!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {raw!r}")
    return value


def add_arguments(parser) -> None:
    parser.add_argument("--backup", default="latest", metavar="NAME|latest|fresh",
                        help="the backup to rehearse on (default: the latest verified one; fresh takes one)")
    parser.add_argument("--duration", type=_positive, default=10.0, metavar="S",
                        help="seconds of traffic after migrating, and for the new code (default 10)")
    parser.add_argument("--rate", type=_positive, default=20.0, metavar="N",
                        help="requests per second (default 20)")
    parser.add_argument("--new-image", metavar="IMAGE",
                        help="the new release's image (default: the migrate service's image)")
    parser.add_argument("--check-new-on-old", action="store_true",
                        help="also run the new code against the old schema before migrating")
    parser.add_argument("--report", type=Path, metavar="FILE", help="write the markdown report here")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args, config) -> int:
    from migtool import output
    from migtool.backup.files import write_atomic
    from migtool.rehearse.pipeline import Options, rehearse
    from migtool.rehearse.report import to_markdown
    from migtool.steps import StepRunner

    options = Options(backup=args.backup, duration=args.duration, rate=args.rate, new_image=args.new_image,
                      check_new_on_old=args.check_new_on_old)
    with StepRunner("rehearse", backup_dir=config.backup_dir) as run:
        report = rehearse(config, options, run)
        run.finish("passed" if report["passed"] else "failed", 0 if report["passed"] else 1)
    markdown = to_markdown(report)
    if args.report:
        write_atomic(args.report, markdown.encode())
    if args.json:
        output.print_json({**report, "run_id": run.run_id})
    else:
        output.out().print(markdown, markup=False, highlight=False)
    return run.exit_code
