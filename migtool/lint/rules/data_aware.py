"""out-of-order-migration and fails-on-data: reported from the live database, not from statements.

`migtool lint` against a reachable database (no PATH, or --db) adds them (migtool/datacheck/):
out-of-order-migration from `_prisma_migrations`, fails-on-data when a data check proves that a
statement no rule flagged (a VALIDATE CONSTRAINT, a CREATE UNIQUE INDEX CONCURRENTLY) fails on
today's rows. They are added after suppressions are applied, so a migtool:allow does not hide them.
"""

from __future__ import annotations

from migtool.lint.rule import Rule

OUT_OF_ORDER = Rule(
    id="out-of-order-migration",
    severity="warning",
    summary="a pending migration is older than the newest applied one (a branch merged late)",
    why="Prisma applies it anyway, after the newer migrations: an order its author never tested.",
    instead="Check it against the newer migrations, or rename its folder to a timestamp after the newest applied one.",
)

FAILS_ON_DATA = Rule(
    id="fails-on-data",
    severity="danger",
    summary="a data check against the database shows the statement fails on today's rows",
    why="The migration stops half way on production (NULLs, duplicates, orphans, values that do not convert) and "
        "blocks every later deploy until someone resolves it.",
    instead="Fix the data first (backfill, deduplicate, clean the orphans), in a migration before this one.",
)

RULES = (OUT_OF_ORDER, FAILS_ON_DATA)
