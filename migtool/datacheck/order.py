"""History order: a pending migration older than the newest applied one (a branch merged late). Pure.

Prisma applies every pending migration whatever its timestamp, so such a migration runs after
newer ones it was never tested behind.
"""

from __future__ import annotations

from collections.abc import Iterable

RULE_ID = "out-of-order-migration"


def out_of_order(pending: Iterable[str], applied: Iterable[str]) -> list[str]:
    """Pending names that sort before the newest applied name (Prisma's names start with their timestamp)."""
    newest = max(applied, default=None)
    if newest is None:
        return []
    return [name for name in pending if name < newest]


def message(name: str, newest_applied: str) -> str:
    return (f"{name} is older than {newest_applied}, which is already applied: Prisma applies it anyway, after the "
            "newer migrations, an order its author did not test.")


FIX = ("Check that it still makes sense after the newer migrations (same tables, same columns), or give it a new "
       "timestamp: rename the folder to a name after the newest applied migration, before it is deployed anywhere.")
