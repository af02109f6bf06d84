"""The CLI side of scheduled backups: the options `migtool backup` gains, and what they run."""

from __future__ import annotations

import argparse


def _positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {raw!r}")
    return value


def add_arguments(parser) -> None:
    g = parser.add_argument_group("scheduled backups (a long-lived process, e.g. a compose service)")
    g.add_argument("--schedule", metavar="CRON",
                   help='run a backup on this cron schedule until stopped, e.g. "0 3 * * *" (a 6th field is '
                        "seconds); each is verified and uploaded when s3 is configured, then retention runs (keep_last, keep_days, keep_daily, "
                        "keep_weekly, keep_monthly), notify.heartbeat_url is pinged, and a failure is posted "
                        "to notify.webhook_url")
    g.add_argument("--max-runs", type=_positive, metavar="N", help="with --schedule: stop after N runs")
    g.add_argument("--healthcheck", action="store_true",
                   help="exit 0 when a scheduled backup succeeded within the last 2 periods, else 1 "
                        "(for the compose healthcheck of the backup service)")


def handles(args) -> bool:
    # `--schedule ""` (an unset variable in a compose file) must not fall through to one backup.
    return getattr(args, "schedule", None) is not None or bool(getattr(args, "healthcheck", False))


def run(args, config) -> int:
    from migtool import output
    from migtool.errors import ConfigError

    if args.healthcheck:
        from migtool.schedule.runner import utcnow
        from migtool.schedule.state import health, read

        ok, why = health(read(config.backup_dir), utcnow())
        (output.info if ok else output.error)(("healthy: " if ok else "unhealthy: ") + why)
        return 0 if ok else 1
    upload = args.upload if getattr(args, "upload", None) is not None else config.s3 is not None
    if upload and config.s3 is None:
        raise ConfigError("--upload needs an s3 section in migtool.yaml (at least s3.bucket)",
                          hint="add `s3: {bucket: NAME}` to migtool.yaml, or set MIGTOOL_S3_BUCKET")

    from migtool.backup.dump import BackupRequest
    from migtool.backup.interrupts import signals_raise_interrupt
    from migtool.schedule.cron import parse
    from migtool.schedule.runner import run_forever

    schedule = parse(args.schedule)
    request = BackupRequest(
        backup_dir=config.backup_dir,
        reason=args.reason if args.reason != "manual" else "scheduled",
        format=args.format or config.backup_format,
        compression=args.compression or config.backup_compression,
        target=config.target,
        migrations_dir=config.migrations_dir,
        recipients=config.encryption.recipients if config.encryption else (),
    )

    def say(line: str) -> None:
        output.err().print(line, markup=False, highlight=False)

    try:
        with signals_raise_interrupt():  # docker stop (SIGTERM) ends the loop like Ctrl-C, cleanly
            return run_forever(config, schedule, request, max_runs=args.max_runs, upload=upload, say=say)
    except KeyboardInterrupt:
        say("scheduled backups stopped")
        return 0
