"""Checking the SQL fragments a user types on the command line (a type, a default) with pglast."""

from __future__ import annotations

from migtool.errors import ConfigError
from migtool.plan.naming import ql


def column_type(text: str) -> str:
    """The type as typed, once PostgreSQL's parser accepts it as a column type (TEXT, VARCHAR(20),
    DECIMAL(12,2), "OrderStatus"). A bad one is a usage error."""
    from pglast import parse_sql
    from pglast.parser import ParseError

    cleaned = " ".join(text.split())
    try:
        stmts = parse_sql(f"ALTER TABLE t ADD COLUMN c {cleaned}")
        cmd = stmts[0].stmt.cmds[0]
        ok = len(stmts) == 1 and not cmd.def_.constraints
    except (ParseError, AttributeError, IndexError):
        ok = False
    if not cleaned or not ok:
        raise ConfigError(f"not a column type: {text!r}",
                          hint="give a PostgreSQL type as Prisma writes it, e.g. TEXT, INTEGER, VARCHAR(20), "
                               "DECIMAL(12,2), TIMESTAMP(3)")
    return cleaned


def default_expression(value: str) -> str:
    """A --default as SQL. A constant or expression (0, true, 'x', now(), gen_random_uuid()) stays as
    written; a bare word or other text becomes a string literal (UNKNOWN -> 'UNKNOWN')."""
    from pglast import parse_sql
    from pglast.parser import ParseError

    if value.strip().upper() == "NULL":
        raise ConfigError("--default NULL leaves the column without a value for old rows",
                          hint="give the value old rows and old code's inserts should get, e.g. --default UNKNOWN")
    try:
        stmts = parse_sql(f"SELECT {value}")
        target = stmts[0].stmt.targetList
        node = target[0].val if len(stmts) == 1 and len(target) == 1 and not stmts[0].stmt.fromClause else None
    except (ParseError, AttributeError, IndexError, TypeError):
        node = None
    if node is not None and type(node).__name__ in ("A_Const", "FuncCall", "TypeCast", "SQLValueFunction", "A_Expr"):
        return value.strip()
    return ql(value)


def canonical_type(text: str) -> str:
    """A type as PostgreSQL's parser reads it, so DECIMAL(10,2) and numeric(10, 2) compare equal."""
    from pglast import parse_sql
    from pglast.parser import ParseError
    from pglast.stream import RawStream

    try:
        cmd = parse_sql(f"ALTER TABLE t ADD COLUMN c {text}")[0].stmt.cmds[0]
        text = RawStream()(cmd.def_.typeName).lower()
    except (ParseError, AttributeError, IndexError):
        return " ".join(text.lower().split())
    base, paren, rest = text.partition("(")
    return _ALIASES.get(base, base) + paren + rest


_ALIASES = {"int4": "integer", "int": "integer", "int8": "bigint", "int2": "smallint", "bool": "boolean",
            "float8": "double precision", "float4": "real"}
