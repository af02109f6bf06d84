"""concurrently-in-transaction: a CONCURRENTLY operation (or VACUUM) that will run inside a transaction and fail."""

from __future__ import annotations

from migtool.lint.fixes import OWN_FILE
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import option_enabled, table_cmds

ID = "concurrently-in-transaction"


def outside_transaction_what(stmt) -> str | None:
    """What a statement that PostgreSQL refuses inside a transaction block is, else None."""
    kind, node = stmt.kind, stmt.decoded()
    if kind == "IndexStmt" and node.get("concurrent"):
        return "CREATE INDEX CONCURRENTLY"
    if kind == "DropStmt" and node.get("concurrent"):
        return "DROP INDEX CONCURRENTLY"
    if kind == "ReindexStmt" and option_enabled(node.get("params"), "concurrently"):
        return "REINDEX CONCURRENTLY"
    if kind == "VacuumStmt" and node.get("is_vacuumcmd"):
        return "VACUUM"
    if kind == "AlterTableStmt":
        for cmd in table_cmds(node):
            part = (cmd.get("def") or {}).get("PartitionCmd") or {}
            if cmd.get("subtype") == "AT_DetachPartition" and part.get("concurrent"):
                return "DETACH PARTITION CONCURRENTLY"
    return None


def check(stmt, ctx):
    what = outside_transaction_what(stmt)
    if what is None:
        return
    if ctx.in_transaction:
        yield Hit(
            message=f"{what} inside BEGIN ... COMMIT fails: PostgreSQL refuses it in a transaction block.",
            fix=f"Remove the transaction around it and put it {OWN_FILE}.",
        )
    elif not ctx.single_statement_file:
        yield Hit(
            message=f"{what} in a migration file with {ctx.statement_count} statements fails: Prisma sends the file as "
                    "one script, which PostgreSQL runs as a single transaction (error 25001).",
            fix=f"Move it {OWN_FILE}; no SET lock_timeout either (it would make the file a transaction again).",
        )


RULE = Rule(
    id=ID,
    severity="warning",
    summary="CONCURRENTLY or VACUUM inside a transaction (BEGIN, or a Prisma migration file with other statements) fails",
    why="PostgreSQL refuses CONCURRENTLY in a transaction block, and Prisma runs a multi-statement file as one; the deploy stops on a failed migration.",
    instead="Put the CONCURRENTLY statement alone in its own migration file.",
    nodes=("IndexStmt", "DropStmt", "ReindexStmt", "AlterTableStmt", "VacuumStmt"),
    alter_subtypes=("AT_DetachPartition",),
    check=check,
    bad=('BEGIN; CREATE INDEX CONCURRENTLY "i" ON "Order"("userId"); COMMIT;',
         'SET lock_timeout = \'5s\'; CREATE INDEX CONCURRENTLY "i" ON "Order"("userId");',
         'DROP INDEX CONCURRENTLY "a"; DROP INDEX CONCURRENTLY "b";',
         'ALTER TABLE "Order" ADD COLUMN "n" INT; VACUUM "Order";'),
    good=('CREATE INDEX CONCURRENTLY "i" ON "Order"("userId");',
          'VACUUM ANALYZE "Order";',
          'ALTER TABLE "Order" ADD COLUMN "n" INT; ANALYZE "Order";',
          'REINDEX (CONCURRENTLY false) TABLE "Order"; SELECT 1;',
          '-- just a comment\nDROP INDEX CONCURRENTLY IF EXISTS "Order_userId_idx";'),
    setup='CREATE TABLE "Order" ("id" INT PRIMARY KEY, "userId" INT); CREATE INDEX "a" ON "Order" ("id"); '
          'CREATE INDEX "b" ON "Order" ("userId");',
)
