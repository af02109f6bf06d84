"""add-foreign-key: a foreign key added to an existing table without NOT VALID."""

from __future__ import annotations

from migtool.lint.alter import added_constraints
from migtool.lint.fixes import constraint_clause, not_valid_fix
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import auto_constraint_name, cols_sql, format_type, names, qi, table_ref

ID = "add-foreign-key"


def _validate_fix(ref: str, clause: str, name: str) -> str:
    return not_valid_fix(ref, clause, name, add="Add it without checking existing rows",
                         validate="checks rows without blocking writes")


def check(stmt, ctx):
    for ref, table, con, coldef in added_constraints(stmt, ctx, "CONSTR_FOREIGN", in_new_columns=True):
        if coldef is None:
            if con.get("skip_validation"):
                continue
            cols = names(con.get("fk_attrs"))
            name = con.get("conname") or auto_constraint_name(table, cols, "fkey")
            clause = constraint_clause(stmt, con, name, (
                f"CONSTRAINT {qi(name)} FOREIGN KEY ({cols_sql(cols)}) REFERENCES {table_ref(con.get('pktable'))}"
                f" ({cols_sql(names(con.get('pk_attrs')))})"))
            yield Hit(
                message=f"Adding foreign key {qi(name)} on {ref} checks every row while writes to {ref} and "
                        f"{table_ref(con.get('pktable'))} are blocked (SHARE ROW EXCLUSIVE on both).",
                fix=_validate_fix(ref, clause, name),
            )
        else:
            column = coldef.get("colname", "")
            name = con.get("conname") or auto_constraint_name(table, [column], "fkey")
            target = table_ref(con.get("pktable"))
            pk = names(con.get("pk_attrs"))
            clause = f"CONSTRAINT {qi(name)} FOREIGN KEY ({qi(column)}) REFERENCES {target}" + (
                f" ({cols_sql(pk)})" if pk else "")
            yield Hit(
                message=f"Adding {ref}.{qi(column)} with REFERENCES {target} validates the new foreign key while "
                        f"writes to both tables are blocked.",
                fix=f"First add the column alone: ALTER TABLE {ref} ADD COLUMN {qi(column)} "
                    f"{format_type(coldef.get('typeName'))};\n"
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
    setup='CREATE TABLE "User" ("id" INT PRIMARY KEY); CREATE TABLE "Coupon" ("id" INT PRIMARY KEY); '
          'CREATE TABLE "Order" ("id" INT PRIMARY KEY, "userId" INT); INSERT INTO "User" VALUES (1); '
          'INSERT INTO "Order" VALUES (1, 1);',
)
