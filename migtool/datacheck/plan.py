"""Decide which data checks the pending migrations need, from their parsed statements. No I/O.

Statements are walked in apply order with what the deploy has done so far, so a check asks about
the state the earlier statements leave, where that can be derived:
- a table created in this deploy has no rows: nothing to check on it;
- a column added without a default is NULL in every row; one backfilled by an `UPDATE` (whole
  table, or `WHERE col IS NULL`, or any WHERE over unchanged columns) is NULL exactly where the
  backfill leaves it NULL, which a query over today's rows can count;
- anything else an earlier statement changed (rows inserted or deleted, a column rewritten by an
  expression over changed columns) makes the check say it cannot know.

Each statement kind is re-parsed with pglast's AST (only the few kinds that matter), because the
checks need SQL text for expressions (a CHECK, a USING, a partial index's WHERE), which pglast's
printer gives back exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from migtool.datacheck.model import (
    CHECK,
    FOREIGN_KEY,
    NOT_NULL,
    OK,
    TABLE_SIZE,
    TYPE_CHANGE,
    UNIQUE,
    UNKNOWN,
    VALIDATE,
    Check,
    Known,
    Table,
    qi,
)
from migtool.lint.source import ParsedFile, Statement

_log = logging.getLogger(__name__)

# Statement kinds the planner reads; every other statement leaves the data as it is.
_KINDS = frozenset({
    "AlterTableStmt", "IndexStmt", "UpdateStmt", "DeleteStmt", "InsertStmt", "CopyStmt", "MergeStmt",
    "TruncateStmt", "CreateStmt", "CreateTableAsStmt", "SelectStmt", "RenameStmt", "DropStmt", "ClusterStmt",
    "VacuumStmt",
})
_SERIAL = frozenset({"smallserial", "serial", "bigserial", "serial2", "serial4", "serial8"})


def _sql(node) -> str:
    from pglast.stream import RawStream

    return RawStream()(node)


def _enum(value) -> str:
    return getattr(value, "name", str(value))


def _names(nodes) -> list[str]:
    return [n.sval for n in nodes or () if hasattr(n, "sval")]


def column_refs(node) -> set[str] | None:
    """The column names an expression reads (last name part); None when it reads something we cannot
    follow (a subquery, a whole-row reference)."""
    from pglast import ast
    from pglast.visitors import Visitor

    found: set[str] = set()
    unfollowable = False

    class Refs(Visitor):
        def visit_ColumnRef(self, ancestors, ref):
            nonlocal unfollowable
            parts = [f for f in ref.fields or ()]
            if not parts or isinstance(parts[-1], ast.A_Star):
                unfollowable = True
            else:
                found.add(parts[-1].sval)

        def visit_SubLink(self, ancestors, node):
            nonlocal unfollowable
            unfollowable = True

    if node is not None:
        Refs()(node)
    return None if unfollowable else found


def _is_null_const(node) -> bool:
    from pglast import ast

    return isinstance(node, ast.A_Const) and bool(node.isnull)


def _is_const(node) -> bool:
    from pglast import ast

    if isinstance(node, ast.TypeCast):
        return _is_const(node.arg)
    return isinstance(node, ast.A_Const) and not node.isnull


@dataclass
class _Column:
    """What the deploy did to one column so far."""

    null_sql: str  # SQL true exactly for the rows where the column is NULL at this point
    db_name: str | None  # its name in the database today; None for a column added in this deploy
    changed_at: str | None = None  # where its values were last changed by the deploy (None: untouched)
    values_known: bool = True  # False: its values (not only NULL-ness) differ from the database's

    @property
    def untouched(self) -> bool:
        return self.changed_at is None and self.db_name is not None


@dataclass
class _State:
    new_tables: set[str] = field(default_factory=set)
    table_db_name: dict[str, str] = field(default_factory=dict)  # renamed in this deploy: current -> database
    columns: dict[tuple[str, str], _Column] = field(default_factory=dict)
    rows_changed: dict[str, str] = field(default_factory=dict)  # table -> where rows were inserted/deleted
    # NOT VALID constraints added in this deploy: (table, name) -> the check VALIDATE will run
    pending_constraints: dict[tuple[str, str], object] = field(default_factory=dict)  # pglast Constraint nodes

    def db_table(self, name: str) -> str:
        return self.table_db_name.get(name, name)

    def column(self, table: str, col: str) -> _Column:
        key = (table, col)
        if key not in self.columns:
            self.columns[key] = _Column(null_sql=f"{qi(col)} IS NULL", db_name=col)
        return self.columns[key]

    def changed_columns(self, table: str) -> dict[str, _Column]:
        return {c: s for (t, c), s in self.columns.items() if t == table and not s.untouched}


class Planner:
    """Walks migrations in apply order and lists the checks worth running on today's data."""

    def __init__(self) -> None:
        self.state = _State()
        self.checks: list[Check] = []

    # ------------------------------------------------------------------ entry points
    def add_file(self, parsed: ParsedFile) -> None:
        if parsed.error is not None:
            return
        import pglast

        for stmt in parsed.statements:
            if stmt.kind not in _KINDS:
                continue
            if stmt.kind == "SelectStmt" and "INTO" not in stmt.text.upper():
                continue
            if stmt.kind == "CreateStmt":  # most of a Prisma migration: the name is enough, no AST needed
                self.state.new_tables.add(stmt.relation_name())
                continue
            try:
                (raw,) = pglast.parse_sql(stmt.text)
                getattr(self, "_" + stmt.kind, _ignore)(stmt, raw.stmt, parsed.name)
            except Exception as exc:  # noqa: BLE001 - lint reports syntax; a statement we cannot plan gets no check
                _log.debug("no data check planned for %s:%s: %s", parsed.name, stmt.line, exc)

    # ------------------------------------------------------------------ helpers
    def _table(self, rangevar) -> tuple[str, Table]:
        """(the name the migration uses, the table as it is named in the database today)."""
        name = rangevar.relname
        return name, Table(self.state.db_table(name), rangevar.schemaname or None)

    def _is_new(self, name: str) -> bool:
        return name in self.state.new_tables

    def _new_check(self, kind: str, stmt: Statement, file: str, table: Table, rules: tuple[str, ...],
                   **kw) -> Check:
        return Check(kind=kind, file=file, line=stmt.line, statement=stmt.display, table=table, rules=rules,
                     position=(stmt.line, stmt.column), **kw)

    def _add(self, check: Check, name: str) -> None:
        """Record a check, unless an earlier statement of the deploy makes today's rows meaningless."""
        changed = self.state.rows_changed.get(name)
        if changed is not None and check.known is None and check.kind != TABLE_SIZE:
            check.known = Known(UNKNOWN, f"rows of {check.table.shown} are inserted or deleted earlier in this "
                                         f"deploy ({changed}): cannot know from today's data")
        self.checks.append(check)

    def _columns_unknown(self, name: str, cols: Iterable[str] | None) -> str | None:
        """Why checking these columns on today's data says nothing (renamed ones are followed), else None."""
        if cols is None:
            return "the expression reads something that cannot be followed (a subquery or a whole row)"
        for col in cols:
            state = self.state.columns.get((name, col))
            if state is not None and not state.untouched:
                if state.db_name is None and state.changed_at is None:
                    continue  # added here, NULL everywhere: callers decide
                where = f" ({state.changed_at})" if state.changed_at else ""
                return f"{col} is changed earlier in this deploy{where}: cannot know from today's data"
        return None

    def _db_col(self, name: str, col: str) -> str:
        state = self.state.columns.get((name, col))
        return state.db_name if state is not None and state.db_name else col

    def _size(self, stmt: Statement, file: str, rangevar) -> None:
        if rangevar is None:
            return
        name, table = self._table(rangevar)
        if not self._is_new(name):
            self.checks.append(self._new_check(TABLE_SIZE, stmt, file, table, ()))

    # ------------------------------------------------------------------ statements that create or empty tables
    def _CreateStmt(self, stmt, node, file):
        self.state.new_tables.add(node.relation.relname)

    def _CreateTableAsStmt(self, stmt, node, file):
        self.state.new_tables.add(node.into.rel.relname)

    def _SelectStmt(self, stmt, node, file):
        if node.intoClause is not None:
            self.state.new_tables.add(node.intoClause.rel.relname)

    def _TruncateStmt(self, stmt, node, file):
        for rel in node.relations or ():
            self._size(stmt, file, rel)
            # Empty afterwards: like a new table, nothing in it can violate anything.
            self.state.new_tables.add(rel.relname)

    def _DropStmt(self, stmt, node, file):
        if _enum(node.removeType) == "OBJECT_TABLE":
            for obj in node.objects or ():
                parts = _names(getattr(obj, "items", None) or [obj])
                if parts:
                    self.state.new_tables.discard(parts[-1])

    # ------------------------------------------------------------------ statements that change rows
    def _mark_rows(self, rangevar, file, stmt) -> None:
        if rangevar is not None and not self._is_new(rangevar.relname):
            self.state.rows_changed.setdefault(rangevar.relname, f"{file}:{stmt.line}")

    def _InsertStmt(self, stmt, node, file):
        self._mark_rows(node.relation, file, stmt)

    def _DeleteStmt(self, stmt, node, file):
        self._mark_rows(node.relation, file, stmt)

    def _MergeStmt(self, stmt, node, file):
        self._mark_rows(node.relation, file, stmt)

    def _CopyStmt(self, stmt, node, file):
        if node.is_from:
            self._mark_rows(node.relation, file, stmt)

    def _UpdateStmt(self, stmt, node, file):
        name = node.relation.relname
        if self._is_new(name):
            return
        where = f"{file}:{stmt.line}"
        complex_update = bool(node.fromClause) or node.withClause is not None
        where_refs = column_refs(node.whereClause) if node.whereClause is not None else set()
        changed = set(self.state.changed_columns(name))
        for target in node.targetList or ():
            col = target.name
            state = self.state.column(name, col)
            value_refs = column_refs(target.val)
            fills_nulls = node.whereClause is not None and _is_null_test_on(node.whereClause, col)
            read = (value_refs or set()) | (set() if fills_nulls else (where_refs or set()))
            if (complex_update or target.indirection or value_refs is None or where_refs is None
                    or read & changed):
                state.null_sql, state.values_known = "", False
                state.changed_at = where
                continue
            value_null = "false" if _is_const(target.val) else ("true" if _is_null_const(target.val)
                                                                else f"({_sql(target.val)}) IS NULL")
            if node.whereClause is None:
                new = value_null
            elif fills_nulls:
                new = _and(state.null_sql, value_null) if state.null_sql else ""
            elif state.null_sql:
                new = (value_null if value_null == state.null_sql else
                       f"CASE WHEN ({_sql(node.whereClause)}) THEN {value_null} ELSE ({state.null_sql}) END")
            else:
                new = ""
            state.null_sql = new
            state.values_known = False
            state.changed_at = where

    # ------------------------------------------------------------------ renames
    def _RenameStmt(self, stmt, node, file):
        kind = _enum(node.renameType)
        if kind == "OBJECT_TABLE" and node.relation is not None:
            old, new = node.relation.relname, node.newname
            self._size(stmt, file, node.relation)
            if old in self.state.new_tables:
                self.state.new_tables.discard(old)
                self.state.new_tables.add(new)
                return
            self.state.table_db_name[new] = self.state.db_table(old)
            for t, c in list(self.state.columns):
                if t == old:
                    self.state.columns[(new, c)] = self.state.columns.pop((t, c))
            if old in self.state.rows_changed:
                self.state.rows_changed[new] = self.state.rows_changed.pop(old)
        elif kind == "OBJECT_COLUMN" and node.relation is not None:
            table = node.relation.relname
            self._size(stmt, file, node.relation)
            state = self.state.column(table, node.subname)
            del self.state.columns[(table, node.subname)]
            self.state.columns[(table, node.newname)] = state
            if state.db_name is not None and state.untouched:
                state.null_sql = f"{qi(state.db_name)} IS NULL"

    # ------------------------------------------------------------------ index builds and maintenance
    def _ClusterStmt(self, stmt, node, file):
        self._size(stmt, file, node.relation)

    def _VacuumStmt(self, stmt, node, file):
        full = any(getattr(opt, "defname", "") == "full" for opt in node.options or ())
        if full:
            for rel in node.rels or ():
                self._size(stmt, file, getattr(rel, "relation", None))

    def _IndexStmt(self, stmt, node, file):
        name, table = self._table(node.relation)
        if self._is_new(name):
            return
        self._size(stmt, file, node.relation)
        if not node.unique:
            return
        keys, labels, refs = [], [], set()
        for elem in node.indexParams or ():
            if elem.name:
                keys.append(qi(self._db_col(name, elem.name)))
                labels.append(elem.name)
                refs.add(elem.name)
            else:
                expr_refs = column_refs(elem.expr)
                if expr_refs is None:
                    refs = None
                    break
                refs |= expr_refs
                text = _sql(elem.expr)
                keys.append(f"({text})")
                labels.append(text)
        predicate = _sql(node.whereClause) if node.whereClause is not None else None
        if refs is not None and node.whereClause is not None:
            pred_refs = column_refs(node.whereClause)
            refs = None if pred_refs is None else refs | pred_refs
        rules = ("create-index-blocking",) if not node.concurrent else ()
        check = self._new_check(UNIQUE, stmt, file, table, rules, keys=tuple(keys), key_labels=tuple(labels),
                                predicate=predicate, nulls_distinct=not node.nulls_not_distinct)
        check.known = self._known_for_columns(name, refs)
        self._add(check, name)

    def _known_for_columns(self, name: str, refs: set[str] | None) -> Known | None:
        if refs is not None:
            # Columns added here and never filled are NULL in every row: NULLs never violate a
            # UNIQUE, a FOREIGN KEY or (mostly) a CHECK, but their effect on an expression is unknown.
            added_null = [c for c in refs if (s := self.state.columns.get((name, c))) is not None
                          and s.db_name is None and s.null_sql == "true"]
            if added_null and len(added_null) == len(refs):
                return Known(OK, f"{', '.join(sorted(added_null))} is added in this deploy and NULL in every row",
                             count=0)
            if added_null:
                return Known(UNKNOWN, f"{', '.join(sorted(added_null))} is added in this deploy: cannot know")
        why = self._columns_unknown(name, refs)
        return Known(UNKNOWN, why) if why else None

    # ------------------------------------------------------------------ ALTER TABLE
    def _AlterTableStmt(self, stmt, node, file):
        if _enum(node.objtype) != "OBJECT_TABLE":
            return
        name, table = self._table(node.relation)
        if self._is_new(name):
            return
        self._size(stmt, file, node.relation)
        for cmd in node.cmds or ():
            sub = _enum(cmd.subtype)
            handler = getattr(self, "_at_" + sub[3:], None)
            if handler is not None:
                handler(stmt, file, name, table, cmd)

    def _at_SetNotNull(self, stmt, file, name, table, cmd):
        col = cmd.name
        state = self.state.column(name, col)
        check = self._new_check(NOT_NULL, stmt, file, table, ("set-not-null",), column=state.db_name or col)
        self._not_null(check, state, name)

    def _not_null(self, check: Check, state: _Column, name: str) -> None:
        self._not_null_known(check, state)
        self._add(check, name)

    def _not_null_known(self, check: Check, state: _Column) -> None:
        if not state.null_sql:
            check.known = Known(UNKNOWN, f"{check.column} is changed earlier in this deploy ({state.changed_at}) "
                                         "in a way that cannot be followed: cannot know")
        elif state.null_sql == "false":
            check.known = Known(OK, f"every row gets a value earlier in this deploy ({state.changed_at or 'DEFAULT'})",
                                count=0)
        check.value_sql = state.null_sql
        check.derived_from = state.changed_at

    def _at_AddColumn(self, stmt, file, name, table, cmd):
        coldef = cmd.def_
        col = coldef.colname
        kinds = {_enum(c.contype) for c in coldef.constraints or ()}
        default = next((c.raw_expr for c in coldef.constraints or () if _enum(c.contype) == "CONSTR_DEFAULT"), None)
        type_name = _names(coldef.typeName.names)[-1] if coldef.typeName else ""
        filled = (kinds & {"CONSTR_IDENTITY", "CONSTR_GENERATED"}) or type_name in _SERIAL
        if filled or (default is not None and not _is_null_const(default)):
            null_sql = "false"
        else:
            null_sql = "true"
        self.state.columns[(name, col)] = _Column(null_sql=null_sql, db_name=None, changed_at=None, values_known=False)
        required = "CONSTR_NOTNULL" in kinds or "CONSTR_PRIMARY" in kinds or bool(coldef.is_not_null)
        if required and null_sql == "true":
            check = self._new_check(NOT_NULL, stmt, file, table, ("add-required-column",), column=col)
            check.value_sql = "true"  # every existing row would be NULL: it fails on any row
            self._add(check, name)

    def _at_AlterColumnType(self, stmt, file, name, table, cmd):
        col = cmd.name
        state = self.state.column(name, col)
        coldef = cmd.def_
        using = coldef.raw_default
        check = self._new_check(TYPE_CHANGE, stmt, file, table, ("change-column-type",), column=state.db_name or col,
                                new_type=_sql(coldef.typeName), using=_sql(using) if using is not None else None)
        check.using_is_plain_cast = using is not None and _is_plain_cast_of(using, col)
        refs = {col} if using is None else column_refs(using)
        check.known = self._known_for_columns(name, refs)
        if check.known is not None and check.known.result == OK:
            check.known = Known(OK, check.known.reason, count=0)
        self._add(check, name)
        where = f"{file}:{stmt.line}"
        if using is not None:
            state.null_sql, state.changed_at = "", where
        state.values_known = False
        if state.changed_at is None:
            state.changed_at = where

    def _at_AddConstraint(self, stmt, file, name, table, cmd):
        con = cmd.def_
        contype = _enum(con.contype)
        if contype in ("CONSTR_UNIQUE", "CONSTR_PRIMARY"):
            self._unique_constraint(stmt, file, name, table, con, contype)
        elif contype in ("CONSTR_CHECK", "CONSTR_FOREIGN"):
            if not con.skip_validation:
                rule = "add-check-constraint" if contype == "CONSTR_CHECK" else "add-foreign-key"
                self._add(self._constraint_check(stmt, file, name, table, con, (rule,)), name)
            elif con.conname:
                # NOT VALID checks nothing now; its VALIDATE later in the deploy is checked against the
                # state at that point (after a backfill in between, say).
                self.state.pending_constraints[(name, con.conname)] = con

    def _constraint_check(self, stmt, file, name, table, con, rules) -> Check:
        """The check a CHECK or FOREIGN KEY constraint runs when validated, as the deploy leaves the table now."""
        if _enum(con.contype) == "CONSTR_CHECK":
            col = not_null_column(con.raw_expr)
            if col is not None:
                # CHECK (col IS NOT NULL), the safe way to SET NOT NULL: counted like a NOT NULL.
                state = self.state.column(name, col)
                check = self._new_check(NOT_NULL, stmt, file, table, rules, column=state.db_name or col,
                                        constraint=con.conname)
                self._not_null_known(check, state)
                return check
            refs = column_refs(con.raw_expr)
            check = self._new_check(CHECK, stmt, file, table, rules, expression=_sql(con.raw_expr),
                                    example_columns=tuple(self._db_col(name, c) for c in sorted(refs or ())),
                                    constraint=con.conname)
            if refs is not None and any(self._db_col(name, c) != c for c in refs):
                check.known = Known(UNKNOWN, "the expression names a column renamed earlier in this deploy")
            else:
                check.known = self._known_for_columns(name, refs)
                if check.known is not None and check.known.result == OK:
                    check.known = Known(UNKNOWN, check.known.reason + "; what the CHECK says about NULL is not evaluated")
            return check
        cols = _names(con.fk_attrs)
        ref_name = con.pktable.relname
        ref_table = Table(self.state.db_table(ref_name), con.pktable.schemaname or None)
        check = self._new_check(FOREIGN_KEY, stmt, file, table, rules,
                                keys=tuple(qi(self._db_col(name, c)) for c in cols), key_labels=tuple(cols),
                                ref_table=ref_table,
                                ref_columns=tuple(self._db_col(ref_name, c) for c in _names(con.pk_attrs)),
                                ref_is_new=self._is_new(ref_name), constraint=con.conname)
        check.known = self._known_for_columns(name, set(cols))
        if check.known is None and ref_name in self.state.rows_changed:
            check.known = Known(UNKNOWN, f"rows of {ref_name} are inserted or deleted earlier in this deploy "
                                         f"({self.state.rows_changed[ref_name]}): cannot know")
        return check

    def _unique_constraint(self, stmt, file, name, table, con, contype) -> None:
        if con.indexname:  # USING INDEX: the index already holds the rows unique
            return
        cols = _names(con.keys)
        rule = "add-unique-constraint" if contype == "CONSTR_UNIQUE" else "add-primary-key"
        check = self._new_check(UNIQUE, stmt, file, table, (rule,),
                                keys=tuple(qi(self._db_col(name, c)) for c in cols), key_labels=tuple(cols),
                                nulls_distinct=not con.nulls_not_distinct)
        check.known = self._known_for_columns(name, set(cols))
        self._add(check, name)
        if contype == "CONSTR_PRIMARY":
            for col in cols:
                state = self.state.column(name, col)
                nn = self._new_check(NOT_NULL, stmt, file, table, (rule,), column=state.db_name or col)
                self._not_null(nn, state, name)

    def _at_ValidateConstraint(self, stmt, file, name, table, cmd):
        pending = self.state.pending_constraints.pop((name, cmd.name), None)
        if pending is not None:
            self._add(self._constraint_check(stmt, file, name, table, pending, ()), name)
            return
        # Added by an applied migration: the runner reads the definition from the catalog, and uses
        # what this deploy did to the table's columns so far.
        check = self._new_check(VALIDATE, stmt, file, table, (), constraint=cmd.name)
        check.column_nulls = {c: s.null_sql for c, s in self.state.changed_columns(name).items()}
        self._add(check, name)


def _and(a: str, b: str) -> str:
    """a AND b for the NULL predicates, with the constants folded (so a backfill is known to fill all)."""
    if "false" in (a, b):
        return "false"
    if a == "true":
        return b
    if b == "true":
        return a
    return f"({a}) AND {b}"


def _ignore(*_args) -> None:
    return None


def not_null_column(node) -> str | None:
    """The column of `col IS NOT NULL`, else None."""
    from pglast import ast

    if not isinstance(node, ast.NullTest) or _enum(node.nulltesttype) != "IS_NOT_NULL":
        return None
    arg = node.arg
    return _names(arg.fields)[-1] if isinstance(arg, ast.ColumnRef) and _names(arg.fields) else None


def _is_null_test_on(node, col: str) -> bool:
    from pglast import ast

    if not isinstance(node, ast.NullTest) or _enum(node.nulltesttype) != "IS_NULL":
        return False
    arg = node.arg
    return isinstance(arg, ast.ColumnRef) and _names(arg.fields)[-1:] == [col]


def _is_plain_cast_of(node, col: str) -> bool:
    from pglast import ast

    return (isinstance(node, ast.TypeCast) and isinstance(node.arg, ast.ColumnRef)
            and _names(node.arg.fields)[-1:] == [col])


def plan_checks(parsed_files: Iterable[ParsedFile]) -> list[Check]:
    """The checks for these migrations (in apply order), each knowing its file and statement."""
    planner = Planner()
    for parsed in parsed_files:
        planner.add_file(parsed)
    return planner.checks


def plan_sources(sources: Iterable[tuple[str, str]]) -> list[Check]:
    """plan_checks over (name, SQL text) pairs."""
    from migtool.lint.source import parse_source

    return plan_checks(parse_source(text, name) for name, text in sources)
