"""Split a migration into statements with PostgreSQL's own parser, keeping where each one starts.

libpg_query gives its parse tree as JSON, about ten times faster than building pglast's Python
node objects. Decoding that JSON is still most of a lint run, so each statement's tree is cut out
of the text and decoded only when a rule or the context looks at it: a CREATE TABLE, the bulk of a
Prisma migration, is usually answered from its text (the table name, whether it has a foreign key).

libpg_query's offsets (stmt_location, stmt_len, location) count bytes of the UTF-8 text, so all
positions here are byte offsets into `data`, turned into line and column (in characters) only for
display.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from json import loads as json_loads
from typing import Any

from migtool.lint.pgquery import ParseFailure, parse_to_json, statement_starts

_WS = b" \t\r\n\f\v"
_SPACES = re.compile(r"\s+")
STATEMENT_DISPLAY_LIMIT = 240
# Above this size a file is parsed a chunk of statements at a time, and each statement's tree is
# dropped once linted, so memory stays bounded by the chunk (or the largest statement), not the file.
LARGE_FILE = 4 << 20
CHUNK_SIZE = 1 << 20


_RELNAME = re.compile(rb'"relation":\{(?:"catalogname":"(?:[^"\\]|\\.)*",)?(?:"schemaname":"((?:[^"\\]|\\.)*)",)?'
                      rb'"relname":"((?:[^"\\]|\\.)*)"')


class Statement:
    __slots__ = ("index", "kind", "node", "_raw", "start", "end", "line", "column", "text", "data", "_display",
                 "base", "existing_cmds")

    def __init__(self, index: int, kind: str, node: dict[str, Any] | None, raw: bytes | None, start: int,
                 end: int, line: int, column: int, text: str, data: bytes, base: int = 0):
        self.index = index  # position in its file, from 0
        self.kind = kind  # the parse node's name: "AlterTableStmt", "IndexStmt", ...
        # The node's fields as libpg_query's JSON gives them. Filled by decoded(): the engine decodes
        # every statement a rule is registered for, so rules read .node directly.
        self.node: dict[str, Any] = node if node is not None else {}
        self._raw = raw  # the node's JSON while not decoded
        self.start = start  # byte offset of the first token (leading comments skipped)
        self.end = end  # byte offset just after the statement (its ';' not included)
        self.line = line  # 1-based
        self.column = column  # 1-based, in characters
        self.text = text  # the statement's source text
        self.data = data  # the whole file's UTF-8 bytes: parse-tree locations are offsets into it
        self._display: str | None = None
        # Offset of `data` in the file: a large file is parsed in chunks, and then `data` is the
        # chunk (parse-tree locations, start and end are offsets into it).
        self.base = base
        # ALTER TABLE only: (subtype, table as SQL, table name, AlterTableCmd) of each subcommand when
        # the table exists, filled once by migtool.lint.alter for all the rules that read it.
        self.existing_cmds: list[tuple[str, str, str, dict[str, Any]]] | None = None

    def release(self) -> None:
        """Drop the parse tree and text once linted (large files): only positions are kept."""
        self.node, self._raw, self.text = {}, None, ""

    def decoded(self) -> dict[str, Any]:
        """The node, decoding its JSON the first time."""
        if self._raw is not None:
            self.node = json_loads(self._raw)
            self._raw = None
        return self.node

    def may_contain(self, token: bytes) -> bool:
        """False only when the undecoded tree surely lacks `token` (e.g. b'"CONSTR_FOREIGN"')."""
        return self._raw is None or token in self._raw

    def relation_name(self) -> str:
        """The first relation's name (the table a CREATE TABLE creates), without decoding the tree."""
        m = _RELNAME.search(self._raw) if self._raw is not None else None
        if m is None:
            return (self.decoded().get("relation") or {}).get("relname", "")
        return _json_text(m.group(2))

    def relation_schema(self) -> str | None:
        """The first relation's schema as written (None when unqualified), without decoding the tree."""
        return self.relation_parts()[0]

    def relation_parts(self) -> tuple[str | None, str]:
        """(schema as written or None, name) of the first relation, without decoding the tree."""
        m = _RELNAME.search(self._raw) if self._raw is not None else None
        if m is None:
            rel = self.decoded().get("relation") or {}
            return rel.get("schemaname"), rel.get("relname", "")
        schema = m.group(1)
        return (None if schema is None else _json_text(schema)), _json_text(m.group(2))

    def source(self, start: int, end: int) -> str:
        """Source text between two byte offsets of the file (parse-tree locations)."""
        return self.data[start:end].decode("utf-8", errors="replace")

    @property
    def display(self) -> str:
        """The statement on one line, shortened for reports (computed once, from its head only: an
        ALTER TABLE with thousands of subcommands has a finding per subcommand)."""
        if self._display is None:
            self._display = display_text(self.text)
        return self._display


def display_text(text: str) -> str:
    """Whitespace collapsed and shortened to STATEMENT_DISPLAY_LIMIT, reading no more than needed."""
    head = text[:STATEMENT_DISPLAY_LIMIT * 2]
    flat = _SPACES.sub(" ", head).strip()
    while len(flat) <= STATEMENT_DISPLAY_LIMIT and len(head) < len(text):
        head = text[:len(head) * 4]  # mostly whitespace so far: read further
        flat = _SPACES.sub(" ", head).strip()
    if len(flat) > STATEMENT_DISPLAY_LIMIT:
        flat = flat[: STATEMENT_DISPLAY_LIMIT - 3].rstrip() + "..."
    return flat


def _json_text(raw: bytes) -> str:
    return json_loads(b'"' + raw + b'"') if b"\\" in raw else raw.decode("utf-8")


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
    bom: bool = False  # the text started with a UTF-8 byte order mark (skipped, as psql does)
    # For a large file: byte ranges of chunks of whole statements, parsed one at a time by
    # iter_statements(); `statements` then fills as they are read.
    chunks: list[tuple[int, int]] | None = None
    chunk_statements: int = 0

    @property
    def statement_count(self) -> int:
        return self.chunk_statements if self.chunks is not None else len(self.statements)

    def iter_statements(self):
        """The statements in order; for a large file parsed chunk by chunk (a syntax error sets
        `error` and ends the iteration)."""
        if self.chunks is None:
            yield from self.statements
            return
        # Statements are kept (tree dropped by the engine) only for suppression comments to find them.
        keep = b"migtool:" in self.data
        line, pos, index = 1, 0, 0
        for start, end in self.chunks:
            line += self.data.count(b"\n", pos, start)
            pos = start
            chunk = self.data[start:end]
            text = chunk.decode("utf-8")
            try:
                tree = parse_to_json(text, chunk)
            except ParseFailure as exc:
                err_line, column = _char_position(text, exc.index)
                self.error = SyntaxProblem(exc.message, line + err_line - 1, column)
                return
            stmts = _statements(tree, chunk, index, line, start)
            del tree
            index += len(stmts)
            if keep:
                self.statements += stmts
            yield from stmts


_COPY_FROM_STDIN = re.compile(rb"\bCOPY\b[^;]*?\bFROM\s+STDIN\b[^;]*;[^\n]*\n", re.IGNORECASE)
_END_OF_DATA = re.compile(rb"^\\\.[ \t]*\r?$", re.MULTILINE)
_BLANK = bytes(b if b == 0x0A else 0x20 for b in range(256))


def blank_copy_data(data: bytes) -> bytes:
    """psql-style `COPY ... FROM stdin;` data blocks (up to a line `\\.`) turned into spaces, newlines
    kept, so the parser skips them and every position stays where it was."""
    if not _COPY_FROM_STDIN.search(data):
        return data
    out, pos = [], 0
    for m in _COPY_FROM_STDIN.finditer(data):
        if m.start() < pos:
            continue
        end = _END_OF_DATA.search(data, m.end())
        stop = len(data) if end is None else end.end()
        out += [data[pos:m.end()], data[m.end():stop].translate(_BLANK)]
        pos = stop
    out.append(data[pos:])
    return b"".join(out)


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
            pos = end_of_block_comment(data, pos, end)
        else:
            break
    return pos


def end_of_block_comment(data: bytes, pos: int, end: int) -> int:
    """The offset just after the block comment opening at pos (they nest in PostgreSQL), at most end."""
    depth, i = 1, pos + 2
    while i < end and depth:
        if data.startswith(b"/*", i):
            depth, i = depth + 1, i + 2
        elif data.startswith(b"*/", i):
            depth, i = depth - 1, i + 2
        else:
            i += 1
    return i


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


_FIRST = b'"stmts":[{"stmt":{"'
_NEXT = b'},{"stmt":{"'
_KIND = re.compile(rb"[A-Za-z]+")
_LEN_KEY = b',"stmt_len":'
_LOC_KEY = b',"stmt_location":'


def split_tree(tree: bytes, size: int) -> list[tuple[str, bytes, int, int]] | None:
    """(kind, node JSON, stmt_location, stmt_len) for each statement, cut out of the JSON text.

    The cut points are `},{"stmt":{"`: only RawStmt has a "stmt" field, and inside JSON strings
    quotes are escaped, so the sequence occurs nowhere else. Anything unexpected returns None and
    the caller decodes the whole tree instead.
    """
    if not tree.endswith(b"]}"):
        return [] if tree.startswith(b'{"version":') and b'"stmts"' not in tree else None
    if tree.endswith(b'"stmts":[]}'):
        return []
    head = tree.find(_FIRST)
    if head < 0:
        return None
    pieces = tree[head + len(_FIRST):-2].split(_NEXT)
    out = []
    previous = -1
    last = len(pieces) - 1
    for i, piece in enumerate(pieces):
        if i < last:
            piece += b"}"
        quote = piece.find(b'"')
        if quote <= 0 or not _KIND.fullmatch(piece, 0, quote) or piece[quote:quote + 3] != b'":{':
            return None
        # The piece ends with: }[,"stmt_location":N][,"stmt_len":M]}  (zero values are left out)
        end = len(piece) - 1
        cut = piece.rfind(_LEN_KEY, max(0, end - 32), end)
        length = int(piece[cut + len(_LEN_KEY):end]) if cut >= 0 else 0
        end = cut if cut >= 0 else end
        cut = piece.rfind(_LOC_KEY, max(0, end - 32), end)
        loc = int(piece[cut + len(_LOC_KEY):end]) if cut >= 0 else 0
        end = cut if cut >= 0 else end
        if piece[end - 1:end] != b"}" or loc < previous or loc + length > size:
            return None
        previous = loc
        out.append((piece[:quote].decode("ascii"), piece[quote + 2:end - 1], loc, length))
    return out


def parse_source(text: str, name: str, *, chunked: bool = False) -> ParsedFile:
    """The file's statements. With chunked=True (the lint engine), a file above LARGE_FILE is only
    split here and parsed chunk by chunk as ParsedFile.iter_statements() is read."""
    bom = text.startswith("\ufeff")
    if bom:
        text = text[1:]
    data = text.encode("utf-8")
    if b"stdin" in data or b"STDIN" in data:
        blanked = blank_copy_data(data)
        if blanked is not data:
            data, text = blanked, blanked.decode("utf-8")
    parsed = ParsedFile(name=name, data=data, bom=bom)
    if "\x00" in text:
        # The parser reads a C string and would silently stop at the NUL; PostgreSQL rejects it.
        line, column = _char_position(text, text.index("\x00"))
        parsed.error = SyntaxProblem("the file contains a NUL byte", line, column)
        return parsed
    if chunked and len(data) > LARGE_FILE:
        found = _chunks(data)
        if found is not None:
            parsed.chunk_statements, parsed.chunks = found
            return parsed
    try:
        tree = parse_to_json(text, data)
    except ParseFailure as exc:
        line, column = _char_position(text, exc.index)
        parsed.error = SyntaxProblem(exc.message, line, column)
        return parsed
    parsed.statements = _statements(tree, data, 0, 1, 0)
    return parsed


def _chunks(data: bytes) -> list[tuple[int, list[int]]] | None:
    """(statement count, chunk byte ranges of about CHUNK_SIZE) for a large file, or None."""
    starts = statement_starts(data)
    if not starts:
        return None
    bounds, chunk_start = [], 0
    for s in starts[1:]:
        if s - chunk_start >= CHUNK_SIZE:
            bounds.append((chunk_start, s))
            chunk_start = s
    bounds.append((chunk_start, len(data)))
    return len(starts), bounds


def _statements(tree: bytes | str, data: bytes, first_index: int, first_line: int, base: int) -> list[Statement]:
    if isinstance(tree, str):
        tree = tree.encode("utf-8")
    size = len(data)
    raw_statements = split_tree(tree, size)
    if raw_statements is None:
        raw_statements = []
        for raw in json_loads(tree).get("stmts", ()):
            ((kind, node),) = raw["stmt"].items()
            raw_statements.append((kind, node, raw.get("stmt_location", 0), raw.get("stmt_len", 0)))
    lines = LineIndex(data)
    out = []
    for i, (kind, node, loc, length) in enumerate(raw_statements, start=first_index):
        end = loc + length if length else size
        start = skip_blank(data, loc, end)
        decoded, raw = (None, node) if isinstance(node, bytes) else (node, None)
        out.append(Statement(
            index=i, kind=kind, node=decoded, raw=raw, start=start, end=end,
            line=lines.line(start) + first_line - 1, column=lines.column(start),
            text=data[start:end].decode("utf-8", errors="replace").rstrip(), data=data, base=base,
        ))
    return out
