"""edited-applied-migration: a migration that was already merged is changed or deleted.

Not a statement rule: `migtool lint --changed-since REF` reports it from git (migtool/gitchanges.py),
because only the history says a migration was merged, and so may have run in production.
"""

from __future__ import annotations

from migtool.lint.rule import Rule

RULE = Rule(
    id="edited-applied-migration",
    severity="danger",
    summary="a migration that was already merged is modified or deleted (--changed-since)",
    why="Databases that applied it never run the new version (Prisma applies each migration once and only "
        "records a checksum mismatch), so production and fresh databases silently get different schemas.",
    instead="Restore the merged file and put the change in a new migration.",
)
