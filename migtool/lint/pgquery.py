"""PostgreSQL's own parser (libpg_query, as bundled in pglast) without pglast's start-up cost.

`import pglast` creates about 950 enum members and its AST classes before the first parse: some
25 ms, more than parsing a typical folder of migrations. pglast's parser extension also exports
libpg_query's C API, so the fast path calls `pg_query_parse` through ctypes: the same parser and
the same JSON as `pglast.parser.parse_sql_json`. Only the result struct of three pointers is read
(its layout has not changed across libpg_query releases). A syntax error is handed to pglast itself,
which reports the message and position; if the shortcut cannot be set up, pglast is used for
everything.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

Parser = Callable[[bytes], "bytes | None"]  # UTF-8 SQL -> JSON parse tree, None on a syntax error


class _ParseResult(ctypes.Structure):
    _fields_ = [("parse_tree", ctypes.c_void_p), ("stderr_buffer", ctypes.c_void_p), ("error", ctypes.c_void_p)]


def _extension_path() -> str | None:
    """pglast's parser extension, found without importing pglast (which would run its __init__)."""
    import importlib.machinery
    import importlib.util
    import os

    try:
        spec = importlib.util.find_spec("pglast")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "parser" + suffix)
            if os.path.isfile(path):
                return path
    return None


def _load_fast_parser() -> Parser | None:
    path = _extension_path()
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(path)
        pg_query_parse = lib.pg_query_parse
        free_result = lib.pg_query_free_parse_result
    except (OSError, AttributeError):
        return None
    pg_query_parse.argtypes = [ctypes.c_char_p]
    pg_query_parse.restype = _ParseResult
    free_result.argtypes = [_ParseResult]
    free_result.restype = None

    def parse(data: bytes) -> bytes | None:
        result = pg_query_parse(data)
        try:
            if result.error or not result.parse_tree:
                return None
            return ctypes.string_at(result.parse_tree)
        finally:
            free_result(result)

    return parse


_fast: Parser | None = None
_fast_loaded = False


def fast_parser() -> Parser | None:
    global _fast, _fast_loaded
    if not _fast_loaded:
        _fast, _fast_loaded = _load_fast_parser(), True
    return _fast


class ParseFailure(Exception):
    """The SQL does not parse: message and 0-based character index (or None) as pglast reports them."""

    def __init__(self, message: str, index: int | None):
        super().__init__(message)
        self.message = message
        self.index = index


def parse_to_json(text: str, data: bytes) -> bytes | str:
    """The JSON parse tree of `text` (`data` is its UTF-8 encoding). Raises ParseFailure."""
    fast = fast_parser()
    if fast is not None and b"\x00" not in data:
        tree = fast(data)
        if tree is not None:
            return tree
    from pglast.parser import ParseError, parse_sql_json

    try:
        return parse_sql_json(text)
    except ParseError as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        index = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else None
        raise ParseFailure(message, index) from None
