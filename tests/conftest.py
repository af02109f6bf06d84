from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.pgserver import PgServer, start_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One real PostgreSQL cluster for the whole test session."""
    server = start_server()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def pg_dbname(pg_server: PgServer) -> Iterator[str]:
    """A fresh, empty database of its own for each test."""
    name = pg_server.create_database()
    try:
        yield name
    finally:
        if pg_server.is_running():
            pg_server.drop_database(name)


@pytest.fixture
def pg_url(pg_server: PgServer, pg_dbname: str) -> str:
    """DATABASE_URL of the test's own database (contains a password: never print it)."""
    return pg_server.url(pg_dbname)
