"""The project the rollback tests start from: init applied, drop_bio (drops users.bio) written but not
yet applied, over the varied database (tests/support/backupdb.py); Prisma's table as Prisma writes it."""

from __future__ import annotations

from pathlib import Path

import psycopg

from tests.support.backupdb import seed_varied
from tests.support.prisma_table import PrismaTable, write_lock_file, write_migration

INIT_NAME = "20250101000000_init"
DROP_BIO_NAME = "20250102000000_drop_bio"
DROP_BIO = "ALTER TABLE users DROP COLUMN bio;\n"


def drop_bio_project(root: Path, url: str, init_sql: str) -> PrismaTable:
    """root/migrations with init (`init_sql`, run and recorded as applied) and drop_bio (pending), and
    root/migtool.yaml for it: direct target, backups in root/backups, `resolve_command: ""` so that
    migtool resolves Prisma's rows natively."""
    mig = root / "migrations"
    write_lock_file(mig)
    write_migration(mig, INIT_NAME, init_sql)
    write_migration(mig, DROP_BIO_NAME, DROP_BIO)
    (root / "migtool.yaml").write_text(
        f"target: direct\nmigrations_dir: {mig}\nbackup_dir: {root / 'backups'}\nresolve_command: \"\"\n")
    seed_varied(url)
    table = PrismaTable(url)
    table.create()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(init_sql)
    table.apply(INIT_NAME, init_sql.encode())
    return table
