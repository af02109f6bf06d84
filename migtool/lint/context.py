"""What linting knows while it walks the statements in order: which objects are new, which NOT NULL
checks are validated, whether a lock_timeout or a transaction is open in the current file.

An object created earlier in the same run (same file or an earlier file) is new: nobody else uses
it yet, so building an index on it or adding a foreign key to it locks nothing that matters.
"""

from __future__ import annotations

from migtool.lint.source import Statement
from migtool.lint.sql import (
    Node,
    auto_constraint_name,
    cmd_constraint,
    drop_objects,
    names,
    table_cmds,
    table_name,
)


def not_null_check_column(con: Node) -> str | None:
    """The column of a `CHECK (col IS NOT NULL)` constraint, else None."""
    if con.get("contype") != "CONSTR_CHECK":
        return None
    test = (con.get("raw_expr") or {}).get("NullTest")
    if not test or test.get("nulltesttype") != "IS_NOT_NULL":
        return None
    ref = (test.get("arg") or {}).get("ColumnRef")
    fields = names(ref.get("fields")) if ref else []
    return fields[-1] if len(fields) == 1 else None


def _setting_disables(node: Node) -> bool:
    """SET lock_timeout = 0 (or RESET/DEFAULT) leaves waits unbounded."""
    if node.get("kind") != "VAR_SET_VALUE":
        return True
    for arg in node.get("args", ()):
        const = arg.get("A_Const", {})
        if "ival" in const:
            return not const["ival"].get("ival", 0)
        if "sval" in const:
            return const["sval"].get("sval", "").strip() in ("0", "0ms", "0s", "")
    return True


class Context:
    def __init__(self, pg_version: int = 15):
        self.pg_version = pg_version
        self.new_tables: set[str] = set()
        self.new_indexes: set[str] = set()
        # (table, constraint name) -> (column, validated) for CHECK (col IS NOT NULL) constraints
        self.not_null_checks: dict[tuple[str, str], tuple[str, bool]] = {}
        self.start_file(0)

    # ---------------------------------------------------------------- per file
    def start_file(self, statement_count: int, *, forget_new: bool = False) -> None:
        """Per-file state starts over; with forget_new, objects created by earlier files count as existing."""
        if forget_new:
            self.new_tables.clear()
            self.new_indexes.clear()
        self.statement_count = statement_count
        self.in_transaction = False
        self.lock_timeout_set = False
        self.lock_timeout_reported = False

    # ---------------------------------------------------------------- questions rules ask
    def is_new_table(self, name: str) -> bool:
        return name in self.new_tables

    def is_new(self, rangevar: Node | None) -> bool:
        return bool(rangevar) and rangevar.get("relname") in self.new_tables

    def has_validated_not_null_check(self, table: str, column: str) -> bool:
        return any(col == column and ok for (tbl, _), (col, ok) in self.not_null_checks.items() if tbl == table)

    @property
    def single_statement_file(self) -> bool:
        return self.statement_count <= 1

    # ---------------------------------------------------------------- learning from a statement
    def learn_facts(self, stmt: Statement) -> None:
        """What an already-applied migration tells us: validated NOT NULL checks that still exist."""
        if stmt.kind == "AlterTableStmt":
            self._track_checks(stmt.decoded())

    def apply(self, stmt: Statement) -> None:
        """Update what we know after `stmt` ran (rules look at the state before it)."""
        kind = stmt.kind
        if kind == "CreateStmt":
            self.new_tables.add(stmt.relation_name())  # read without decoding the whole tree
            return
        node = stmt.decoded()
        if kind == "CreateTableAsStmt":
            self.new_tables.add(table_name((node.get("into") or {}).get("rel")))
        elif kind == "SelectStmt" and node.get("intoClause"):
            self.new_tables.add(table_name(node["intoClause"].get("rel")))
        elif kind == "IndexStmt":
            if node.get("idxname"):
                self.new_indexes.add(node["idxname"])
        elif kind == "RenameStmt":
            self._rename(node)
        elif kind == "DropStmt":
            target = {"OBJECT_TABLE": self.new_tables, "OBJECT_INDEX": self.new_indexes}.get(node.get("removeType"))
            if target is not None:
                for parts in drop_objects(node):
                    target.discard(parts[-1])
        elif kind == "AlterTableStmt":
            self._track_checks(node)
        elif kind == "VariableSetStmt" and node.get("name") == "lock_timeout":
            self.lock_timeout_set = not _setting_disables(node)
        elif kind == "TransactionStmt":
            tx = node.get("kind", "")
            if tx in ("TRANS_STMT_BEGIN", "TRANS_STMT_START"):
                self.in_transaction = True
            elif tx in ("TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK", "TRANS_STMT_PREPARE",
                        "TRANS_STMT_COMMIT_PREPARED", "TRANS_STMT_ROLLBACK_PREPARED"):
                self.in_transaction = False

    def _rename(self, node: Node) -> None:
        rename_type = node.get("renameType")
        new = node.get("newname", "")
        if rename_type == "OBJECT_TABLE":
            old = table_name(node.get("relation"))
            if old in self.new_tables:
                self.new_tables.discard(old)
                self.new_tables.add(new)
            else:
                self.new_tables.discard(new)
        elif rename_type == "OBJECT_INDEX":
            old = table_name(node.get("relation"))
            if old in self.new_indexes:
                self.new_indexes.discard(old)
                self.new_indexes.add(new)

    def _track_checks(self, node: Node) -> None:
        table = table_name(node.get("relation"))
        for cmd in table_cmds(node):
            subtype = cmd.get("subtype")
            if subtype == "AT_AddConstraint":
                con = cmd_constraint(cmd) or {}
                column = not_null_check_column(con)
                if column is not None:
                    name = con.get("conname") or auto_constraint_name(table, [column], "check")
                    self.not_null_checks[(table, name)] = (column, not con.get("skip_validation", False))
            elif subtype == "AT_ValidateConstraint":
                key = (table, cmd.get("name", ""))
                if key in self.not_null_checks:
                    self.not_null_checks[key] = (self.not_null_checks[key][0], True)
            elif subtype == "AT_DropConstraint":
                self.not_null_checks.pop((table, cmd.get("name", "")), None)

