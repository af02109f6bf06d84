"""Every lint rule, one module each; RULES is the order they are listed and documented in.

Each module defines RULE (a migtool.lint.rule.Rule) with its id, severity, check and SQL examples.
"""

from __future__ import annotations

from migtool.lint.rules import (
    add_check_constraint,
    add_column_volatile_default,
    add_domain_constraint,
    add_exclusion_constraint,
    add_foreign_key,
    add_primary_key,
    add_required_column,
    add_unique_constraint,
    backfill_in_migration,
    change_column_type,
    cluster,
    concurrently_in_transaction,
    create_index_blocking,
    data_aware,
    drop_column,
    drop_default_required_column,
    drop_index_blocking,
    drop_table,
    drop_view,
    edited_applied_migration,
    meta,
    missing_lock_timeout,
    refresh_matview_blocking,
    reindex_blocking,
    rename_column,
    rename_table,
    rename_type,
    set_not_null,
    truncate,
    vacuum_full,
    validate_in_same_transaction,
)

STATEMENT_RULES = tuple(m.RULE for m in (
    drop_table,
    drop_column,
    drop_view,
    truncate,
    rename_column,
    rename_table,
    rename_type,
    change_column_type,
    add_required_column,
    drop_default_required_column,
    set_not_null,
    add_column_volatile_default,
    add_foreign_key,
    add_unique_constraint,
    add_check_constraint,
    add_primary_key,
    add_exclusion_constraint,
    add_domain_constraint,
    validate_in_same_transaction,
    create_index_blocking,
    drop_index_blocking,
    reindex_blocking,
    refresh_matview_blocking,
    concurrently_in_transaction,
    vacuum_full,
    cluster,
    backfill_in_migration,
    missing_lock_timeout,
))
META_RULES = meta.RULES
# Reported from git history by `lint --changed-since` (migtool/gitchanges.py), not from statements.
GIT_RULES = (edited_applied_migration.RULE,)
# Reported from the live database by `lint` with a reachable database (migtool/datacheck/).
DATA_RULES = data_aware.RULES
RULES = STATEMENT_RULES + META_RULES + GIT_RULES + DATA_RULES
RULES_BY_ID = {r.id: r for r in RULES}
