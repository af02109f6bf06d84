"""add-unique-constraint: ADD CONSTRAINT ... UNIQUE (or ADD COLUMN ... UNIQUE) on an existing table."""

from __future__ import annotations

from migtool.lint.alter import added_constraints
from migtool.lint.fixes import OWN_FILE, steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import Node, auto_constraint_name, cols_sql, names, qi

ID = "add-unique-constraint"


def deferral(con: Node) -> str:
    """The constraint's DEFERRABLE clause as written (USING INDEX keeps it: it must be repeated)."""
    if not con.get("deferrable"):
        return ""
    return " DEFERRABLE INITIALLY DEFERRED" if con.get("initdeferred") else " DEFERRABLE"


def dropped_constraints(stmt) -> set[str]:
    """Names of constraints the same ALTER TABLE drops (Prisma's key swap drops t_pkey and adds it again)."""
    out = set()
    for cmd in stmt.node.get("cmds", ()):
        body = cmd.get("AlterTableCmd") or {}
        if body.get("subtype") == "AT_DropConstraint":
            out.add(body.get("name", ""))
    return out


def unique_fix(ref: str, name: str, cols: list[str], kind: str = "UNIQUE", *, con: Node | None = None,
               replaces: bool = False) -> str:
    """Build the index concurrently, then attach it. With `replaces` (the statement drops a constraint of
    the same name first), the index gets a name of its own: the old constraint's index still has `name`."""
    index = f"{name}_new" if replaces else name
    drop = f"DROP CONSTRAINT {qi(name)}, " if replaces else ""
    return steps(
        f"Build the index without blocking writes, {OWN_FILE}: "
        f"CREATE UNIQUE INDEX CONCURRENTLY {qi(index)} ON {ref} ({cols_sql(cols)});",
        f"Then attach it (brief lock): ALTER TABLE {ref} {drop}ADD CONSTRAINT {qi(name)} {kind} USING INDEX "
        f"{qi(index)}{deferral(con or {})};",
        "With Prisma, @unique is a unique index already: step 1 alone is enough.",
    )


def check(stmt, ctx):
    dropped = None
    for ref, table, con, coldef in added_constraints(stmt, ctx, "CONSTR_UNIQUE", in_new_columns=True):
        if coldef is not None:
            cols = [coldef.get("colname", "")]
        elif con.get("indexname"):
            continue
        else:
            cols = names(con.get("keys"))
        name = con.get("conname") or auto_constraint_name(table, cols, "key")
        if dropped is None:
            dropped = dropped_constraints(stmt)
        yield Hit(
            message=f"Adding UNIQUE ({cols_sql(cols)}) on {ref} builds its index while writes to {ref} are "
                    "blocked for the whole build.",
            fix=unique_fix(ref, name, cols, con=con, replaces=name in dropped),
        )


RULE = Rule(
    id=ID,
    severity="warning",
    summary="UNIQUE constraint added to an existing table (index built under a write-blocking lock)",
    why="The unique index is built in the same statement, with writes blocked until it is done.",
    instead="CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... UNIQUE USING INDEX.",
    nodes=("AlterTableStmt",),
    alter_subtypes=("AT_AddConstraint", "AT_AddColumn"),
    check=check,
    bad=('ALTER TABLE "User" ADD CONSTRAINT "User_email_key" UNIQUE ("email");',
         'ALTER TABLE "User" ADD CONSTRAINT "User_slot_key" UNIQUE ("slot") DEFERRABLE INITIALLY DEFERRED;',
         'ALTER TABLE "User" DROP CONSTRAINT "User_name_key", ADD CONSTRAINT "User_name_key" UNIQUE ("name", "email");'),
    good=('ALTER TABLE "User" ADD CONSTRAINT "User_email_key" UNIQUE USING INDEX "User_email_key";',
          'CREATE TABLE "T" ("a" TEXT); ALTER TABLE "T" ADD CONSTRAINT "T_a_key" UNIQUE ("a");'),
    setup='CREATE TABLE "User" ("id" INT PRIMARY KEY, "email" TEXT, "slot" INT, "name" TEXT, '
          'CONSTRAINT "User_name_key" UNIQUE ("name")); INSERT INTO "User" VALUES (1, \'a@b\', 1, \'a\');',
)
