"""The example app's Prisma migrations as the project in the current directory, for CLI tests that
call `migtool.cli.main` in-process."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

EXAMPLE_MIGRATIONS = Path(__file__).resolve().parents[2] / "examples" / "prisma-app" / "prisma" / "migrations"


def clear_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """No MIGTOOL_* setting and no database settings of the caller's environment leak into the test."""
    for var in list(os.environ):
        if var.startswith("MIGTOOL_") or var in ("DATABASE_URL", "DB_USER", "DB_NAME"):
            monkeypatch.delenv(var, raising=False)


def example_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`tmp_path` as cwd holding a copy of the example's migrations in prisma/migrations, with the
    direct target and that folder configured through the environment (and nothing else)."""
    clear_settings(monkeypatch)
    shutil.copytree(EXAMPLE_MIGRATIONS, tmp_path / "prisma" / "migrations")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIGTOOL_TARGET", "direct")
    monkeypatch.setenv("MIGTOOL_MIGRATIONS_DIR", "prisma/migrations")
    return tmp_path
