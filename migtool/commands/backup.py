"""Take a compressed, checksummed backup with a manifest, written atomically to the backup folder.

pg_dump runs where the configured target says (inside the compose postgres service, or locally
with DATABASE_URL); we compress on both cores while streaming and hash the result. The file
appears only when it is whole; a failure or Ctrl-C leaves nothing behind. With S3 configured
(or --upload) the backup is then uploaded too.
"""

from __future__ import annotations

from migtool import output
from migtool.backup.naming import COMPRESSIONS, FORMATS
from migtool.errors import ConfigError, EnvironmentProblem


def add_arguments(parser) -> None:
    parser.add_argument("--reason", default="manual", metavar="TEXT",
                        help="why this backup exists; goes into its name and manifest (default: manual)")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="custom (pg_restore, parallel restore; the default) or sql (plain SQL for psql)")
    parser.add_argument("--compression", choices=COMPRESSIONS, default=None,
                        help="zstd (default: fast, multithreaded) or gzip (pigz when installed)")
    up = parser.add_mutually_exclusive_group()
    up.add_argument("--upload", dest="upload", action="store_true", default=None,
                    help="upload to S3 afterwards (the default when s3 is configured)")
    up.add_argument("--no-upload", dest="upload", action="store_false",
                    help="do not upload even though s3 is configured")
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON")
    # --schedule / --healthcheck (issue 15): migtool/schedule/command.py
    from migtool.schedule import command as schedule_command

    schedule_command.add_arguments(parser)


def run(args, config) -> int:
    from migtool.schedule import command as schedule_command  # issue 15: scheduled backups

    if schedule_command.handles(args):
        return schedule_command.run(args, config)
    from migtool.backup.catalog import load
    from migtool.backup.display import ByteProgress, human_bytes
    from migtool.backup.dump import BackupRequest, create_backup
    from migtool.database import open_database

    upload = args.upload if args.upload is not None else config.s3 is not None
    if upload and config.s3 is None:
        raise ConfigError("--upload needs an s3 section in migtool.yaml (at least s3.bucket)",
                          hint="add `s3: {bucket: NAME}` to migtool.yaml, or set MIGTOOL_S3_BUCKET")
    request = BackupRequest(
        backup_dir=config.backup_dir,
        reason=args.reason,
        format=args.format or config.backup_format,
        compression=args.compression or config.backup_compression,
        target=config.target,
        migrations_dir=config.migrations_dir,
        recipients=config.encryption.recipients if config.encryption else (),
    )
    db = open_database(config)
    if not args.json:
        encrypted = f", encrypted for {len(request.recipients)} age recipient(s)" if request.recipients else ""
        output.info(f"backing up {db.describe()} ({request.format}, {request.compression}{encrypted}) "
                    f"into {config.backup_dir}")
    with ByteProgress("dumping") as bar:
        def show(p):
            if p.phase == "dumping":
                bar.update(p.dumped, f"({human_bytes(p.written)} written)")

        result = create_backup(db, request, progress=show)
    m = result.manifest
    summary = (f"backup written: {result.path} ({human_bytes(m.size)}, sha256 {m.sha256}, "
               f"{m.duration_seconds:.1f} s)")
    uploaded = None
    if upload:
        from migtool.backup.s3store import S3Store

        store = S3Store(config.s3)
        if not args.json:
            output.out().print(summary, markup=False, highlight=False)
        try:
            with ByteProgress("uploading", total=m.size) as bar:
                uploaded = store.upload(load(result.path), progress=bar.advance)
        except EnvironmentProblem as exc:
            raise EnvironmentProblem(f"the backup is safe locally at {result.path}, but {exc.message}",
                                     hint=f"migtool backups upload {result.path.name}") from None
        if not args.json:
            output.out().print(f"uploaded: s3://{uploaded['bucket']}/{uploaded['key']}", markup=False)
    elif not args.json:
        output.out().print(summary, markup=False, highlight=False)
    if args.json:
        output.print_json({**m.to_dict(), "path": str(result.path), "upload": uploaded})
    return 0
