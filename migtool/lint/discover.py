"""Which files `migtool lint PATH...` lints, in apply order, and which migrations ran before them."""

from __future__ import annotations

import os
from pathlib import Path

from migtool.errors import ConfigError

SCRIPT = "migration.sql"


def migration_dirs(folder: Path, before: str | None = None) -> list[Path]:
    """Prisma migration folders (<timestamp>_<name>/migration.sql) in folder, in apply (name) order;
    with `before`, only those whose name sorts before it."""
    with os.scandir(folder) as entries:
        names = sorted(e.name for e in entries if e.is_dir() and (before is None or e.name < before))
    base = str(folder)
    # Plain strings and os.path: a thousand Path objects and stat calls are a visible part of a run.
    isfile, join = os.path.isfile, os.path.join
    return [folder / n for n in names if isfile(join(base, n, SCRIPT))]


def _key(path: Path) -> str:
    return os.path.normpath(os.path.abspath(path))


def files_in(path: Path) -> list[Path]:
    """The migration files a path stands for: a file; a migration folder; a folder of them; a folder of .sql."""
    if not path.exists():
        raise ConfigError(f"path not found: {path}",
                          hint="pass migration files or folders, e.g. migtool lint prisma/migrations")
    if not path.is_dir():
        # A regular file, or a FIFO, /dev/stdin, /dev/null or <(...): read it as one migration.
        return [path]
    if (path / SCRIPT).is_file():
        return [path / SCRIPT]
    dirs = migration_dirs(path)
    if dirs:
        return [d / SCRIPT for d in dirs]
    return sorted(p for p in path.iterdir() if p.suffix == ".sql" and p.is_file())


def expand_paths(paths: list[Path]) -> list[Path]:
    """All files the paths stand for, in the order given, each once."""
    seen: set[str] = set()
    out = []
    for path in paths:
        for f in files_in(path):
            key = _key(f)
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out


def applied_before(files: list[Path]) -> list[Path]:
    """Prisma migrations beside the first file's folder that sort before it: they ran before it.

    Read only for facts (a validated NOT NULL check); only for the Prisma layout, where the order
    is known.
    """
    if not files or files[0].name != SCRIPT:
        return []
    folder = files[0].parent
    earlier = [d / SCRIPT for d in migration_dirs(folder.parent, before=folder.name)]
    if not earlier:
        return []
    linted = {_key(f) for f in files}
    return [p for p in earlier if _key(p) not in linted]
