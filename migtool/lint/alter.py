"""The ALTER TABLE subcommands most rules look at: those on a table that existed before this run.

Changing a table created earlier in the same run locks nothing anyone else uses yet, so those
subcommands are skipped here once, instead of in every rule.
"""

from __future__ import annotations

from migtool.lint.context import Context
from migtool.lint.source import Statement
from migtool.lint.sql import (
    Node,
    cmd_column,
    cmd_constraint,
    column_constraints,
    table_name,
    table_ref,
)

# Plain loops building lists, table_cmds inlined: these run for every ALTER TABLE, and lint time is
# benchmarked (a generator here costs more than the rules' own work on most statements).


def existing_table_cmds(stmt: Statement, ctx: Context, *subtypes: str) -> list[tuple[str, str, Node]]:
    """(table as SQL, table name, AlterTableCmd) for each subcommand of the given subtypes, in order;
    none for ALTER INDEX/VIEW/... (which share the parse node). The statement's subcommands are
    read once for every rule (the context changes only after all rules ran)."""
    cached = stmt.existing_cmds
    if cached is None:
        cached = stmt.existing_cmds = _all_existing_cmds(stmt, ctx)
    return [(ref, table, body) for subtype, ref, table, body in cached if subtype in subtypes]


def _all_existing_cmds(stmt: Statement, ctx: Context) -> list[tuple[str, str, str, Node]]:
    node = stmt.node
    rel = node.get("relation")
    if ctx.is_new(rel) or node.get("objtype", "OBJECT_TABLE") != "OBJECT_TABLE":
        return []
    ref, table = table_ref(rel), table_name(rel)
    found = []
    for cmd in node.get("cmds", ()):
        body = cmd.get("AlterTableCmd")
        if body is not None:
            found.append((body.get("subtype"), ref, table, body))
    return found


def added_constraints(stmt: Statement, ctx: Context, contype: str, *,
                      in_new_columns: bool = False) -> list[tuple[str, str, Node, Node | None]]:
    """(table as SQL, table name, Constraint, None) for each ADD CONSTRAINT of one kind (CONSTR_CHECK, ...);
    with in_new_columns also (..., Constraint, ColumnDef) for those declared inside ADD COLUMN."""
    found = []
    for ref, table, cmd in existing_table_cmds(stmt, ctx, "AT_AddConstraint", "AT_AddColumn"):
        if cmd.get("subtype") == "AT_AddConstraint":
            con = cmd_constraint(cmd) or {}
            if con.get("contype") == contype:
                found.append((ref, table, con, None))
        elif in_new_columns:
            coldef = cmd_column(cmd) or {}
            for con in column_constraints(coldef):
                if con.get("contype") == contype:
                    found.append((ref, table, con, coldef))
    return found
