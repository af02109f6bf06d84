"""`--set` and `--where` are SQL expressions by design; here we make sure they are nothing more.

Each is parsed by PostgreSQL's own parser (pglast) inside a statement we control, must come out
as exactly one assignment list or one boolean expression, and is then printed back from the
parse tree. We splice the reprinted text, never the user's: a trailing `--` comment or a second
statement (`; DROP TABLE ...`) cannot survive a parse and reprint.
"""

from __future__ import annotations

from dataclasses import dataclass

import pglast
from pglast.stream import RawStream

from migtool.errors import ConfigError


@dataclass(frozen=True)
class Assignment:
    column: str  # exact column name, as PostgreSQL folded/quoted it
    expression: str  # reprinted from the parse tree


def _parse_one(prefix: str, what: str, text: str):
    try:
        stmts = pglast.parse_sql(prefix + text)
    except pglast.parser.ParseError as exc:
        message, where = (exc.args + (None,))[:2]
        at = f" at character {where - len(prefix) + 1}" if isinstance(where, int) and where >= len(prefix) else ""
        raise ConfigError(f"{what} is not valid SQL ({message}{at}): {text!r}",
                          hint=f"{what} takes one SQL expression; quote it for the shell") from None
    if len(stmts) != 1:
        raise ConfigError(f"{what} must be a single expression, not several statements: {text!r}",
                          hint="remove the `;` and whatever follows it")
    return stmts[0].stmt


def parse_set(text: str) -> list[Assignment]:
    """`col = expr [, col2 = expr2]` -> assignments; anything else is a ConfigError."""
    if not text or not text.strip():
        raise ConfigError("--set is empty", hint='e.g. --set "email_lower = lower(email)"')
    stmt = _parse_one("UPDATE migtool_target SET ", "--set", text)
    if type(stmt).__name__ != "UpdateStmt":
        raise ConfigError(f"--set must be `column = expression`: {text!r}")
    extra = [name for name, clause in (("WHERE", stmt.whereClause), ("FROM", stmt.fromClause),
                                       ("RETURNING", stmt.returningClause)) if clause]
    if extra:
        raise ConfigError(f"--set must be only `column = expression`, it also has {', '.join(extra)}: {text!r}",
                          hint="put the row condition in --where")
    out: list[Assignment] = []
    for target in stmt.targetList:
        if type(target.val).__name__ == "MultiAssignRef":
            raise ConfigError(f"--set: `(a, b) = (...)` is not supported: {text!r}",
                              hint='write one assignment per column: --set "a = x, b = y"')
        if target.indirection:
            raise ConfigError(f"--set: assign whole columns only (no subscripts or fields): {text!r}")
        if any(a.column == target.name for a in out):
            raise ConfigError(f"--set assigns column {target.name!r} twice")
        out.append(Assignment(target.name, RawStream()(target.val)))
    return out


def parse_where(text: str) -> str:
    """One boolean expression -> its reprint; anything else is a ConfigError."""
    if not text or not text.strip():
        raise ConfigError("--where is empty", hint="leave it out to update rows whose --set column IS NULL")
    stmt = _parse_one("SELECT 1 WHERE ", "--where", text)
    simple = (type(stmt).__name__ == "SelectStmt" and stmt.whereClause is not None
              and not any(getattr(stmt, f) for f in ("fromClause", "groupClause", "havingClause", "sortClause",
                                                     "limitCount", "limitOffset", "windowClause",
                                                     "withClause", "lockingClause", "larg", "rarg",
                                                     "distinctClause", "intoClause"))
              and len(stmt.targetList or ()) == 1)
    if not simple:
        raise ConfigError(f"--where must be a single condition: {text!r}",
                          hint='e.g. --where "created_at < now() - interval \'1 day\'"')
    return RawStream()(stmt.whereClause)
