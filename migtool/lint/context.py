"""What linting knows while it walks the statements in order: which objects are new, which columns
are NOT NULL, which NOT NULL checks are validated, whether a lock_timeout or a transaction is open.

"New" means nobody else uses the object yet: building an index on it or adding a foreign key to it
locks nothing that matters. Which earlier objects count as new depends on the mode (see
migtool.lint.engine.EXISTING_MODES): objects from migrations that are already applied never are;
objects from earlier pending migrations of the same deploy are; and when each migration is its own
release (linting a history folder without a database) only objects of the same migration are.

Objects are tracked by schema-qualified name. An unqualified name is created in the first schema of
the search_path (default `public`, `SET search_path` is followed within a file) and looked up
through it, so `CREATE TABLE a.t` does not make `b.t` new.

Facts survive from file to file in every mode: a validated CHECK (col IS NOT NULL), and which
columns are NOT NULL (a DROP DEFAULT on those breaks old code's INSERTs).
"""

from __future__ import annotations

from migtool.lint.source import Statement
from migtool.lint.sql import (
    Node,
    auto_constraint_name,
    cmd_column,
    cmd_constraint,
    column_constraints,
    drop_objects,
    names,
    sval,
)

Key = tuple[str, str]  # (schema, name)
DEFAULT_SEARCH_PATH = ("public",)


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


def column_is_not_null(coldef: Node) -> bool:
    kinds = {c.get("contype") for c in column_constraints(coldef)}
    return bool("CONSTR_NOTNULL" in kinds or "CONSTR_PRIMARY" in kinds or coldef.get("is_not_null"))


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


def _search_path(node: Node) -> tuple[str, ...]:
    if node.get("kind") != "VAR_SET_VALUE":
        return DEFAULT_SEARCH_PATH
    out = []
    for arg in node.get("args", ()):
        const = arg.get("A_Const", {})
        text = const.get("sval", {}).get("sval") if "sval" in const else None
        if text is None:
            continue
        # SET search_path = 'a, b' (one string) is the same as a, b.
        for part in text.split(","):
            part = part.strip()
            if part and part != "$user" and part != "pg_temp":
                out.append(part.strip('"'))
    return tuple(out) or DEFAULT_SEARCH_PATH


class Context:
    def __init__(self, pg_version: int = 15):
        self.pg_version = pg_version
        self.new_relations: set[Key] = set()  # tables, views, materialized views
        self.new_indexes: set[Key] = set()
        self.new_types: set[Key] = set()  # enums, composite types, domains
        # (schema, table) -> {constraint: (column, validated)} for CHECK (col IS NOT NULL) constraints
        self.not_null_checks: dict[Key, dict[str, tuple[str, bool]]] = {}
        # (schema, table) -> NOT NULL columns. A CREATE TABLE is kept undecoded until a rule asks.
        self._not_null: dict[Key, set[str]] = {}
        self._pending_create: dict[Key, Statement] = {}
        # Column changes to a table whose CREATE is still undecoded, applied when it is read.
        self._pending_ops: dict[Key, list[tuple[str, str]]] = {}
        self.start_file(0)

    # ---------------------------------------------------------------- per file
    def start_file(self, statement_count: int, *, forget_new: bool = False) -> None:
        """Per-file state starts over; with forget_new, objects created by earlier files count as existing."""
        if forget_new:
            self.forget_new()
        self.statement_count = statement_count
        self.in_transaction = False
        self.lock_timeout_set = False
        self.lock_timeout_reported = False
        self.search_path: tuple[str, ...] = DEFAULT_SEARCH_PATH
        # Constraints added NOT VALID in the open transaction (the whole file unless it COMMITs):
        # validating one of them before the commit still holds the ADD's lock.
        self.not_valid_in_transaction: set[tuple[str, str, str]] = set()
        # PL/pgSQL functions this file creates (name -> CREATE FUNCTION): linted if the file runs them.
        self.functions: dict[str, Statement] = {}

    def forget_new(self) -> None:
        """Everything created so far is now existing (it was released)."""
        self.new_relations.clear()
        self.new_indexes.clear()
        self.new_types.clear()

    # ---------------------------------------------------------------- names
    def created_key(self, schema: str | None, name: str) -> Key:
        return (schema or self.search_path[0], name)

    def _lookup(self, schema: str | None, name: str, *known) -> Key:
        """The key an object name refers to: through the search_path when unqualified (the first
        schema where one of the `known` collections has it)."""
        if schema:
            return (schema, name)
        path = self.search_path
        if len(path) > 1:
            for s in path:
                key = (s, name)
                if any(key in k for k in known):
                    return key
        return (path[0], name)

    def rel_key(self, rangevar: Node | None, *known) -> Key:
        rv = rangevar or {}
        return self._lookup(rv.get("schemaname"), rv.get("relname", ""), *(known or (self.new_relations,)))

    def parts_key(self, parts: list[str], known) -> Key:
        if len(parts) >= 2:
            return (parts[-2], parts[-1])
        return self._lookup(None, parts[-1] if parts else "", known)

    # ---------------------------------------------------------------- questions rules ask
    def is_new(self, rangevar: Node | None) -> bool:
        """Whether the table, view or materialized view was created earlier in this run (see the module doc)."""
        if not rangevar:
            return False
        schema = rangevar.get("schemaname")
        if schema is None and len(self.search_path) == 1:  # the usual case, without the general lookup
            return (self.search_path[0], rangevar.get("relname", "")) in self.new_relations
        return self.rel_key(rangevar) in self.new_relations

    def is_new_relation(self, parts: list[str]) -> bool:
        return self.parts_key(parts, self.new_relations) in self.new_relations

    def is_new_table(self, name: str) -> bool:
        return self.is_new_relation([name])

    def is_new_index(self, parts: list[str]) -> bool:
        return self.parts_key(parts, self.new_indexes) in self.new_indexes

    def is_new_type(self, parts: list[str]) -> bool:
        return self.parts_key(parts, self.new_types) in self.new_types

    def has_validated_not_null_check(self, rangevar: Node | str | None, column: str) -> bool:
        checks = self.not_null_checks.get(self._check_table(rangevar), {})
        return any(col == column and ok for col, ok in checks.values())

    def is_not_null_column(self, rangevar: Node | None, column: str) -> bool:
        """Whether the column is known to be NOT NULL from the migrations seen so far."""
        key = self._column_table(rangevar)
        self._resolve_create(key)
        return column in self._not_null.get(key, ())

    @property
    def single_statement_file(self) -> bool:
        return self.statement_count <= 1

    def _check_table(self, rangevar: Node | str | None) -> Key:
        if isinstance(rangevar, str):
            rangevar = {"relname": rangevar}
        # Checks live on tables we know of; resolve through those (sets, not a scan of every check).
        return self.rel_key(rangevar, self._not_null, self._pending_create, self.new_relations)

    def _column_table(self, rangevar: Node | None) -> Key:
        return self.rel_key(rangevar, self._not_null, self._pending_create, self.new_relations)

    # ---------------------------------------------------------------- learning from a statement
    def learn_facts(self, stmt: Statement) -> None:
        """What an already-applied migration tells us (call forget_new() after the applied files)."""
        self.apply(stmt)

    def apply(self, stmt: Statement) -> None:
        """Update what we know after `stmt` ran (rules look at the state before it)."""
        kind = stmt.kind
        if kind == "CreateStmt":
            key = self._create_table_key(stmt)
            self.new_relations.add(key)
            self._not_null.pop(key, None)
            self._pending_ops.pop(key, None)
            self._pending_create[key] = stmt  # its NOT NULL columns are read only if a rule asks
            return
        node = stmt.decoded()
        if kind == "CreateTableAsStmt":
            rel = (node.get("into") or {}).get("rel") or {}
            self.new_relations.add(self.created_key(rel.get("schemaname"), rel.get("relname", "")))
        elif kind == "SelectStmt" and node.get("intoClause"):
            rel = node["intoClause"].get("rel") or {}
            self.new_relations.add(self.created_key(rel.get("schemaname"), rel.get("relname", "")))
        elif kind == "ViewStmt":
            rel = node.get("view") or {}
            self.new_relations.add(self.created_key(rel.get("schemaname"), rel.get("relname", "")))
        elif kind == "IndexStmt":
            if node.get("idxname"):
                table = self.rel_key(node.get("relation"))
                self.new_indexes.add((table[0], node["idxname"]))
        elif kind in ("CreateEnumStmt", "CreateDomainStmt", "CreateRangeStmt"):
            parts = names(node.get("domainname") if kind == "CreateDomainStmt" else node.get("typeName"))
            if parts:
                self.new_types.add(self.created_key(parts[-2] if len(parts) > 1 else None, parts[-1]))
        elif kind == "CreateFunctionStmt":
            from migtool.lint.plpgsql import function_name

            name = function_name(stmt)
            if name:
                self.functions[name] = stmt
        elif kind == "CompositeTypeStmt":
            rel = node.get("typevar") or {}
            self.new_types.add(self.created_key(rel.get("schemaname"), rel.get("relname", "")))
        elif kind == "RenameStmt":
            self._rename(node)
        elif kind == "AlterObjectSchemaStmt":
            self._set_schema(node)
        elif kind == "DropStmt":
            self._drop(node)
        elif kind == "AlterTableStmt":
            self._alter_table(node)
        elif kind == "VariableSetStmt":
            name = node.get("name")
            if name == "lock_timeout":
                self.lock_timeout_set = not _setting_disables(node)
            elif name == "search_path":
                self.search_path = _search_path(node)
        elif kind == "TransactionStmt":
            tx = node.get("kind", "")
            if tx in ("TRANS_STMT_BEGIN", "TRANS_STMT_START"):
                self.in_transaction = True
            elif tx in ("TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK", "TRANS_STMT_PREPARE",
                        "TRANS_STMT_COMMIT_PREPARED", "TRANS_STMT_ROLLBACK_PREPARED"):
                self.in_transaction = False
                self.not_valid_in_transaction.clear()

    def _create_table_key(self, stmt: Statement) -> Key:
        schema, name = stmt.relation_parts()
        return self.created_key(schema, name)

    def keep_facts(self, stmt: Statement) -> None:
        """Read what a CREATE TABLE tells (NOT NULL columns) now, before its tree is dropped."""
        if stmt.kind == "CreateStmt":
            key = self._create_table_key(stmt)
            if self._pending_create.get(key) is stmt:
                self._resolve_create(key)

    def _resolve_create(self, key: Key) -> None:
        stmt = self._pending_create.pop(key, None)
        if stmt is None:
            return
        ops = self._pending_ops.pop(key, ())
        cols = self._not_null.setdefault(key, set())
        node = stmt.decoded()
        for element in node.get("tableElts", ()):
            coldef = element.get("ColumnDef")
            if coldef is not None and column_is_not_null(coldef):
                cols.add(coldef.get("colname", ""))
            con = element.get("Constraint")
            if con is not None and con.get("contype") == "CONSTR_PRIMARY":
                cols.update(names(con.get("keys")))
        for op, column in ops:
            if op == "add":
                cols.add(column)
            else:
                cols.discard(column)

    def _move(self, store: set[Key], old: Key, new: Key) -> None:
        if old in store:
            store.discard(old)
            store.add(new)
        else:
            store.discard(new)

    def _move_columns(self, old: Key, new: Key) -> None:
        self._resolve_create(old)
        if old in self._not_null:
            self._not_null[new] = self._not_null.pop(old)
        else:
            self._not_null.pop(new, None)
            self._pending_create.pop(new, None)
            self._pending_ops.pop(new, None)

    def _rename(self, node: Node) -> None:
        rename_type = node.get("renameType")
        new = node.get("newname", "")
        if rename_type in ("OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_FOREIGN_TABLE"):
            old = self.rel_key(node.get("relation"))
            self._move(self.new_relations, old, (old[0], new))
            self._move_columns(self._column_table(node.get("relation")), (old[0], new))
        elif rename_type == "OBJECT_INDEX":
            rel = node.get("relation") or {}
            old = self._lookup(rel.get("schemaname"), rel.get("relname", ""), self.new_indexes)
            self._move(self.new_indexes, old, (old[0], new))
        elif rename_type in ("OBJECT_TYPE", "OBJECT_DOMAIN"):
            parts = names((node.get("object") or {}).get("List", {}).get("items"))
            if parts:
                old = self.parts_key(parts, self.new_types)
                self._move(self.new_types, old, (old[0], new))
        elif rename_type == "OBJECT_COLUMN":
            key = self._column_table(node.get("relation"))
            self._resolve_create(key)
            cols = self._not_null.get(key)
            if cols is not None and node.get("subname") in cols:
                cols.discard(node.get("subname"))
                cols.add(new)

    def _set_schema(self, node: Node) -> None:
        schema = node.get("newschema", "")
        if node.get("objectType") in ("OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW"):
            old = self.rel_key(node.get("relation"))
            self._move(self.new_relations, old, (schema, old[1]))
            self._move_columns(self._column_table(node.get("relation")), (schema, old[1]))
        elif node.get("objectType") in ("OBJECT_TYPE", "OBJECT_DOMAIN"):
            obj = node.get("object") or {}
            parts = names(obj.get("List", {}).get("items")) or ([sval(obj)] if "String" in obj else [])
            if parts:
                old = self.parts_key(parts, self.new_types)
                self._move(self.new_types, old, (schema, old[1]))

    def _drop(self, node: Node) -> None:
        remove = node.get("removeType")
        for parts in drop_objects(node):
            if remove in ("OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_FOREIGN_TABLE"):
                key = self.parts_key(parts, self.new_relations)
                self.new_relations.discard(key)
                self._not_null.pop(key, None)
                self._pending_create.pop(key, None)
                self._pending_ops.pop(key, None)
            elif remove == "OBJECT_INDEX":
                self.new_indexes.discard(self.parts_key(parts, self.new_indexes))
            elif remove in ("OBJECT_TYPE", "OBJECT_DOMAIN"):
                self.new_types.discard(self.parts_key(parts, self.new_types))

    def _alter_table(self, node: Node) -> None:
        if node.get("objtype", "OBJECT_TABLE") != "OBJECT_TABLE":
            return
        rel = node.get("relation")
        table: Key | None = None
        col_key: Key | None = None
        for wrapped in node.get("cmds", ()):
            cmd = wrapped.get("AlterTableCmd")
            if cmd is None:
                continue
            subtype = cmd.get("subtype")
            if table is None and subtype in ("AT_AddConstraint", "AT_ValidateConstraint", "AT_DropConstraint"):
                table = self._check_table(rel)
            if subtype == "AT_AddConstraint":
                con = cmd_constraint(cmd) or {}
                name = con.get("conname")
                column = not_null_check_column(con)
                if column is not None:
                    name = name or auto_constraint_name(table[1], [column], "check")
                    self.not_null_checks.setdefault(table, {})[name] = (column, not con.get("skip_validation", False))
                if name and con.get("skip_validation"):
                    self.not_valid_in_transaction.add((*table, name))
            elif subtype == "AT_ValidateConstraint":
                checks = self.not_null_checks.get(table, {})
                name = cmd.get("name", "")
                if name in checks:
                    checks[name] = (checks[name][0], True)
            elif subtype == "AT_DropConstraint":
                self.not_null_checks.get(table, {}).pop(cmd.get("name", ""), None)
            elif subtype in ("AT_AddColumn", "AT_SetNotNull", "AT_DropNotNull", "AT_DropColumn"):
                if col_key is None:
                    col_key = self._column_table(rel)
                if subtype == "AT_AddColumn":
                    coldef = cmd_column(cmd) or {}
                    if not column_is_not_null(coldef):
                        continue
                    op = ("add", coldef.get("colname", ""))
                else:
                    op = ("add" if subtype == "AT_SetNotNull" else "drop", cmd.get("name", ""))
                if col_key in self._pending_create:  # read with the CREATE, if ever asked
                    self._pending_ops.setdefault(col_key, []).append(op)
                elif op[0] == "add":
                    self._not_null.setdefault(col_key, set()).add(op[1])
                else:
                    self._not_null.get(col_key, set()).discard(op[1])
