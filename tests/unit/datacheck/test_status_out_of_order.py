"""`status` knows which pending migrations are older than the newest applied one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from migtool.migrations.checksum import prisma_checksum
from migtool.migrations.state import LocalMigration, MigrationRow, compute_status


def local(name: str) -> LocalMigration:
    return LocalMigration(name, Path(name), b"SELECT 1;")


def applied(name: str, i: int) -> MigrationRow:
    t = datetime(2025, 1, 1, 0, 0, i, tzinfo=UTC)
    return MigrationRow(id=str(i), migration_name=name, checksum=prisma_checksum(b"SELECT 1;"), started_at=t,
                        finished_at=t)


def test_pending_older_than_the_newest_applied_is_out_of_order():
    names = ["20250101_a", "20250201_late", "20250301_c", "20250401_new"]
    report = compute_status([local(n) for n in names], [applied("20250101_a", 1), applied("20250301_c", 2)])
    assert [m.name for m in report.out_of_order()] == ["20250201_late"]
    assert report.to_json()["out_of_order"] == ["20250201_late"]


def test_nothing_applied_means_nothing_out_of_order():
    report = compute_status([local("20250101_a")], None)
    assert report.out_of_order() == [] and report.to_json()["out_of_order"] == []
