"""missing-lock-timeout: a blocking lock on an existing table with no lock_timeout set before it."""

from __future__ import annotations

from migtool.lint.fixes import LOCK_TIMEOUT
from migtool.lint.locks import blocking_lock_target
from migtool.lint.rule import ALL_STATEMENTS, Hit, Rule
from migtool.lint.rules.concurrently_in_transaction import outside_transaction_what

ID = "missing-lock-timeout"


def check(stmt, ctx):
    if ctx.lock_timeout_set or ctx.lock_timeout_reported:
        return
    target = blocking_lock_target(stmt, ctx)
    if target is None:
        return
    if outside_transaction_what(stmt) is not None:
        # Advice must never make a file fail: a SET before it would make the file one transaction.
        return
    ctx.lock_timeout_reported = True  # once per file: the fix is one line at its top
    yield Hit(
        message=f"This statement locks {target} with no lock_timeout set: if it waits behind a long transaction, "
                f"every query on {target} queues behind it.",
        fix=f"Start the migration file with: {LOCK_TIMEOUT}  If it times out, the migration fails "
            "without harm; run the deploy again.",
    )


RULE = Rule(
    id=ID,
    severity="advice",
    summary="blocking lock taken on an existing table without SET lock_timeout first",
    why="A lock request waiting behind a long query blocks every later query on the table: a short migration becomes an outage.",
    instead="SET lock_timeout = '5s'; at the top of the migration file, and retry the deploy if it times out.",
    nodes=(ALL_STATEMENTS,),
    check=check,
    bad=('ALTER TABLE "User" ADD COLUMN "bio" TEXT;',
         'CREATE TABLE "Post" ("id" INT, "authorId" INT REFERENCES "User"("id"));'),
    good=('SET lock_timeout = \'5s\';\nALTER TABLE "User" ADD COLUMN "bio" TEXT;',
          'CREATE TABLE "Post" ("id" INT);',
          'CREATE INDEX CONCURRENTLY "i" ON "User"("email");',
          'ALTER TABLE "User" VALIDATE CONSTRAINT "c";',
          'ALTER TABLE "Event" DETACH PARTITION "Event_2020" CONCURRENTLY;',
          'COMMENT ON TABLE "User" IS \'people\';',
          'ALTER TABLE "User" ALTER COLUMN "email" SET STATISTICS 500;',
          'ALTER TABLE "User" SET (fillfactor = 70);',
          'ALTER TABLE "User" SET (autovacuum_vacuum_scale_factor = 0.01), RESET (fillfactor);'),
    setup='CREATE TABLE "User" ("id" INT PRIMARY KEY);',
)
