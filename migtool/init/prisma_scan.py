"""Find the Prisma migrations folder: prisma.config.ts first, then package.json, then schema.prisma."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from migtool.init.guess import Guess

SKIP_DIRS = {"node_modules", ".git", ".venv", "venv", "dist", "build", ".next", "__pycache__", "backups"}
MAX_DEPTH = 4

_MIGRATIONS_PATH = re.compile(r"migrations\s*:\s*\{[^}]*?\bpath\s*:\s*[\"'`]([^\"'`]+)[\"'`]", re.S)
_SCHEMA_PATH = re.compile(r"\bschema\s*:\s*[\"'`]([^\"'`]+)[\"'`]")
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)


def walk(root: Path, names: set[str]) -> list[Path]:
    """Files with one of `names` under root, shallow first, skipping dependency and build folders."""
    found: list[Path] = []
    root_depth = len(root.parts)
    for dirpath, dirnames, filenames in os.walk(root):
        depth = len(Path(dirpath).parts) - root_depth
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")
                             and depth < MAX_DEPTH)
        found.extend(Path(dirpath) / f for f in sorted(filenames) if f in names)
    return sorted(found, key=lambda p: (len(p.parts), str(p)))


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _from_schema(schema: Path) -> Path:
    # A multi-file schema is a folder (prisma/schema/*.prisma); migrations sit inside it.
    return (schema if schema.is_dir() else schema.parent) / "migrations"


def package_scripts(root: Path) -> dict[str, str]:
    """Scripts of every package.json in the project (name -> command), for commands like `pnpm db:migrate`."""
    scripts: dict[str, str] = {}
    for path in walk(root, {"package.json"}):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        found = data.get("scripts") if isinstance(data, dict) else None
        if not isinstance(found, dict):  # not npm's shape: no scripts to learn from
            continue
        for name, command in found.items():
            scripts.setdefault(str(name), str(command))
    return scripts


def find_migrations_dir(root: Path) -> Guess:
    candidates: list[tuple[Path, str]] = []
    for config in walk(root, {"prisma.config.ts", "prisma.config.mts", "prisma.config.js"}):
        text = _COMMENT.sub("", config.read_text(encoding="utf-8", errors="replace"))
        if m := _MIGRATIONS_PATH.search(text):
            candidates.append((config.parent / m.group(1), f"{_rel(config, root)} sets migrations.path"))
        elif m := _SCHEMA_PATH.search(text):
            candidates.append((_from_schema(config.parent / m.group(1)),
                               f"{_rel(config, root)} sets schema: {m.group(1)}; migrations live beside it"))
    for pkg in walk(root, {"package.json"}):
        try:
            schema = (json.loads(pkg.read_text(encoding="utf-8")).get("prisma") or {}).get("schema")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(schema, str):
            candidates.append((_from_schema(pkg.parent / schema), f"{_rel(pkg, root)} sets prisma.schema"))
    for schema in walk(root, {"schema.prisma"}):
        candidates.append((_from_schema(schema), f"found {_rel(schema, root)}; migrations live beside it"))

    existing = [(p, why) for p, why in candidates if p.is_dir()]
    if existing:
        path, why = existing[0]
        others = tuple(f"also found {_rel(p, root)}" for p, _ in existing[1:] if p.resolve() != path.resolve())
        return Guess(path, why, notes=others)
    if candidates:
        path, why = candidates[0]
        return Guess(path, f"{why} (the folder does not exist yet: `prisma migrate dev` creates it)", sure=False)
    for folder in walk(root, {"migration_lock.toml"}):
        return Guess(folder.parent, f"found {_rel(folder, root)}")
    return Guess(root / "prisma" / "migrations", "no Prisma schema found: Prisma's default location", sure=False)
