"""Placing a plan on disk: timestamped Prisma migration folders after the newest existing one, and
PLAN.md beside them. Nothing is overwritten: an existing folder or PLAN.md stops the write before
anything is created."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from migtool.errors import CheckFailed, EnvironmentProblem
from migtool.plan.model import Plan
from migtool.plan.naming import timestamps

PLAN_FILE = "PLAN.md"


def shown(path: Path | str) -> str:
    """A path relative to the current directory when it is under it: shorter commands to copy."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _names(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return [p.name for p in folder.iterdir() if p.is_dir()]


def assign_folders(plan: Plan, migrations_dir: Path, out_dir: Path, now: datetime) -> None:
    """Give every migration its <timestamp>_<name> folder, in order, after all existing ones."""
    existing = _names(migrations_dir) + _names(out_dir)
    stamps = timestamps(len(plan.migrations), existing, now)
    for stamp, m in zip(stamps, plan.migrations, strict=True):
        m.folder = f"{stamp}_{m.name}"


def write_plan(plan: Plan, out_dir: Path, markdown: str) -> list[Path]:
    """Create the folders and PLAN.md; refuse (CheckFailed) if any of them exists."""
    targets = [out_dir / m.folder for m in plan.migrations]
    clashes = [p for p in [*targets, out_dir / PLAN_FILE] if p.exists()]
    if clashes:
        raise CheckFailed(f"{clashes[0]} already exists; nothing was written",
                          hint="choose another folder with --out DIR, or look at the plan first with --dry-run")
    written: list[Path] = []
    created: list[Path] = []
    tmp = out_dir / f".{PLAN_FILE}.tmp{os.getpid()}"
    made_out = [p for p in (out_dir, *out_dir.parents) if not p.exists()]  # folders we create, deepest first
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for m, folder in zip(plan.migrations, targets, strict=True):
            folder.mkdir()
            created.append(folder)
            written.append(folder / "migration.sql")  # before writing: a full disk leaves it half-written
            (folder / "migration.sql").write_text(m.sql, encoding="utf-8")
        tmp.write_text(markdown, encoding="utf-8")
        os.replace(tmp, out_dir / PLAN_FILE)
    except OSError as exc:
        # A full disk or an unwritable --out: take back what we made, so no half plan is left
        # for someone to copy into the migrations folder.
        for path in [tmp, *written, *reversed(created), *made_out]:
            try:
                path.rmdir() if path in created or path in made_out else path.unlink(missing_ok=True)
            except OSError:
                pass
        raise EnvironmentProblem(f"cannot write the plan into {out_dir}: {exc.strerror or exc}; nothing was kept",
                                 hint="choose a writable folder with --out DIR (or free some space), "
                                      "or look at the plan with --dry-run") from None
    written.append(out_dir / PLAN_FILE)
    return written
