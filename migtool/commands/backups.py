"""List, verify, prune, upload and download backups.

  migtool backups list [--remote] [--json]          newest first, with size, age, reason, verified
  migtool backups verify NAME [--restore-test]       is it whole? (NAME may be `latest`)
  migtool backups prune [--dry-run|--yes] [--failed] apply keep_last / keep_days
  migtool backups upload NAME / download NAME       S3 (see the s3 section of migtool.yaml)

verify exits 1 when the backup is bad (truncated, corrupt, wrong checksum, missing manifest), and 3
when it could not check (docker or the database down, no scratch database, no disk space): then
the previous verdict stays as it was. An encrypted backup (.age) is decrypted with --identity FILE
or $MIGTOOL_AGE_IDENTITY (exit 2 without one; exit 1, nothing recorded, for a key that is not one of
its recipients); --no-identity checks only the encrypted file (checksum, size, age header).

prune shows what it will delete, then asks on a terminal; scripts pass --yes (without a terminal
and without --yes it refuses, exit 1). --dry-run only shows. Failed backups never count toward
keep_last and are kept until `--failed`; pinned backups and the newest verified one are never deleted.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.markup import escape
from rich.table import Table

from migtool import output
from migtool.errors import ConfigError, EnvironmentProblem, ExitCode, MigtoolError


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
    key = p.add_mutually_exclusive_group()
    key.add_argument("--identity", metavar="FILE",
                     help="age private key file for an encrypted backup (default: $MIGTOOL_AGE_IDENTITY)")
    key.add_argument("--no-identity", action="store_true",
                     help="encrypted backup: check only the encrypted file, not the dump inside")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = sub.add_parser("prune", parents=[common], help="delete backups beyond keep_last/keep_days")
    p.add_argument("--dry-run", action="store_true", help="only show what would be deleted")
    p.add_argument("--yes", "-y", action="store_true", help="delete without asking (for scripts and cron)")
    p.add_argument("--failed", action="store_true",
                   help="also delete backups whose verification failed (never counted as kept ones)")
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


def _verified_cell(b) -> str:
    cell = {True: "[green]✔ yes[/green]", False: "[red]✘ FAILED[/red]", None: "[dim]not yet[/dim]"}[b.verified_ok]
    if b.could_not_check:
        cell += " [yellow](last check could not run)[/yellow]"
    return cell


def _verification_json(b) -> dict:
    attempt = b.could_not_check
    return {"verified": b.verified_ok, "verified_at": b.verified_at, "pinned": b.pinned,
            "last_check_could_not_run": attempt.get("why") if attempt else None}


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
            **_verification_json(b),
            "problem": b.manifest_problem,
        } for b in backups])
        return 0
    if not backups:
        output.info(f"no backups in {config.backup_dir} (take one: migtool backup --reason manual)")
    else:
        table = _listing(config.backup_dir, ("name", "size", "age", "reason", "verified", "pinned"))
        for b in backups:
            reason = escape(b.reason) if b.manifest else f"[red]{escape(b.manifest_problem or '')}[/red]"
            table.add_row(escape(b.filename), human_bytes(b.size), _age(b.created, now), reason,
                          _verified_cell(b), "[cyan]pinned[/cyan]" if b.pinned else "")
        output.table_out().print(table)
    _warn_leftover_files(config)
    return 0


def _warn_leftover_files(config) -> None:
    from migtool.backup.leftovers import stale_partials

    stale = stale_partials(config.backup_dir)
    if stale:
        output.warn(f"{len(stale)} file(s) left over by interrupted runs in {config.backup_dir}: "
                    + ", ".join(p.name for p in stale[:5]) + (" ..." if len(stale) > 5 else ""))
        output.err().print("[dim]next:[/dim] migtool backups prune --dry-run   (then --yes to remove them)")


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
    from migtool.backup.verify import CouldNotCheck, record_outage, verify_backup
    from migtool.encryption.payload import require_identity

    backup = catalog.resolve(config.backup_dir, args.name)
    identity = None
    if not args.no_identity:
        identity = require_identity(backup.path, args.identity or config.age_identity)
    elif args.restore_test:
        raise ConfigError("--restore-test needs the identity to decrypt the backup", hint="drop --no-identity")
    try:
        try:
            db = _tool_database(config, needed=args.restore_test or backup.name.format == "custom")
        except EnvironmentProblem as exc:  # e.g. docker not installed: no check could start
            record_outage(backup, exc.message)
            raise CouldNotCheck(f"could not check: {exc.message}", hint=exc.hint) from None
        if args.restore_test and db is None:
            raise ConfigError("a restore test needs the database: set DATABASE_URL or use the compose target")
        with ByteProgress("verifying", total=backup.size, enabled=not args.json) as bar:
            report = verify_backup(backup, db, restore_test=args.restore_test,
                                   progress=lambda done, total: bar.update(done), identity=identity)
    except CouldNotCheck as exc:
        previous = {True: "passed", False: "failed", None: "none"}[backup.verified_ok]
        if args.json:
            output.print_json({"name": backup.filename, "ok": None, "verdict": None, "could_not_check": exc.message,
                               "previous_verdict": previous})
        raise CouldNotCheck(f"{backup.filename}: {exc.message} (no verdict: the previous one, {previous}, "
                            "stays)", hint=exc.hint) from None
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


def _prune_plan(config, prune_failed: bool, now: datetime):
    from migtool.backup import catalog, retention

    backups = catalog.scan(config.backup_dir)
    candidates = [retention.Candidate(b.filename, b.manifest.database, b.created, b.verified_ok is True,
                                      failed=b.failed, pinned=b.pinned)
                  for b in backups if b.manifest is not None]
    decisions = retention.plan(candidates, config.keep_last, config.keep_days, now, prune_failed=prune_failed)
    # The same keeps as scheduled backups (keep_daily/weekly/monthly): a manual prune must not
    # delete what the scheduler's retention keeps.
    from migtool.schedule import gfs

    decisions = gfs.apply(decisions, candidates, getattr(config, "keep_daily", 0), getattr(config, "keep_weekly", 0),
                          getattr(config, "keep_monthly", 0))
    untouched = [b.filename for b in backups if b.manifest is None]
    return {b.filename: b for b in backups}, decisions, untouched


def _scratch_leftovers(config):
    """(database, stale scratch databases, why we could not look). Never fails the prune."""
    from migtool.backup.leftovers import stale_scratch_databases
    from migtool.database import open_database

    try:
        db = open_database(config)
    except ConfigError:
        return None, [], None  # no database configured here: nothing of ours to look for
    except MigtoolError as exc:
        return None, [], exc.message
    try:
        return db, stale_scratch_databases(db), None
    except MigtoolError as exc:
        return None, [], exc.message


def _confirm(n: int) -> None:
    import sys

    if not sys.stdin.isatty():
        raise MigtoolError(f"refusing to delete {n} item(s) without confirmation: there is no terminal to ask",
                           hint="migtool backups prune --yes   (or --dry-run to only look)")
    output.err().print(f"delete these {n} item(s)? [y/N] ", end="")
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise MigtoolError("nothing deleted (not confirmed)", hint="migtool backups prune --yes")


def _prune(args, config) -> int:
    import os

    from migtool.backup import retention
    from migtool.backup.files import fsync_dir, remove_quietly
    from migtool.backup.leftovers import drop_scratch, stale_partials

    now = datetime.now(UTC)
    by_name, decisions, untouched = _prune_plan(config, args.failed, now)
    doomed = retention.to_delete(decisions)
    stale = stale_partials(config.backup_dir, now)
    scratch_db, scratch, scratch_problem = _scratch_leftovers(config)
    n = len(doomed) + len(stale) + len(scratch)

    if not args.json:
        console = output.out()
        verb = "would delete" if args.dry_run else "delete"
        for d in decisions:
            if d.keep:
                console.print(f"[green]keep[/green]   {escape(d.name)} [dim]({escape(d.why)})[/dim]")
            else:
                console.print(f"[red]{verb}[/red] {escape(d.name)} [dim]({escape(d.why)})[/dim]")
        for name in untouched:
            console.print(f"[yellow]skip[/yellow]   {escape(name)} [dim](no usable manifest: left alone)[/dim]")
        for p in stale:
            console.print(f"[red]{verb}[/red] {escape(p.name)} [dim](left over by an interrupted run)[/dim]")
        for sdb in scratch:
            console.print(f"[red]{'would drop' if args.dry_run else 'drop'}[/red] database {escape(sdb.name)} "
                          f"[dim](scratch database left over by a restore test)[/dim]")
        if scratch_problem:
            output.warn(f"could not look for left-over scratch databases: {scratch_problem}")
    if n and not args.dry_run and not args.yes:
        _confirm(n)

    deleted: list[str] = []
    dropped: list[str] = []
    if n and not args.dry_run:
        for d in doomed:
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
        for sdb in scratch:
            drop_scratch(scratch_db, sdb.name)
            dropped.append(sdb.name)
        if (deleted or stale) and os.path.isdir(config.backup_dir):
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
            "scratch_databases": [s.name for s in scratch],
            "scratch_databases_dropped": dropped,
            "scratch_databases_problem": scratch_problem,
        })
        return 0
    kept = sum(1 for d in decisions if d.keep)
    if args.dry_run:
        done = "to delete (dry run: nothing was deleted)"
    else:
        done = "deleted"
    output.out().print(f"{len(doomed)} backup(s) {done}, {kept} kept "
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
