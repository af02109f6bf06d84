"""One SQL statement on its own autocommit connection, for tests that poke a database between CLI runs."""

from __future__ import annotations

import psycopg


def sql(url: str, query: str, params: tuple | None = None) -> list[tuple] | None:
    """The rows of `query`, or None for a statement that returns none."""
    with psycopg.connect(url, autocommit=True) as c:
        cur = c.execute(query, params)
        return cur.fetchall() if cur.description else None
