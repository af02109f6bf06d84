"""The SQL a DO block runs, read statically with PostgreSQL's PL/pgSQL parser (libpg_query via pglast).

A DO block runs now, inside the migration, so its statements are linted like the file's own: plain
SQL statements of the body, and EXECUTE of a constant string. So does a PL/pgSQL function or
procedure the same migration creates and then runs (`SELECT f();`, `CALL p();`). SQL built at run
time (EXECUTE format(...), string concatenation, FOR ... IN EXECUTE) cannot be read; those are
reported, so a block is never passed in silence.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from migtool.lint.pgquery import ParseFailure, parse_plpgsql_json
from migtool.lint.source import Statement

_LITERAL = re.compile(r"\A\s*'((?:[^']|'')*)'\s*\Z", re.DOTALL)
_DOLLAR = re.compile(r"\A\s*(\$[A-Za-z_0-9]*\$)(.*)\1\s*\Z", re.DOTALL)


@dataclass
class BlockSQL:
    pieces: list[tuple[int, str]] = field(default_factory=list)  # (line in the file where the SQL starts, SQL)
    unreadable: list[str] = field(default_factory=list)  # why some of it could not be read


def _literal(expr: str) -> str | None:
    """The text of a constant string expression ('...' or $tag$...$tag$), else None."""
    m = _LITERAL.match(expr)
    if m:
        return m.group(1).replace("''", "'")
    m = _DOLLAR.match(expr)
    return m.group(2) if m else None


def _walk(node, out: BlockSQL, base_line: int) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, out, base_line)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key == "PLpgSQL_stmt_execsql":
            query = ((value.get("sqlstmt") or {}).get("PLpgSQL_expr") or {}).get("query")
            if query:
                out.pieces.append((base_line + value.get("lineno", 1), query))
            continue
        if key == "PLpgSQL_stmt_dynexecute":
            query = ((value.get("query") or {}).get("PLpgSQL_expr") or {}).get("query", "")
            text = _literal(query)
            if text is None:
                short = " ".join(query.split())
                out.unreadable.append(f"EXECUTE {short[:60]}{'...' if len(short) > 60 else ''} "
                                      f"(line {base_line + value.get('lineno', 1)})")
            else:
                out.pieces.append((base_line + value.get("lineno", 1), text))
            continue
        if key in ("PLpgSQL_stmt_dynfors", "PLpgSQL_stmt_open") and (value.get("query") or value.get("dynquery")):
            if key == "PLpgSQL_stmt_dynfors" or value.get("dynquery"):
                out.unreadable.append(f"FOR/OPEN ... EXECUTE (line {base_line + value.get('lineno', 1)})")
                continue
        _walk(value, out, base_line)


def _body_and_language(node: dict) -> tuple[str | None, str]:
    body, language = None, "plpgsql" if "args" in node else "sql"
    for arg in node.get("args") or node.get("options") or ():
        elem = arg.get("DefElem") or {}
        value_node = elem.get("arg") or {}
        items = value_node.get("List", {}).get("items")
        value = (items[0] if items else value_node).get("String", {}).get("sval")
        if elem.get("defname") == "as":
            body = value
        elif elem.get("defname") == "language" and value:
            language = value.lower()
    return body, language


def called_function(stmt: Statement) -> str | None:
    """The function a `SELECT f(...);` or `CALL p(...);` runs (its last name part), else None."""
    node = stmt.decoded()
    if stmt.kind == "CallStmt":
        call = node.get("funccall") or {}
    elif stmt.kind == "SelectStmt" and not node.get("fromClause"):
        targets = node.get("targetList") or []
        call = ((targets[0].get("ResTarget") or {}).get("val") or {}).get("FuncCall") or {} if len(targets) == 1 else {}
    else:
        return None
    parts = [p.get("String", {}).get("sval", "") for p in call.get("funcname", ())]
    return parts[-1] if parts else None


def function_name(stmt: Statement) -> str | None:
    """The name (last part) of a PL/pgSQL function or procedure a CREATE FUNCTION makes, else None."""
    node = stmt.decoded()
    body, language = _body_and_language(node)
    parts = [p.get("String", {}).get("sval", "") for p in node.get("funcname", ())]
    return parts[-1] if parts and body is not None and language == "plpgsql" else None


def do_block_sql(stmt: Statement) -> BlockSQL:
    """The statically readable SQL of a DO statement (or a CREATE FUNCTION), and what could not be read."""
    out = BlockSQL()
    body, language = _body_and_language(stmt.decoded())
    if language != "plpgsql" or body is None:
        out.unreadable.append(f"the block is in LANGUAGE {language}")
        return out
    try:
        tree = json.loads(parse_plpgsql_json(stmt.text))
    except ParseFailure as exc:
        out.unreadable.append(f"its body does not parse as PL/pgSQL ({exc.message[:80]})")
        return out
    at = stmt.text.find(body)
    # PL/pgSQL line 1 is the line where the body starts; base_line + lineno is the file's line.
    base_line = stmt.line - 1 + (stmt.text.count("\n", 0, at) if at >= 0 else 0)
    _walk(tree, out, base_line)
    return out
