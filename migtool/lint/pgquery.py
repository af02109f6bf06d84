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


def _bind(call: str, free: str, result: type[ctypes.Structure]) -> tuple[Callable, Callable] | None:
    """`call(const char *) -> result` and its `free(result)` from libpg_query's C API in pglast's
    extension, or None if the extension or either symbol is missing."""
    path = _extension_path()
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(path)
        call_fn = getattr(lib, call)
        free_fn = getattr(lib, free)
    except (OSError, AttributeError):
        return None
    call_fn.argtypes = [ctypes.c_char_p]
    call_fn.restype = result
    free_fn.argtypes = [result]
    free_fn.restype = None
    return call_fn, free_fn


def _load_fast_parser() -> Parser | None:
    bound = _bind("pg_query_parse", "pg_query_free_parse_result", _ParseResult)
    if bound is None:
        return None
    pg_query_parse, free_result = bound

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


class _SplitStmt(ctypes.Structure):
    _fields_ = [("stmt_location", ctypes.c_int), ("stmt_len", ctypes.c_int)]


class _SplitResult(ctypes.Structure):
    _fields_ = [("stmts", ctypes.POINTER(ctypes.POINTER(_SplitStmt))), ("n_stmts", ctypes.c_int),
                ("stderr_buffer", ctypes.c_void_p), ("error", ctypes.c_void_p)]


_splitter = None
_splitter_loaded = False


def statement_starts(data: bytes) -> list[int] | None:
    """Byte offsets where each statement starts, from libpg_query's scanner (quotes, dollar quotes
    and comments understood; no parse tree built), or None if the scanner is unavailable or fails."""
    global _splitter, _splitter_loaded
    if not _splitter_loaded:
        _splitter = _bind("pg_query_split_with_scanner", "pg_query_free_split_result", _SplitResult)
        _splitter_loaded = True
    if _splitter is None or b"\x00" in data:
        return None
    split, free = _splitter
    result = split(data)
    try:
        if result.error:
            return None
        return [result.stmts[i].contents.stmt_location for i in range(result.n_stmts)]
    finally:
        free(result)


class _PlpgsqlResult(ctypes.Structure):
    _fields_ = [("plpgsql_funcs", ctypes.c_void_p), ("error", ctypes.c_void_p)]


_plpgsql = None
_plpgsql_loaded = False


def parse_plpgsql_json(text: str) -> str:
    """The PL/pgSQL parse tree (JSON) of a DO or CREATE FUNCTION statement, as pglast's
    parse_plpgsql_json gives it, without importing pglast. Raises ParseFailure."""
    global _plpgsql, _plpgsql_loaded
    if not _plpgsql_loaded:
        _plpgsql = _bind("pg_query_parse_plpgsql", "pg_query_free_plpgsql_parse_result", _PlpgsqlResult)
        _plpgsql_loaded = True
    data = text.encode("utf-8")
    if _plpgsql is not None and b"\x00" not in data:
        parse, free = _plpgsql
        result = parse(data)
        try:
            if not result.error and result.plpgsql_funcs:
                return ctypes.string_at(result.plpgsql_funcs).decode("utf-8")
        finally:
            free(result)
    from pglast.parser import parse_plpgsql_json as slow  # the error message, or no shortcut

    try:
        return slow(text)
    except Exception as exc:  # noqa: BLE001 - pglast raises several kinds; any means "does not parse"
        raise ParseFailure(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, None) from None
