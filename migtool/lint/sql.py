"""Small readers of libpg_query's JSON parse tree, and writers of the SQL our fixes suggest."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Node = dict[str, Any]


def qi(name: str) -> str:
    """A quoted identifier: always quoted, so mixed-case Prisma names and keywords stay correct."""
    return '"' + name.replace('"', '""') + '"'


def sval(node: Node) -> str:
    """The text of a {"String": {"sval": ...}} node."""
    inner = node.get("String")
    if inner is not None:
        return inner.get("sval", "")
    return ""


def names(nodes: list[Node] | None) -> list[str]:
    return [sval(n) for n in nodes or ()]


def table_name(rangevar: Node | None) -> str:
    """The key objects are tracked by: the relation's name as PostgreSQL stores it."""
    return rangevar.get("relname", "") if rangevar else ""


def table_ref(rangevar: Node | None) -> str:
    """The relation as SQL, schema included when the statement had one."""
    if not rangevar:
        return "?"
    schema = rangevar.get("schemaname")
    ref = qi(rangevar.get("relname", ""))
    return f"{qi(schema)}.{ref}" if schema else ref


def object_ref(parts: list[str]) -> str:
    return ".".join(qi(p) for p in parts)


def drop_objects(node: Node) -> list[list[str]]:
    """DROP TABLE/INDEX targets as name parts ([schema, ]name)."""
    out = []
    for obj in node.get("objects", ()):
        items = obj.get("List", {}).get("items")
        if items is not None:
            out.append(names(items))
        elif "String" in obj:
            out.append([sval(obj)])
    return out


def table_cmds(stmt_node: Node) -> Iterator[Node]:
    """The AlterTableCmd bodies of an ALTER TABLE (not ALTER INDEX/VIEW/TYPE)."""
    if stmt_node.get("objtype", "OBJECT_TABLE") != "OBJECT_TABLE":
        return
    for cmd in stmt_node.get("cmds", ()):
        body = cmd.get("AlterTableCmd")
        if body is not None:
            yield body


def cmd_constraint(cmd: Node) -> Node | None:
    definition = cmd.get("def") or {}
    return definition.get("Constraint")


def cmd_column(cmd: Node) -> Node | None:
    definition = cmd.get("def") or {}
    return definition.get("ColumnDef")


def column_constraints(coldef: Node) -> list[Node]:
    return [c["Constraint"] for c in coldef.get("constraints", ()) if "Constraint" in c]


def const_int(node: Node) -> int | None:
    inner = node.get("A_Const")
    if inner is None:
        return None
    if "ival" in inner:
        return inner["ival"].get("ival", 0)  # libpg_query omits a zero value
    return None


_TYPE_NAMES = {
    "int2": "smallint", "int4": "integer", "int8": "bigint", "float4": "real", "float8": "double precision",
    "bool": "boolean", "bpchar": "char", "varchar": "varchar", "numeric": "numeric",
    "timestamp": "timestamp", "timestamptz": "timestamptz", "time": "time", "timetz": "timetz",
    "interval": "interval",
}


def format_type(type_name: Node | None) -> str:
    """A TypeName as SQL, e.g. varchar(255), integer[], "Role"."""
    if not type_name:
        return "?"
    parts = names(type_name.get("names"))
    if len(parts) == 2 and parts[0] == "pg_catalog":
        base = _TYPE_NAMES.get(parts[1], parts[1])
    elif len(parts) == 1 and (parts[0].islower() and parts[0].replace("_", "").isalnum()):
        base = parts[0]
    else:
        base = object_ref(parts)
    mods = [const_int(m) for m in type_name.get("typmods", ())]
    if mods and all(m is not None for m in mods):
        base += "(" + ",".join(str(m) for m in mods) + ")"
    base += "[]" * len(type_name.get("arrayBounds", ()))
    return base


def type_base(type_name: Node | None) -> str:
    """The type's own name, without schema or modifiers: varchar, text, int4, Role."""
    parts = names((type_name or {}).get("names"))
    return parts[-1] if parts else ""


def cols_sql(columns: list[str]) -> str:
    return ", ".join(qi(c) for c in columns)


def auto_constraint_name(table: str, columns: list[str], suffix: str) -> str:
    """The name PostgreSQL gives an unnamed constraint (before its 63-byte truncation)."""
    if suffix == "pkey":
        columns = []
    elif suffix == "check":
        columns = columns[:1]
    return "_".join([table, *columns, suffix])


_FALSE_WORDS = frozenset({"false", "off", "no", "0"})


def option_enabled(options: list[Node] | None, name: str) -> bool:
    """Whether a parenthesized option (VACUUM (FULL), REINDEX (CONCURRENTLY)) is on: present with no
    value, or with a value PostgreSQL reads as true. `FULL FALSE` / `CONCURRENTLY off` are off."""
    for opt in options or ():
        elem = opt.get("DefElem") or {}
        if elem.get("defname") != name:
            continue
        arg = elem.get("arg")
        if not arg:
            return True
        if "String" in arg:
            return arg["String"].get("sval", "").lower() not in _FALSE_WORDS
        if "Integer" in arg:
            return bool(arg["Integer"].get("ival", 0))
        if "Boolean" in arg:
            return bool(arg["Boolean"].get("boolval", False))
        if "A_Const" in arg:
            const = arg["A_Const"]
            if "boolval" in const:
                return bool(const["boolval"].get("boolval", False))
            if "ival" in const:
                return bool(const["ival"].get("ival", 0))
            if "sval" in const:
                return const["sval"].get("sval", "").lower() not in _FALSE_WORDS
        return True
    return False


def list_names(obj: Node | None) -> list[str]:
    """Name parts of an object given as {"List": {"items": [...]}} or a bare String node."""
    if not obj:
        return []
    if "List" in obj:
        return names(obj["List"].get("items"))
    if "String" in obj:
        return [sval(obj)]
    return []
