"""Every lint rule, one module each; RULES is the order they are listed and documented in.

Each module defines RULE (a migtool.lint.rule.Rule) with its id, severity, check and SQL examples.
"""

from __future__ import annotations

from migtool.lint.rules import (
    add_check_constraint,
    add_column_volatile_default,
    add_foreign_key,
    add_primary_key,
    add_required_column,
    add_unique_constraint,
    backfill_in_migration,
    change_column_type,
    cluster,
    concurrently_in_transaction,
    create_index_blocking,
    drop_column,
    drop_index_blocking,
    drop_table,
    meta,
    missing_lock_timeout,
    rename_column,
    rename_table,
    set_not_null,
    truncate,
    vacuum_full,
)

STATEMENT_RULES = tuple(m.RULE for m in (
    drop_table,
    drop_column,
    truncate,
    rename_column,
    rename_table,
    change_column_type,
    add_required_column,
    set_not_null,
    add_column_volatile_default,
    add_foreign_key,
    add_unique_constraint,
    add_check_constraint,
    add_primary_key,
    create_index_blocking,
    drop_index_blocking,
    concurrently_in_transaction,
    vacuum_full,
    cluster,
    backfill_in_migration,
    missing_lock_timeout,
))
META_RULES = meta.RULES
RULES = STATEMENT_RULES + META_RULES
RULES_BY_ID = {r.id: r for r in RULES}
