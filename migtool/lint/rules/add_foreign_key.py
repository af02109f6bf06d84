"""add-foreign-key: a foreign key added to an existing table without NOT VALID."""

from __future__ import annotations

from migtool.lint.fixes import LOCK_TIMEOUT, clause_text, steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import (
    auto_constraint_name,
    cmd_column,
    cmd_constraint,
    cols_sql,
    column_constraints,
    names,
    qi,
    table_cmds,
    table_name,
    table_ref,
)

ID = "add-foreign-key"


def _validate_fix(ref: str, clause: str, name: str) -> str:
    return steps(
        f"Add it without checking existing rows (brief lock): {LOCK_TIMEOUT} ALTER TABLE {ref} ADD {clause} NOT VALID;",
        f"In the next migration file (checks rows without blocking writes): ALTER TABLE {ref} VALIDATE CONSTRAINT {qi(name)};",
    )


def check(stmt, ctx):
    rel = stmt.node.get("relation")
    if ctx.is_new(rel):
        return
    ref, table = table_ref(rel), table_name(rel)
    for cmd in table_cmds(stmt.node):
        subtype = cmd.get("subtype")
        if subtype == "AT_AddConstraint":
            con = cmd_constraint(cmd) or {}
            if con.get("contype") != "CONSTR_FOREIGN" or con.get("skip_validation"):
                continue
            cols = names(con.get("fk_attrs"))
            name = con.get("conname") or auto_constraint_name(table, cols, "fkey")
            clause = clause_text(stmt, con.get("location")) or (
                f"CONSTRAINT {qi(name)} FOREIGN KEY ({cols_sql(cols)}) REFERENCES {table_ref(con.get('pktable'))}"
                f" ({cols_sql(names(con.get('pk_attrs')))})")
            if not clause.upper().startswith("CONSTRAINT"):
                clause = f"CONSTRAINT {qi(name)} {clause}"
            yield Hit(
                message=f"Adding foreign key {qi(name)} on {ref} checks every row while writes to {ref} and "
                        f"{table_ref(con.get('pktable'))} are blocked (SHARE ROW EXCLUSIVE on both).",
                fix=_validate_fix(ref, clause, name),
            )
        elif subtype == "AT_AddColumn":
            coldef = cmd_column(cmd) or {}
            for con in column_constraints(coldef):
                if con.get("contype") != "CONSTR_FOREIGN":
                    continue
                column = coldef.get("colname", "")
                name = con.get("conname") or auto_constraint_name(table, [column], "fkey")
                target = table_ref(con.get("pktable"))
                pk = names(con.get("pk_attrs"))
                clause = f"CONSTRAINT {qi(name)} FOREIGN KEY ({qi(column)}) REFERENCES {target}" + (
                    f" ({cols_sql(pk)})" if pk else "")
                yield Hit(
                    message=f"Adding {ref}.{qi(column)} with REFERENCES {target} validates the new foreign key while "
                            f"writes to both tables are blocked.",
                    fix=f"First add the column alone: ALTER TABLE {ref} ADD COLUMN {qi(column)} <type>;\n"
                        + _validate_fix(ref, clause, name),
                )


RULE = Rule(
    id=ID,
    severity="warning",
    summary="FOREIGN KEY added to an existing table without NOT VALID",
    why="Validating scans the table while writes to it and to the referenced table are blocked.",
    instead="ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT in a later migration (no write lock).",
    nodes=("AlterTableStmt",),
    alter_subtypes=("AT_AddConstraint", "AT_AddColumn"),
    check=check,
    bad=('ALTER TABLE "Order" ADD CONSTRAINT "Order_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") '
         'ON DELETE RESTRICT ON UPDATE CASCADE;',
         'ALTER TABLE "Order" ADD COLUMN "couponId" INTEGER REFERENCES "Coupon"("id");'),
    good=('ALTER TABLE "Order" ADD CONSTRAINT "Order_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") NOT VALID;',
          'ALTER TABLE "Order" VALIDATE CONSTRAINT "Order_userId_fkey";',
          'CREATE TABLE "Post" ("id" SERIAL NOT NULL, "authorId" INTEGER);\n'
          'ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id");'),
)
