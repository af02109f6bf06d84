"""validate-in-same-transaction: VALIDATE CONSTRAINT in the transaction that added it NOT VALID.

ADD CONSTRAINT ... NOT VALID takes its lock (SHARE ROW EXCLUSIVE on both tables for a foreign key,
ACCESS EXCLUSIVE for a CHECK) until the transaction ends. Prisma sends a migration file as one
script, one transaction, so a VALIDATE later in the same file scans every row while that lock is
still held: the two-step pattern protects nothing.
"""

from __future__ import annotations

from migtool.lint.fixes import steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import qi, table_ref

ID = "validate-in-same-transaction"


def check(stmt, ctx):
    node = stmt.node
    if node.get("objtype", "OBJECT_TABLE") != "OBJECT_TABLE" or not ctx.not_valid_in_transaction:
        return
    rel = node.get("relation")
    table = ctx.rel_key(rel, {(s, t) for s, t, _ in ctx.not_valid_in_transaction})
    for cmd in node.get("cmds", ()):
        body = cmd.get("AlterTableCmd") or {}
        if body.get("subtype") != "AT_ValidateConstraint":
            continue
        name = body.get("name", "")
        if (*table, name) not in ctx.not_valid_in_transaction:
            continue
        ref = table_ref(rel)
        yield Hit(
            message=f"VALIDATE CONSTRAINT {qi(name)} runs in the same transaction as the ADD ... NOT VALID above it, "
                    f"so the ADD's lock on {ref} is still held while every row is checked.",
            fix=steps(
                "Keep the ADD CONSTRAINT ... NOT VALID in this migration file.",
                f"Move the validation to the next migration file: ALTER TABLE {ref} VALIDATE CONSTRAINT {qi(name)};",
            ),
        )


RULE = Rule(
    id=ID,
    severity="warning",
    summary="VALIDATE CONSTRAINT in the same migration file (transaction) as its ADD ... NOT VALID",
    why="The lock taken by ADD ... NOT VALID lasts until commit, so the validating scan runs under it.",
    instead="VALIDATE CONSTRAINT in the next migration file.",
    nodes=("AlterTableStmt",),
    alter_subtypes=("AT_ValidateConstraint",),
    check=check,
    bad=('ALTER TABLE "Order" ADD CONSTRAINT "Order_total_check" CHECK ("total" >= 0) NOT VALID;\n'
         'ALTER TABLE "Order" VALIDATE CONSTRAINT "Order_total_check";',
         'BEGIN;\nALTER TABLE "Order" ADD CONSTRAINT "Order_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") '
         'NOT VALID;\nALTER TABLE "Order" VALIDATE CONSTRAINT "Order_userId_fkey";\nCOMMIT;'),
    good=('ALTER TABLE "Order" VALIDATE CONSTRAINT "Order_total_check";',
          'BEGIN;\nALTER TABLE "Order" ADD CONSTRAINT "c" CHECK ("total" >= 0) NOT VALID;\nCOMMIT;\n'
          'BEGIN;\nALTER TABLE "Order" VALIDATE CONSTRAINT "c";\nCOMMIT;',
          'ALTER TABLE "Order" ADD CONSTRAINT "c" CHECK ("total" >= 0) NOT VALID;\n'
          'ALTER TABLE "Order" VALIDATE CONSTRAINT "other";'),
    setup='CREATE TABLE "User" ("id" INT PRIMARY KEY); '
          'CREATE TABLE "Order" ("id" INT PRIMARY KEY, "total" INT, "userId" INT); '
          'INSERT INTO "User" VALUES (1); INSERT INTO "Order" VALUES (1, 5, 1);',
)
