"""Split a migration into statements with PostgreSQL's own parser, keeping where each one starts.

libpg_query (through pglast) gives its parse tree as JSON, which is about ten times faster to get
than pglast's Python node objects; its offsets (stmt_location, stmt_len, location) count bytes of
the UTF-8 text, so all positions here are byte offsets into `data` and are turned into line and
column (in characters) only for display.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

try:  # decoding the parse trees is most of a lint run's time; orjson does it about twice as fast
    from orjson import loads as _json_loads
except ImportError:  # pragma: no cover - orjson is a dependency; stay correct without it
    from json import loads as _json_loads

_WS = b" \t\r\n\f\v"
_SPACES = re.compile(r"\s+")
STATEMENT_DISPLAY_LIMIT = 240


@dataclass(slots=True)
class Statement:
    index: int  # position in its file, from 0
    kind: str  # the parse node's name: "AlterTableStmt", "IndexStmt", ...
    node: dict[str, Any]  # the node's fields, as libpg_query's JSON gives them
    start: int  # byte offset of the first token (leading comments skipped)
    end: int  # byte offset just after the statement (its ';' not included)
    line: int  # 1-based
    column: int  # 1-based, in characters
    text: str  # the statement's source text
    data: bytes  # the whole file's UTF-8 bytes: parse-tree locations are offsets into it

    def source(self, start: int, end: int) -> str:
        """Source text between two byte offsets of the file (parse-tree locations)."""
        return self.data[start:end].decode("utf-8", errors="replace")

    @property
    def display(self) -> str:
        """The statement on one line, shortened for reports."""
        flat = _SPACES.sub(" ", self.text).strip()
        if len(flat) > STATEMENT_DISPLAY_LIMIT:
            flat = flat[: STATEMENT_DISPLAY_LIMIT - 3].rstrip() + "..."
        return flat


@dataclass
class SyntaxProblem:
    message: str
    line: int
    column: int | None


@dataclass
class ParsedFile:
    name: str
    data: bytes
    statements: list[Statement] = field(default_factory=list)
    error: SyntaxProblem | None = None


def skip_blank(data: bytes, pos: int, end: int) -> int:
    """The offset of the first token at or after pos: whitespace and comments skipped."""
    while pos < end:
        ch = data[pos]
        if ch in _WS:
            pos += 1
        elif data.startswith(b"--", pos):
            nl = data.find(b"\n", pos, end)
            pos = end if nl < 0 else nl + 1
        elif data.startswith(b"/*", pos):
            # Block comments nest in PostgreSQL.
            depth, pos = 1, pos + 2
            while pos < end and depth:
                if data.startswith(b"/*", pos):
                    depth, pos = depth + 1, pos + 2
                elif data.startswith(b"*/", pos):
                    depth, pos = depth - 1, pos + 2
                else:
                    pos += 1
        else:
            break
    return pos


class LineIndex:
    """Byte offset -> (line, column); offsets are asked in increasing order, so counting is incremental."""

    def __init__(self, data: bytes):
        self.data = data
        self._pos = 0
        self._line = 1

    def line(self, offset: int) -> int:
        if offset < self._pos:
            self._pos, self._line = 0, 1
        self._line += self.data.count(b"\n", self._pos, offset)
        self._pos = offset
        return self._line

    def column(self, offset: int) -> int:
        line_start = self.data.rfind(b"\n", 0, offset) + 1
        return len(self.data[line_start:offset].decode("utf-8", errors="replace")) + 1


def _char_position(text: str, index: int | None) -> tuple[int, int | None]:
    if index is None:
        return 1, None
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def parse_source(text: str, name: str) -> ParsedFile:
    from pglast.parser import ParseError, parse_sql_json  # the C extension: kept out of import time

    data = text.encode("utf-8")
    parsed = ParsedFile(name=name, data=data)
    try:
        tree = _json_loads(parse_sql_json(text))
    except ParseError as exc:
        message = exc.args[0] if exc.args else str(exc)
        # pglast reports the error position as a character index into the text.
        index = exc.args[1] if len(exc.args) > 1 else None
        line, column = _char_position(text, index)
        parsed.error = SyntaxProblem(str(message), line, column)
        return parsed
    lines = LineIndex(data)
    size = len(data)
    for i, raw in enumerate(tree.get("stmts", ())):
        loc = raw.get("stmt_location", 0)
        length = raw.get("stmt_len", 0)
        end = loc + length if length else size
        start = skip_blank(data, loc, end)
        (kind, node), = raw["stmt"].items()
        parsed.statements.append(Statement(
            index=i, kind=kind, node=node, start=start, end=end,
            line=lines.line(start), column=lines.column(start),
            text=data[start:end].decode("utf-8", errors="replace").rstrip(), data=data,
        ))
    return parsed
