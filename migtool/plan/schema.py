"""What tables and columns exist, so a plan names real ones: read from the live database when it is
reachable, and from the migrations folder (CREATE TABLE / ALTER TABLE, parsed with pglast)
otherwise. A name that is not there is an error naming the closest match."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from migtool.errors import ConfigError

SMALL_TABLE_ROWS = 10_000  # below this (by pg_class.reltuples), one UPDATE holds its row locks briefly


@dataclass
class Column:
    name: str
    type: str  # as SQL: text, integer, numeric(10,2), "OrderStatus"
    not_null: bool = False
    default: str | None = None


@dataclass
class Index:
    name: str
    columns: list[str]
    unique: bool = False


@dataclass
class Table:
    name: str
    columns: dict[str, Column] = field(default_factory=dict)
    primary_key: list[str] = field(default_factory=list)
    indexes: list[Index] = field(default_factory=list)
    rows: int | None = None  # pg_class.reltuples; None when unknown (folder, or never analyzed)
    referenced_by: list[tuple[str, str]] = field(default_factory=list)  # (table, constraint)
    small_below: int = SMALL_TABLE_ROWS  # fewer rows than this: one UPDATE backfills it


@dataclass
class Schema:
    tables: dict[str, Table] = field(default_factory=dict)
    source: str = "the migrations folder"  # where the names were read, for messages
    live: bool = False  # read from a reachable database (row estimates are real)

    def table(self, name: str) -> Table:
        found = self.tables.get(name)
        if found is None:
            raise NameNotFound("table", name, closest(name, list(self.tables)), self.source)
        return found

    def column(self, table: str, name: str) -> Column:
        t = self.table(table)
        found = t.columns.get(name)
        if found is None:
            raise NameNotFound("column", name, closest(name, list(t.columns)), self.source, table=table)
        return found


class NameNotFound(ConfigError):
    """A table or column that the schema does not have (exit 2), with the closest existing name."""

    def __init__(self, kind: str, name: str, suggestion: str | None, source: str, table: str | None = None):
        where = f' in table "{table}"' if table else ""
        guess = f'; did you mean "{suggestion}"?' if suggestion else ""
        super().__init__(f'{kind} "{name}" not found{where} ({source}){guess}')
        self.kind = kind
        self.name = name
        self.suggestion = suggestion


def closest(name: str, candidates: list[str]) -> str | None:
    """The most similar existing name: case differences first ("user" -> "User"), then difflib."""
    for c in candidates:
        if c.lower() == name.lower():
            return c
    lowered = {c.lower(): c for c in candidates}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


# --- from the live database -------------------------------------------------------------------

COLUMNS_SQL = """
SELECT c.relname AS "table", a.attname AS "column", format_type(a.atttypid, a.atttypmod) AS "type",
       a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS "default",
       c.reltuples::bigint AS "rows", s.n_live_tup AS live_rows
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
 ORDER BY c.relname, a.attnum
"""

INDEXES_SQL = """
SELECT t.relname AS "table", ic.relname AS "index", i.indisunique AS "unique", i.indisprimary AS "primary",
       ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.ord) AS "columns"
  FROM pg_index i
  JOIN pg_class t ON t.oid = i.indrelid
  JOIN pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
 WHERE n.nspname = current_schema()
"""

REFERENCES_SQL = """
SELECT rt.relname AS "referenced", t.relname AS "table", con.conname AS "constraint"
  FROM pg_constraint con
  JOIN pg_class t ON t.oid = con.conrelid
  JOIN pg_class rt ON rt.oid = con.confrelid
  JOIN pg_namespace n ON n.oid = rt.relnamespace
 WHERE con.contype = 'f' AND n.nspname = current_schema()
"""


def estimate_rows(reltuples: int | None, live_rows: int | None) -> int | None:
    """pg_class.reltuples, unless it is -1 (never analyzed) or 0 (maybe only since an index was built on
    the empty table): then the statistics collector's live-row count, so a grown table never counts
    as small by accident."""
    if reltuples is not None and reltuples > 0:
        return int(reltuples)
    if live_rows is not None and live_rows > 0:
        return int(live_rows)
    return 0 if reltuples == 0 and live_rows is not None else None


def schema_from_rows(columns: list[dict], indexes: list[dict], references: list[dict], source: str) -> Schema:
    schema = Schema(source=source, live=True)
    for row in columns:
        table = schema.tables.setdefault(row["table"], Table(row["table"]))
        table.rows = estimate_rows(row["rows"], row.get("live_rows"))
        table.columns[row["column"]] = Column(row["column"], row["type"], bool(row["not_null"]), row["default"])
    for row in indexes:
        table = schema.tables.get(row["table"])
        if table is None:
            continue
        if row["primary"]:
            table.primary_key = list(row["columns"])
        table.indexes.append(Index(row["index"], list(row["columns"]), bool(row["unique"])))
    for row in references:
        table = schema.tables.get(row["referenced"])
        if table is not None:
            table.referenced_by.append((row["table"], row["constraint"]))
    return schema


def read_live_schema(db) -> Schema:
    """The current schema of a reachable database (raises MigtoolError when it is not)."""
    return schema_from_rows(db.query(COLUMNS_SQL), db.query(INDEXES_SQL), db.query(REFERENCES_SQL),
                            f"live schema of {db.describe()}")


# --- from the migrations folder ---------------------------------------------------------------

def _type_sql(type_name) -> str:
    from pglast.stream import RawStream

    text = RawStream()(type_name)
    # SERIAL is a column type only at creation: a copy of the column is a plain integer.
    return {"serial": "integer", "bigserial": "bigint", "smallserial": "smallint"}.get(text.lower(), text)


def _expr_sql(node) -> str:
    from pglast.stream import RawStream

    return RawStream()(node)


def _column_from_def(coldef) -> tuple[Column, bool]:
    """(the column, whether it is declared PRIMARY KEY)."""
    col = Column(coldef.colname, _type_sql(coldef.typeName))
    primary = False
    if coldef.typeName.names and coldef.typeName.names[-1].sval.lower() in ("serial", "bigserial", "smallserial"):
        col.not_null = True
        col.default = "nextval(...)"
    for con in coldef.constraints or ():
        kind = con.contype.name
        if kind in ("CONSTR_NOTNULL", "CONSTR_PRIMARY"):
            col.not_null = True
        if kind == "CONSTR_PRIMARY":
            primary = True
        if kind == "CONSTR_DEFAULT" and con.raw_expr is not None:
            col.default = _expr_sql(con.raw_expr)
    return col, primary


def apply_statement(schema: Schema, stmt) -> None:
    """Update the schema with what one parsed statement does (what Prisma's migrations use)."""
    kind = type(stmt).__name__
    if kind == "CreateStmt":
        table = Table(stmt.relation.relname)
        for elt in stmt.tableElts or ():
            if type(elt).__name__ == "ColumnDef":
                col, primary = _column_from_def(elt)
                table.columns[col.name] = col
                if primary:
                    table.primary_key = [col.name]
            elif type(elt).__name__ == "Constraint" and elt.contype.name == "CONSTR_PRIMARY":
                table.primary_key = [k.sval for k in elt.keys or ()]
                for k in table.primary_key:
                    if k in table.columns:
                        table.columns[k].not_null = True
        schema.tables[table.name] = table
    elif kind == "AlterTableStmt" and stmt.relation is not None:
        table = schema.tables.get(stmt.relation.relname)
        if table is None:
            return
        for cmd in stmt.cmds or ():
            _apply_alter(table, cmd)
            con = cmd.def_ if cmd.subtype.name == "AT_AddConstraint" else None
            if con is not None and con.contype.name == "CONSTR_FOREIGN" and con.pktable is not None:
                referenced = schema.tables.get(con.pktable.relname)
                if referenced is not None:
                    referenced.referenced_by.append((table.name, con.conname or ""))
            elif con is not None and con.contype.name == "CONSTR_PRIMARY":
                table.primary_key = [k.sval for k in con.keys or ()]
    elif kind == "RenameStmt" and stmt.relation is not None:
        table = schema.tables.get(stmt.relation.relname)
        if table is None:
            return
        if stmt.renameType.name == "OBJECT_TABLE":
            schema.tables[stmt.newname] = schema.tables.pop(table.name)
            table.name = stmt.newname
        elif stmt.renameType.name == "OBJECT_COLUMN" and stmt.subname in table.columns:
            col = table.columns.pop(stmt.subname)
            col.name = stmt.newname
            table.columns[col.name] = col
    elif kind == "DropStmt" and stmt.removeType.name == "OBJECT_TABLE":
        for obj in stmt.objects or ():
            schema.tables.pop(obj[-1].sval, None)
    elif kind == "IndexStmt" and stmt.relation is not None:
        table = schema.tables.get(stmt.relation.relname)
        if table is not None:
            cols = [p.name for p in stmt.indexParams or () if p.name]
            table.indexes.append(Index(stmt.idxname or "", cols, bool(stmt.unique)))


def _apply_alter(table: Table, cmd) -> None:
    sub = cmd.subtype.name
    if sub == "AT_AddColumn":
        col, primary = _column_from_def(cmd.def_)
        table.columns[col.name] = col
        if primary:
            table.primary_key = [col.name]
    elif sub == "AT_DropColumn":
        table.columns.pop(cmd.name, None)
    elif cmd.name in table.columns:
        col = table.columns[cmd.name]
        if sub == "AT_SetNotNull":
            col.not_null = True
        elif sub == "AT_DropNotNull":
            col.not_null = False
        elif sub == "AT_ColumnDefault":
            col.default = _expr_sql(cmd.def_) if cmd.def_ is not None else None
        elif sub == "AT_AlterColumnType":
            col.type = _type_sql(cmd.def_.typeName)


def read_folder_schema(folder: Path) -> Schema:
    """The schema the migrations in `folder` build, in apply order. Files that do not parse are skipped
    (lint reports them)."""
    from pglast import parse_sql
    from pglast.parser import ParseError

    schema = Schema(source=f"migrations folder {folder}")
    if not folder.is_dir():
        return schema
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        script = sub / "migration.sql"
        if not script.is_file():
            continue
        try:
            stmts = parse_sql(script.read_text(encoding="utf-8", errors="replace"))
        except ParseError:
            continue
        for raw in stmts:
            apply_statement(schema, raw.stmt)
    return schema


def merge(live: Schema, folder: Schema) -> Schema:
    """The live schema plus tables that only pending migrations create yet."""
    for name, table in folder.tables.items():
        if name not in live.tables:
            live.tables[name] = table
        else:
            for cname, col in table.columns.items():
                live.tables[name].columns.setdefault(cname, col)
    return live
