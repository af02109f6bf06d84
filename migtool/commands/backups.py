"""List, verify, prune, upload and download backups.

  migtool backups list [--remote] [--json]          newest first, with size, age, reason, verified
  migtool backups verify NAME [--restore-test]       is it whole? (NAME may be `latest`)
  migtool backups prune [--dry-run]                 apply keep_last / keep_days
  migtool backups upload NAME / download NAME       S3 (see the s3 section of migtool.yaml)

verify exits 1 when the backup is bad (truncated, corrupt, wrong checksum, missing manifest).
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.markup import escape
from rich.table import Table

from migtool import output
from migtool.errors import ConfigError, EnvironmentProblem, ExitCode, MigtoolError

STALE_PARTIAL_SECONDS = 24 * 3600


def add_arguments(parser) -> None:
    from migtool.cli import _common_options  # the same --config/--target/... after the action too

    common = _common_options()
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    p = sub.add_parser("list", parents=[common], help="our backups, newest first")
    p.add_argument("--remote", action="store_true", help="list the backups in S3 instead")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = sub.add_parser("verify", parents=[common], help="check a backup is whole (exit 1 if not)")
    p.add_argument("name", metavar="NAME", help="backup file name, path, or `latest`")
    p.add_argument("--restore-test", action="store_true",
                   help="also restore into a scratch database on the same server and compare row counts")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = sub.add_parser("prune", parents=[common], help="delete backups beyond keep_last/keep_days")
    p.add_argument("--dry-run", action="store_true", help="only show what would be deleted")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = sub.add_parser("upload", parents=[common], help="upload a backup to S3")
    p.add_argument("name", metavar="NAME", help="backup file name, path, or `latest`")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = sub.add_parser("download", parents=[common], help="download a backup from S3 into the backup folder")
    p.add_argument("name", metavar="NAME", help="backup file name as listed by `backups list --remote`")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def run(args, config) -> int:
    action = getattr(args, "action", None)
    if action is None:
        raise MigtoolError("say what to do: list, verify, prune, upload or download",
                           hint="migtool backups list", exit_code=ExitCode.USAGE)
    return {"list": _list, "verify": _verify, "prune": _prune, "upload": _upload,
            "download": _download}[action](args, config)


# ---------------------------------------------------------------- list


def _age(then: datetime, now: datetime) -> str:
    seconds = max((now - then).total_seconds(), 0)
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"


def _verified_cell(ok: bool | None) -> str:
    return {True: "[green]✔ yes[/green]", False: "[red]✘ FAILED[/red]", None: "[dim]not yet[/dim]"}[ok]


def _listing(where: object, columns: tuple[str, ...]) -> Table:
    """An empty table of backups in one place; size and age are right-aligned so they line up."""
    table = Table(title=f"backups in {where}", title_justify="left")
    for col in columns:
        table.add_column(col, justify="right" if col in ("size", "age") else "left")
    return table


def _list(args, config) -> int:
    from migtool.backup import catalog
    from migtool.backup.display import human_bytes

    now = datetime.now(UTC)
    if args.remote:
        return _list_remote(args, config, now)
    backups = catalog.scan(config.backup_dir)
    if args.json:
        output.print_json([{
            "name": b.filename,
            "path": str(b.path),
            "database": b.manifest.database if b.manifest else b.name.database,
            "format": b.name.format,
            "compression": b.name.compression,
            "size": b.size,
            "created": b.created.isoformat().replace("+00:00", "Z"),
            "age_seconds": round((now - b.created).total_seconds()),
            "reason": b.reason,
            "sha256": b.manifest.sha256 if b.manifest else None,
            "verified": b.verified_ok,
            "verified_at": b.verified_at,
            "problem": b.manifest_problem,
        } for b in backups])
        return 0
    if not backups:
        output.info(f"no backups in {config.backup_dir} (take one: migtool backup --reason manual)")
        return 0
    table = _listing(config.backup_dir, ("name", "size", "age", "reason", "verified"))
    for b in backups:
        reason = escape(b.reason) if b.manifest else f"[red]{escape(b.manifest_problem or '')}[/red]"
        table.add_row(escape(b.filename), human_bytes(b.size), _age(b.created, now), reason,
                      _verified_cell(b.verified_ok))
    output.table_out().print(table)
    return 0


def _list_remote(args, config, now: datetime) -> int:
    from migtool.backup.display import human_bytes

    store = _store(config)
    remote = store.list()
    local = {p.name for p in config.backup_dir.iterdir()} if config.backup_dir.is_dir() else set()
    if args.json:
        output.print_json([{
            "name": r.name, "size": r.size, "last_modified": r.last_modified.isoformat(),
            "complete": r.complete, "local": r.name in local,
        } for r in remote])
        return 0
    if not remote:
        output.info(f"no backups in {store.describe()}")
        return 0
    table = _listing(store.describe(), ("name", "size", "age", "complete", "local copy"))
    for r in remote:
        table.add_row(escape(r.name), human_bytes(r.size), _age(r.last_modified, now),
                      "[green]yes[/green]" if r.complete else "[red]no (manifest missing)[/red]",
                      "yes" if r.name in local else "-")
    output.table_out().print(table)
    return 0


# ---------------------------------------------------------------- verify


def _tool_database(config, needed: bool):
    """The database whose pg tools read custom archives (and that hosts a restore test)."""
    from migtool.database import open_database

    if not needed:
        return None
    try:
        return open_database(config)
    except ConfigError:
        if config.target == "direct":
            return None  # no DATABASE_URL: local pg_restore can still read the archive
        raise


def _verify(args, config) -> int:
    from migtool.backup import catalog
    from migtool.backup.display import ByteProgress
    from migtool.backup.verify import verify_backup

    backup = catalog.resolve(config.backup_dir, args.name)
    db = _tool_database(config, needed=args.restore_test or backup.name.format == "custom")
    if args.restore_test and db is None:
        raise ConfigError("a restore test needs the database: set DATABASE_URL or use the compose target")
    with ByteProgress("verifying", total=backup.size, enabled=not args.json) as bar:
        report = verify_backup(backup, db, restore_test=args.restore_test,
                               progress=lambda done, total: bar.update(done))
    if args.json:
        output.print_json(report.to_dict())
    else:
        console = output.out()
        console.print(f"[bold]{escape(backup.filename)}[/bold]")
        for c in report.checks:
            mark = "[green]✔[/green]" if c.ok else "[red]✘[/red]"
            console.print(f"{mark} {escape(c.name)} [dim]({escape(c.detail)})[/dim]")
        for w in report.warnings:
            output.warn(w)
        if report.ok:
            console.print(f"[green]backup is whole[/green] (checked in {report.seconds:.1f} s)")
    if not report.ok:
        if not args.json:
            output.error(f"{backup.filename} is bad: " + "; ".join(report.problems),
                         "use another backup (migtool backups list) and take a fresh one")
        return ExitCode.FAILED
    return 0


# ---------------------------------------------------------------- prune


def _prune(args, config) -> int:
    import os

    from migtool.backup import catalog, retention
    from migtool.backup.files import remove_quietly

    now = datetime.now(UTC)
    backups = catalog.scan(config.backup_dir)
    by_name = {b.filename: b for b in backups}
    candidates = [retention.Candidate(b.filename, b.manifest.database, b.created, b.verified_ok is True)
                  for b in backups if b.manifest is not None]
    decisions = retention.plan(candidates, config.keep_last, config.keep_days, now)
    untouched = [b.filename for b in backups if b.manifest is None]
    stale = [p for p in catalog.stale_partials(config.backup_dir)
             if now.timestamp() - p.stat().st_mtime > STALE_PARTIAL_SECONDS]
    deleted: list[str] = []
    if not args.dry_run:
        for d in decisions:
            if d.keep:
                continue
            b = by_name[d.name]
            try:
                remove_quietly(b.path)  # the dump first: never a dump without its manifest
                for side in b.side_paths():
                    remove_quietly(side)
            except OSError as exc:
                raise EnvironmentProblem(f"cannot delete {exc.filename or d.name}: {exc.strerror}",
                                         hint="check the permissions of the backup folder") from None
            deleted.append(d.name)
        for p in stale:
            try:
                remove_quietly(p)
            except OSError as exc:
                raise EnvironmentProblem(f"cannot delete {p}: {exc.strerror}",
                                         hint="check the permissions of the backup folder") from None
        if deleted or stale:
            from migtool.backup.files import fsync_dir

            if os.path.isdir(config.backup_dir):
                fsync_dir(config.backup_dir)
    if args.json:
        output.print_json({
            "dry_run": args.dry_run,
            "keep_last": config.keep_last,
            "keep_days": config.keep_days,
            "decisions": [{"name": d.name, "database": d.database, "keep": d.keep, "why": d.why}
                          for d in decisions],
            "deleted": deleted,
            "skipped_without_manifest": untouched,
            "stale_partials": [p.name for p in stale],
        })
        return 0
    console = output.out()
    verb = "would delete" if args.dry_run else "deleted"
    for d in decisions:
        if d.keep:
            console.print(f"[green]keep[/green]   {escape(d.name)} [dim]({escape(d.why)})[/dim]")
        else:
            console.print(f"[red]{verb}[/red] {escape(d.name)} [dim]({escape(d.why)})[/dim]")
    for name in untouched:
        console.print(f"[yellow]skip[/yellow]   {escape(name)} [dim](no usable manifest: left alone)[/dim]")
    for p in stale:
        console.print(f"[red]{verb}[/red] {escape(p.name)} [dim](left over by an interrupted run)[/dim]")
    n = sum(1 for d in decisions if not d.keep)
    done = "to delete (dry run: nothing was deleted)" if args.dry_run else "deleted"
    console.print(f"{n} backup(s) {done}, {sum(1 for d in decisions if d.keep)} kept "
                  f"(keep_last={config.keep_last}, keep_days={config.keep_days})")
    return 0


# ---------------------------------------------------------------- S3


def _store(config):
    from migtool.backup.s3store import S3Store

    if config.s3 is None:
        raise ConfigError("S3 is not configured", hint="add `s3: {bucket: NAME}` to migtool.yaml "
                                                       "(or set MIGTOOL_S3_BUCKET)")
    return S3Store(config.s3)


def _upload(args, config) -> int:
    from migtool.backup import catalog
    from migtool.backup.display import ByteProgress

    backup = catalog.resolve(config.backup_dir, args.name)
    store = _store(config)
    with ByteProgress("uploading", total=backup.size, enabled=not args.json) as bar:
        result = store.upload(backup, progress=bar.advance)
    if args.json:
        output.print_json(result)
    else:
        output.out().print(f"uploaded: s3://{result['bucket']}/{result['key']} ({result['size']} bytes, "
                           f"sha256 checked)", markup=False)
    return 0


def _download(args, config) -> int:
    from migtool.backup.display import ByteProgress

    store = _store(config)
    with ByteProgress("downloading", enabled=not args.json) as bar:
        path = store.download(args.name, config.backup_dir, progress=bar.advance)
    if args.json:
        output.print_json({"name": path.name, "path": str(path)})
    else:
        output.out().print(f"downloaded and checked: {path}", markup=False)
    return 0
