"""rename-type: ALTER TYPE ... RENAME TO, or RENAME VALUE of an enum, on a type in production.

Prisma casts enum parameters by the type's name ($1::"Role"), and the running release sends the
old value names, so both break it like a column rename does.
"""

from __future__ import annotations

from migtool.lint.fixes import steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import list_names, names, object_ref, qi

ID = "rename-type"


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def check(stmt, ctx):
    node = stmt.node
    if stmt.kind == "RenameStmt":
        if node.get("renameType") not in ("OBJECT_TYPE", "OBJECT_DOMAIN"):
            return
        parts = list_names(node.get("object"))
        if not parts or ctx.is_new_type(parts):
            return
        ref, new = object_ref(parts), qi(node.get("newname", ""))
        yield Hit(
            message=f"Renaming type {ref} to {new} breaks the release still running: it names {ref} in casts "
                    f"(Prisma sends enum values as $1::{ref}).",
            fix=steps(
                f"Rename it in code only: keep {ref} in the database and map it (Prisma: enum {node.get('newname')} "
                f"{{ ... @@map(\"{parts[-1]}\") }}).",
                f"If the database name must change, do it once no release names {ref} any more, in a later release.",
            ),
        )
        return
    old = node.get("oldVal")
    parts = names(node.get("typeName"))
    if old is None or not parts or ctx.is_new_type(parts):
        return  # ADD VALUE is safe
    ref, new = object_ref(parts), node.get("newVal", "")
    yield Hit(
        message=f"Renaming value {_quote_literal(old)} of enum {ref} to {_quote_literal(new)} breaks the release "
                f"still running: it reads and writes {_quote_literal(old)}.",
        fix=steps(
            f"Expand: ALTER TYPE {ref} ADD VALUE IF NOT EXISTS {_quote_literal(new)};  (its own migration file: "
            "a new enum value cannot be used in the transaction that adds it)",
            f"Release code that accepts both and writes {_quote_literal(new)}; then move the rows in batches "
            f"outside the migration (UPDATE ... SET <column> = {_quote_literal(new)} WHERE <column> = "
            f"{_quote_literal(old)}).",
            f"Release code that no longer uses {_quote_literal(old)} (Prisma: @map the enum value if only the "
            "name in code should change).",
        ),
    )


RULE = Rule(
    id=ID,
    severity="danger",
    summary="ALTER TYPE ... RENAME (or RENAME VALUE) of an existing type: the running release still uses the old name",
    why="Code still running casts to the old type name and sends the old enum values; every such query fails.",
    instead="Rename in code only (Prisma @@map / @map), or add the new enum value, move rows, stop using the old one.",
    nodes=("RenameStmt", "AlterEnumStmt"),
    check=check,
    bad=('ALTER TYPE "Role" RENAME TO "UserRole";',
         'ALTER TYPE "Role" RENAME VALUE \'ADMIN\' TO \'OWNER\';'),
    good=('ALTER TYPE "Role" ADD VALUE \'GUEST\';',
          'CREATE TYPE "Tmp" AS ENUM (\'A\'); ALTER TYPE "Tmp" RENAME TO "Kind";',
          'CREATE TYPE "K" AS ENUM (\'A\'); ALTER TYPE "K" RENAME VALUE \'A\' TO \'B\';'),
    setup='CREATE TYPE "Role" AS ENUM (\'USER\', \'ADMIN\');',
)
