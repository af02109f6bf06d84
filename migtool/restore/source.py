"""Which backup to restore: a path, a name in the backup folder, `latest`, or a name only in S3
(downloaded and checksummed first: the download lands only when it matches its manifest)."""

from __future__ import annotations

from pathlib import Path

from migtool import output
from migtool.backup import catalog, naming
from migtool.backup.catalog import LocalBackup
from migtool.config import Config
from migtool.errors import CheckFailed, ConfigError


def locate(config: Config, ref: str, from_s3: bool = False, quiet: bool = False,
           database: str | None = None) -> LocalBackup:
    """`database`: what `latest` means, the newest backup of that database (a shared backup folder
    holds other databases' backups too, and restoring one of those over this one is never meant)."""
    local_path = _local_candidate(config.backup_dir, ref)
    if not from_s3 and ref == "latest" and database is not None:
        return latest_of(config.backup_dir, database)
    if not from_s3 and (ref == "latest" or local_path.is_file()):
        return catalog.resolve(config.backup_dir, ref)
    if config.s3 is None:
        if from_s3:
            raise ConfigError("--from-s3 needs an s3 section in migtool.yaml (at least s3.bucket)",
                              hint="add `s3: {bucket: NAME}` to migtool.yaml, or set MIGTOOL_S3_BUCKET")
        raise CheckFailed(f"backup not found: {local_path}", hint="see `migtool backups list` (or --remote)")
    return download(config, ref, quiet)


def latest_of(backup_dir: Path, database: str) -> LocalBackup:
    backups = catalog.scan(backup_dir)
    mine = [b for b in backups if (b.manifest.database == database if b.manifest
                                   else b.name.database == naming.safe_database(database))]
    if mine:
        return mine[0]  # scan sorts newest first
    if backups:
        raise CheckFailed(f"no backups of {database} in {backup_dir}; the newest there is of another database: "
                          f"{backups[0].filename}",
                          hint="name the backup to restore (migtool backups list), or take one: "
                               "migtool backup --reason manual")
    raise CheckFailed(f"no backups in {backup_dir}", hint="take one: migtool backup --reason manual")


def _local_candidate(backup_dir: Path, ref: str) -> Path:
    given = Path(ref)
    return given if (given.parent != Path(".") or given.is_absolute()) else backup_dir / given


def download(config: Config, ref: str, quiet: bool = False) -> LocalBackup:
    from migtool.backup.display import ByteProgress
    from migtool.backup.s3store import S3Store

    store = S3Store(config.s3)
    name = Path(ref).name
    if ref == "latest":
        remote = [r for r in store.list() if r.complete]
        if not remote:
            raise CheckFailed(f"no complete backups in {store.describe()}", hint="migtool backups list --remote")
        name = max(remote, key=lambda r: (naming.parse_name(r.name).created, r.name)).name
    local = config.backup_dir / name
    if local.is_file():  # already downloaded (and checked then); verify runs again before any restore
        return catalog.load(local)
    if not quiet:
        output.info(f"downloading {name} from {store.describe()} (checked against its sha256 before it lands)")
    with ByteProgress("downloading", enabled=not quiet) as bar:
        path = store.download(name, config.backup_dir, progress=bar.advance)
    return catalog.load(path)
