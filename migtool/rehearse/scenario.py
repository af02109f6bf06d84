"""The rehearsal's request scenario (`rehearse.requests` in migtool.yaml): parsing and templating.

Kept free of asyncio and httpx: the configuration parses it on every start.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from migtool.errors import ConfigError

_PLACEHOLDER = re.compile(r"\{\{\s*(n|id)\s*\}\}")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: Any = None
    expect: tuple[int, ...] = (200,)

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


def parse_scenario(raw: Any) -> tuple[Request, ...]:
    """Validate `rehearse.requests`; ConfigError names the bad item."""
    if not isinstance(raw, list) or not raw:
        raise ConfigError("rehearse.requests must be a non-empty list of {method, path, body?, expect?}")
    out = []
    for i, item in enumerate(raw, 1):
        if not isinstance(item, dict) or not isinstance(item.get("path"), str) or not item["path"].startswith("/"):
            raise ConfigError(f"rehearse.requests item {i}: needs a path starting with /")
        method = str(item.get("method", "GET")).upper()
        if method not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            raise ConfigError(f"rehearse.requests item {i}: unknown method {method!r}")
        expect = item.get("expect", 201 if method == "POST" else 200)
        expect = tuple(expect) if isinstance(expect, list) else (expect,)
        if not all(isinstance(e, int) and 100 <= e <= 599 for e in expect):
            raise ConfigError(f"rehearse.requests item {i}: expect must be an HTTP status or a list of them")
        unknown = set(item) - {"method", "path", "body", "expect"}
        if unknown:
            raise ConfigError(f"rehearse.requests item {i}: unknown key(s) {', '.join(sorted(unknown))}")
        out.append(Request(method, item["path"], item.get("body"), expect))
    return tuple(out)


def fill(value: Any, n: int, known_id: Any) -> Any:
    """The template with `{{n}}` and `{{id}}` filled in, recursively through a JSON body."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value.strip())
        if whole:  # a body value that is only a placeholder keeps its type (an int id stays an int)
            return n if whole.group(1) == "n" else known_id
        return _PLACEHOLDER.sub(lambda m: str(n if m.group(1) == "n" else known_id), value)
    if isinstance(value, dict):
        return {k: fill(v, n, known_id) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, n, known_id) for v in value]
    return value


def needs_id(request: Request) -> bool:
    return "{{id}}" in re.sub(r"\s", "", json.dumps([request.path, request.body]))
