"""drop-view: DROP VIEW / DROP MATERIALIZED VIEW of a view the running release may read."""

from __future__ import annotations

from migtool.lint.fixes import allow_line, steps
from migtool.lint.rule import Hit, Rule
from migtool.lint.sql import drop_objects, object_ref

ID = "drop-view"
_WHAT = {"OBJECT_VIEW": "VIEW", "OBJECT_MATVIEW": "MATERIALIZED VIEW"}


def check(stmt, ctx):
    what = _WHAT.get(stmt.node.get("removeType"))
    if what is None:
        return
    for parts in drop_objects(stmt.node):
        if ctx.is_new_relation(parts):
            continue
        ref = object_ref(parts)
        yield Hit(
            message=f"DROP {what} {ref} takes an ACCESS EXCLUSIVE lock on it, and code still running that reads it "
                    "fails afterwards.",
            fix=steps(
                f"Release code that no longer reads {ref} and let it run everywhere.",
                f"In a later release: DROP {what} IF EXISTS {ref};  (to change a view's definition instead, use "
                "CREATE OR REPLACE VIEW with the same columns first)",
                f"Once no code reads it, mark the statement: {allow_line(ID)}",
            ),
        )


RULE = Rule(
    id=ID,
    severity="danger",
    summary="DROP VIEW or DROP MATERIALIZED VIEW of an existing view: the running release may read it",
    why="The drop waits for, then blocks, every query on the view, and code still reading it fails.",
    instead="Stop reading the view in one release; drop it in a later one.",
    nodes=("DropStmt",),
    check=check,
    bad=('DROP VIEW "ActiveUser";', 'DROP MATERIALIZED VIEW IF EXISTS "Stats";'),
    good=('CREATE VIEW "V" AS SELECT 1 AS a; DROP VIEW "V";', 'DROP TABLE "x";'),
    setup='CREATE TABLE "User" ("id" INT PRIMARY KEY); CREATE VIEW "ActiveUser" AS SELECT * FROM "User"; '
          'CREATE MATERIALIZED VIEW "Stats" AS SELECT count(*) AS n FROM "User";',
)
