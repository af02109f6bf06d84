"""add-domain-constraint: ALTER DOMAIN ... ADD CONSTRAINT without NOT VALID on a domain in production."""

from __future__ import annotations

from migtool.lint.fixes import clause_text, steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import names, object_ref, qi

ID = "add-domain-constraint"


def check(stmt, ctx):
    node = stmt.node
    if node.get("subtype") != "C":
        return
    con = (node.get("def") or {}).get("Constraint") or {}
    parts = names(node.get("typeName"))
    if con.get("skip_validation") or con.get("contype") != "CONSTR_CHECK" or not parts or ctx.is_new_type(parts):
        return
    ref = object_ref(parts)
    name = con.get("conname") or f"{parts[-1]}_check"
    clause = clause_text(stmt, con.get("location")) or "CHECK (...)"
    if not clause.upper().startswith("CONSTRAINT"):
        clause = f"CONSTRAINT {qi(name)} {clause}"
    yield Hit(
        message=f"Adding a constraint to domain {ref} checks every row of every table that uses it, while writes to "
                "those tables are blocked.",
        fix=steps(
            f"Add it for new values only (brief lock): ALTER DOMAIN {ref} ADD {clause} NOT VALID;",
            f"In the next migration file: ALTER DOMAIN {ref} VALIDATE CONSTRAINT {qi(name)};",
        ),
    )


RULE = Rule(
    id=ID,
    severity="warning",
    summary="ALTER DOMAIN ... ADD CONSTRAINT without NOT VALID: scans every table using the domain",
    why="Every column of the domain, in every table, is checked while writes to those tables wait.",
    instead="ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT in a later migration.",
    nodes=("AlterDomainStmt",),
    check=check,
    bad=('ALTER DOMAIN "positive_int" ADD CONSTRAINT "positive_int_check" CHECK (VALUE > 0);',
         'ALTER DOMAIN "positive_int" ADD CHECK (VALUE > 0);'),
    good=('ALTER DOMAIN "positive_int" ADD CONSTRAINT "c" CHECK (VALUE > 0) NOT VALID;',
          'CREATE DOMAIN "d" AS int; ALTER DOMAIN "d" ADD CONSTRAINT "c" CHECK (VALUE > 0);',
          'ALTER DOMAIN "positive_int" VALIDATE CONSTRAINT "c";'),
    setup='CREATE DOMAIN "positive_int" AS INT; CREATE TABLE "Item" ("qty" "positive_int"); '
          'INSERT INTO "Item" VALUES (3);',
)
