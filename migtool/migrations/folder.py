"""Read a Prisma migrations folder: `<timestamp>_<name>/migration.sql` and `migration_lock.toml`.

Like Prisma 6, every sub-directory (not symlink, not file) is a migration, so a folder without a
readable migration.sql is reported instead of skipped: `prisma migrate deploy` would trip on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from migtool.errors import ConfigError
from migtool.migrations.state import LocalMigration

SCRIPT_NAME = "migration.sql"
LOCK_FILE_NAME = "migration_lock.toml"
EXPECTED_PROVIDER = "postgresql"
MISSING_DIR_HINT = "pass --migrations-dir DIR or set migrations_dir in migtool.yaml (e.g. prisma/migrations)"


@dataclass(frozen=True)
class MigrationsFolder:
    path: Path
    migrations: tuple[LocalMigration, ...]
    problems: tuple[str, ...]


def lock_file_provider(text: str) -> str:
    """The provider named in migration_lock.toml, read the way Prisma reads it (first `provider` line)."""
    for line in text.splitlines():
        if line.startswith("provider"):
            value = line.split("=", 1)[1] if "=" in line else ""
            return value.strip().strip('"').strip("'")
    return ""


def _read_script(folder: Path) -> tuple[bytes | None, str | None]:
    script = folder / SCRIPT_NAME
    try:
        return script.read_bytes(), None
    except FileNotFoundError:
        return None, f"no {SCRIPT_NAME} in this folder: Prisma fails on it; add the script or remove the folder"
    except IsADirectoryError:
        return None, f"{SCRIPT_NAME} is a directory, not a file"
    except OSError as exc:
        return None, f"cannot read {SCRIPT_NAME}: {exc.strerror}"


def read_migrations_folder(path: Path) -> MigrationsFolder:
    """Every migration folder, sorted by name (Prisma's apply order), plus folder-wide problems."""
    if not path.exists():
        raise ConfigError(f"migrations folder not found: {path}", hint=MISSING_DIR_HINT)
    if not path.is_dir():
        raise ConfigError(f"migrations folder is not a directory: {path}", hint=MISSING_DIR_HINT)
    try:
        entries = sorted(path.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise ConfigError(f"cannot list migrations folder {path}: {exc.strerror}",
                          hint="check the folder's permissions") from None

    migrations = []
    for entry in entries:
        if entry.is_symlink() or not entry.is_dir():
            continue
        script, problem = _read_script(entry)
        migrations.append(LocalMigration(entry.name, entry, script, problem))

    problems = []
    lock = path / LOCK_FILE_NAME
    if lock.is_file():
        try:
            provider = lock_file_provider(lock.read_text(encoding="utf-8", errors="replace"))
        except OSError as exc:
            problems.append(f"cannot read {lock}: {exc.strerror}")
        else:
            if provider != EXPECTED_PROVIDER:
                shown = provider or "no provider"
                problems.append(f"{lock} names {shown}, not {EXPECTED_PROVIDER}: "
                                "prisma migrate deploy refuses to run these migrations against PostgreSQL")
    return MigrationsFolder(path, tuple(migrations), tuple(problems))
