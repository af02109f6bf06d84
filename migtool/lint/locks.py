"""Which statements take a lock that blocks the application on a table it already uses.

A blocking lock is dangerous even when the statement itself is quick: while it waits behind a long
transaction, every query on the table queues behind it. `SET lock_timeout` bounds that wait.
"""

from __future__ import annotations

from migtool.lint.context import Context
from migtool.lint.source import Statement
from migtool.lint.sql import (
    Node,
    cmd_column,
    cmd_constraint,
    column_constraints,
    drop_objects,
    option_enabled,
    table_cmds,
    table_ref,
)

# ALTER TABLE forms that take SHARE UPDATE EXCLUSIVE (reads and writes go on).
_LIGHT_ALTERS = frozenset({
    "AT_ValidateConstraint", "AT_SetStatistics", "AT_SetOptions", "AT_ResetOptions", "AT_ClusterOn",
    "AT_DropCluster", "AT_AttachPartition",
})
# Storage parameters whose change takes only SHARE UPDATE EXCLUSIVE (others, e.g. a view's
# check_option, take ACCESS EXCLUSIVE).
_LIGHT_RELOPTIONS = ("fillfactor", "autovacuum_", "toast.autovacuum_", "parallel_workers", "toast_tuple_target",
                     "vacuum_index_cleanup", "vacuum_truncate", "log_autovacuum_min_duration",
                     "toast.vacuum_", "toast.log_autovacuum_min_duration")


def _light_cmd(cmd: Node) -> bool:
    subtype = cmd.get("subtype")
    if subtype in _LIGHT_ALTERS:
        return True
    if subtype in ("AT_SetRelOptions", "AT_ResetRelOptions"):
        items = ((cmd.get("def") or {}).get("List") or {}).get("items", ())
        opts = [i.get("DefElem", {}) for i in items]
        return bool(opts) and all(
            (("toast." if o.get("defnamespace") == "toast" else "") + o.get("defname", "")).startswith(_LIGHT_RELOPTIONS)
            for o in opts)
    return False


def _fk_targets(node: Node, ctx: Context) -> list[Node]:
    """Existing tables a new foreign key points at (locked SHARE ROW EXCLUSIVE: writes wait)."""
    out = []
    for element in node.get("tableElts", ()):
        cons = []
        if "Constraint" in element:
            cons = [element["Constraint"]]
        elif "ColumnDef" in element:
            cons = column_constraints(element["ColumnDef"])
        out += [c["pktable"] for c in cons if c.get("contype") == "CONSTR_FOREIGN" and not ctx.is_new(c.get("pktable"))]
    return out


def _alter_fk_targets(node: Node, ctx: Context) -> list[Node]:
    out = []
    for cmd in table_cmds(node):
        cons = []
        con = cmd_constraint(cmd)
        if con:
            cons.append(con)
        col = cmd_column(cmd)
        if col:
            cons += column_constraints(col)
        out += [c["pktable"] for c in cons if c.get("contype") == "CONSTR_FOREIGN" and not ctx.is_new(c.get("pktable"))]
    return out


def blocking_lock_target(stmt: Statement, ctx: Context) -> str | None:
    """The existing table (as SQL) that `stmt` locks against the application, or None."""
    kind = stmt.kind
    if kind == "CreateStmt":
        if not stmt.may_contain(b'"CONSTR_FOREIGN"'):  # most CREATE TABLEs: no need to decode the tree
            return None
        targets = _fk_targets(stmt.decoded(), ctx)
        return table_ref(targets[0]) if targets else None
    node = stmt.decoded()
    if kind == "AlterTableStmt":
        if node.get("objtype", "OBJECT_TABLE") != "OBJECT_TABLE":
            return None
        rel = node.get("relation")
        if not ctx.is_new(rel):
            cmds = list(table_cmds(node))
            if any(not _light_cmd(c) for c in cmds):
                return table_ref(rel)
        targets = _alter_fk_targets(node, ctx)
        return table_ref(targets[0]) if targets else None
    if kind in ("IndexStmt", "ClusterStmt", "TruncateStmt", "LockStmt", "CreateTrigStmt", "ReindexStmt"):
        if kind == "IndexStmt" and node.get("concurrent"):
            return None
        if kind == "ReindexStmt" and option_enabled(node.get("params"), "concurrently"):
            return None
        rels = node.get("relations") or [node.get("relation")]
        rels = [r.get("RangeVar", r) for r in rels if r]
        existing = [r for r in rels if not ctx.is_new(r)]
        return table_ref(existing[0]) if existing else None
    if kind == "RenameStmt":
        if node.get("renameType") in ("OBJECT_TABLE", "OBJECT_COLUMN", "OBJECT_TABCONSTRAINT", "OBJECT_VIEW",
                                      "OBJECT_MATVIEW") and not ctx.is_new(node.get("relation")):
            return table_ref(node.get("relation"))
        return None
    if kind == "AlterObjectSchemaStmt":
        if node.get("objectType") in ("OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW") and not ctx.is_new(
                node.get("relation")):
            return table_ref(node.get("relation"))
        return None
    if kind == "RefreshMatViewStmt":
        rel = node.get("relation")
        return None if node.get("concurrent") or ctx.is_new(rel) else table_ref(rel)
    if kind == "DropStmt":
        remove = node.get("removeType")
        objects = drop_objects(node)
        if remove in ("OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW"):
            existing = [o for o in objects if not ctx.is_new_relation(o)]
        elif remove == "OBJECT_INDEX" and not node.get("concurrent"):
            existing = [o for o in objects if not ctx.is_new_index(o)]
        else:
            return None
        return ".".join(f'"{p}"' for p in existing[0]) if existing else None
    if kind == "VacuumStmt":
        if option_enabled(node.get("options"), "full"):
            rels = [r.get("VacuumRelation", {}).get("relation") for r in node.get("rels", ())]
            existing = [r for r in rels if r and not ctx.is_new(r)]
            if existing:
                return table_ref(existing[0])
            return None if rels else "every table"
    return None
