"""Backfill migrations: a batched DO block that commits after every batch, or one UPDATE for a small
table. Both are the only statement of their migration file: Prisma then sends the file as a single
statement outside a transaction block, which is what lets COMMIT run inside the DO block."""

from __future__ import annotations

import shlex

from migtool.plan.model import header
from migtool.plan.naming import qi
from migtool.plan.schema import Table

DEFAULT_BATCH_SIZE = 1000


def is_small(table: Table) -> bool:
    return table.rows is not None and table.rows < table.small_below


def size_words(table: Table) -> str:
    return f"about {table.rows} rows" if table.rows is not None else "size unknown"


def backfill_command(table: Table, assignment: str, where: str) -> str:
    """The same backfill with `migtool backfill` (batches sized by time, resumable), run outside the
    deploy for a big table."""
    return " ".join(["migtool backfill --target direct --table", shlex.quote(table.name),
                     "--set", shlex.quote(assignment), "--where", shlex.quote(where), "--yes"])


def bounded_update(table: Table, assignment: str, where: str, why: str) -> str:
    """One UPDATE, for a table small enough that its row locks last a moment."""
    return (f"-- migtool:allow backfill-in-migration {why}\n"
            f"UPDATE {qi(table.name)} SET {assignment} WHERE {where};\n")


def batched_update(table: Table, assignment: str, where: str, batch_size: int, label: str) -> str:
    """A DO block that walks the table in primary-key order, one committed batch at a time, so no
    transaction holds more than `batch_size` row locks and old code's writes interleave."""
    t = qi(table.name)
    if len(table.primary_key) == 1:
        pk = qi(table.primary_key[0])
        return f"""DO $$
DECLARE
    batch_size CONSTANT integer := {batch_size};
    migtool_lo {t}.{pk}%TYPE;
    migtool_hi {t}.{pk}%TYPE;
    updated bigint := 0;
    n bigint;
BEGIN
    SELECT min({pk}) INTO migtool_lo FROM {t};
    WHILE migtool_lo IS NOT NULL LOOP
        SELECT max(b.{pk}) INTO migtool_hi
          FROM (SELECT {pk} FROM {t} WHERE {pk} >= migtool_lo ORDER BY {pk} LIMIT batch_size) AS b;
        UPDATE {t} SET {assignment}
         WHERE {pk} >= migtool_lo AND {pk} <= migtool_hi AND ({where});
        GET DIAGNOSTICS n = ROW_COUNT;
        updated := updated + n;
        COMMIT;
        SELECT min({pk}) INTO migtool_lo FROM {t} WHERE {pk} > migtool_hi;
        PERFORM pg_sleep(0.01); -- give other writers room
    END LOOP;
    RAISE NOTICE 'backfilled % rows of {label}', updated;
END
$$;
"""
    # No single-column primary key: take batches by ctid, as long as some row still needs it.
    return f"""DO $$
DECLARE
    batch_size CONSTANT integer := {batch_size};
    n bigint;
BEGIN
    LOOP
        UPDATE {t} SET {assignment}
         WHERE ctid = ANY (ARRAY(SELECT ctid FROM {t} WHERE {where} LIMIT batch_size));
        GET DIAGNOSTICS n = ROW_COUNT;
        EXIT WHEN n = 0;
        COMMIT;
        PERFORM pg_sleep(0.01); -- give other writers room
    END LOOP;
END
$$;
"""


def backfill_sql(table: Table, assignment: str, where: str, batch_size: int, label: str, intro: str) -> str:
    """The backfill migration's whole text: one UPDATE for a small table, a batched DO block otherwise."""
    if is_small(table):
        return header(intro, f"{qi(table.name)} is small ({size_words(table)}, pg_class.reltuples when planned):",
                      "one UPDATE, its row locks held for a moment.") + bounded_update(
            table, assignment, where, f"{table.name} is small ({size_words(table)}) when planned")
    return header(
        intro,
        f"Batches of {batch_size} rows in primary-key order, each committed on its own, so no transaction",
        "holds many row locks and the application keeps writing. COMMIT inside DO works because this",
        "DO block is the only statement of the file (Prisma then runs it outside a transaction block):",
        "keep it alone. If it fails half-way, the committed batches stay; deploy again to finish.",
    ) + (f"-- migtool:allow backfill-in-migration batched: each batch of {batch_size} rows commits on its own\n"
         + batched_update(table, assignment, where, batch_size, label))
