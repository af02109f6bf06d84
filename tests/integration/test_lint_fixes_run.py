"""Every rule's fix SQL runs on a real PostgreSQL: a fix that does not run can never ship again.

For each rule's `bad` example: a fresh schema gets the rule's `setup`, then the statements of the
example before the flagged one, then the SQL statements of the fix (placeholders filled), each on
its own in autocommit as separate migration files would run them (CONCURRENTLY included). A fix
that offers alternatives ("Or ...") has each alternative run on a fresh schema.
"""

from __future__ import annotations

import re

import psycopg
import pytest

from migtool.lint import lint_sql
from migtool.lint.fixes import fix_statements
from migtool.lint.rules import RULES
from migtool.lint.source import parse_source

pytestmark = pytest.mark.integration

# Rules whose fix is a procedure or a tool, not SQL to paste (checked: they really give none).
NO_SQL = {"truncate", "concurrently-in-transaction", "vacuum-full", "cluster", "backfill-in-migration"}
PLACEHOLDERS = {
    "<value>": "'0'",
    "<type>": "text",
    "<primary key in the next batch>": "true",
    "<unique column>": '"id"',
}
_TYPE_OF = re.compile(r"<type of [^<>]*>")
_LEFT = re.compile(r"<[a-z][^<>]*>")
WORK = "fixcase"

CASES = [(rule.id, rule.setup, sql) for rule in RULES if rule.setup for sql in rule.bad]


def fill(sql: str) -> str:
    for key, value in PLACEHOLDERS.items():
        sql = sql.replace(key, value)
    return _TYPE_OF.sub("text", sql)


@pytest.fixture(scope="module")
def conn(pg_server):
    name = pg_server.create_database()
    try:
        with psycopg.connect(pg_server.url(name), autocommit=True) as connection:
            yield connection
    finally:
        pg_server.drop_database(name)


def fresh_schema(conn) -> None:
    conn.execute("ROLLBACK")  # a bad example may have left a transaction open (BEGIN ...)
    conn.execute(f"DROP SCHEMA IF EXISTS {WORK} CASCADE")
    for (schema,) in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
            "AND nspname NOT IN ('public', 'information_schema')").fetchall():
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    conn.execute(f"CREATE SCHEMA {WORK}")
    conn.execute(f"SET search_path TO {WORK}")
    conn.execute("RESET lock_timeout")


def run_all(conn, statements: list[str], what: str) -> None:
    for sql in statements:
        try:
            conn.execute(sql)
        except psycopg.Error as exc:
            raise AssertionError(f"{what} failed on PostgreSQL: {sql}\n{exc}") from None


@pytest.mark.parametrize(("rule_id", "setup", "sql"), CASES, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(CASES)])
def test_every_fix_runs_after_the_setup(conn, rule_id, setup, sql):
    findings = [f for f in lint_sql(sql) if f.rule == rule_id]
    assert findings, f"{rule_id} did not fire on its own bad example: {sql}"
    statements = parse_source(sql, "bad.sql").statements
    for finding in findings:
        alternatives = fix_statements(finding.fix)
        if rule_id in NO_SQL:
            assert alternatives == [], f"{rule_id} now gives SQL: take it out of NO_SQL so it is run"
            continue
        flagged = next(i for i, s in enumerate(statements) if s.line == finding.line and s.column == finding.column)
        before = [s.text for s in statements[:flagged]]
        for alternative in alternatives:
            filled = [fill(s) for s in alternative]
            left = [s for s in filled if _LEFT.search(s)]
            assert not left, f"unfilled placeholder in the fix of {rule_id}: {left}"
            fresh_schema(conn)
            run_all(conn, [setup], f"setup of {rule_id}")
            run_all(conn, before, f"the statements before the flagged one in {sql!r}")
            run_all(conn, filled, f"the fix of {rule_id} for {sql!r}")


@pytest.mark.parametrize("rule", [r for r in RULES if r.bad and r.id not in NO_SQL and r.setup], ids=lambda r: r.id)
def test_every_rule_with_sql_gives_runnable_sql_for_some_example(rule):
    assert any(fix_statements(f.fix) for sql in rule.bad for f in lint_sql(sql) if f.rule == rule.id)


def test_every_statement_rule_has_a_setup():
    from migtool.lint.rules import STATEMENT_RULES

    assert [r.id for r in STATEMENT_RULES if not r.setup] == []


def test_the_key_swap_fix_would_fail_with_the_old_index_name(conn):
    """The regression from issue 10: CREATE UNIQUE INDEX CONCURRENTLY "t_pkey" clashes with the old key."""
    fresh_schema(conn)
    conn.execute('CREATE TABLE "Tag" ("id" INT NOT NULL, "name" TEXT NOT NULL, CONSTRAINT "Tag_pkey" PRIMARY KEY ("name"))')
    with pytest.raises(psycopg.errors.DuplicateTable):
        conn.execute('CREATE UNIQUE INDEX CONCURRENTLY "Tag_pkey" ON "Tag" ("id")')
    (finding,) = [f for f in lint_sql('ALTER TABLE "Tag" DROP CONSTRAINT "Tag_pkey", '
                                      'ADD CONSTRAINT "Tag_pkey" PRIMARY KEY ("id");') if f.rule == "add-primary-key"]
    conn.execute("ROLLBACK")
    run_all(conn, fix_statements(finding.fix)[0], "the key swap fix")
    assert conn.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'Tag_pkey'").fetchone() == (
        "PRIMARY KEY (id)",)


def test_deferrable_unique_fix_keeps_deferrable(conn):
    fresh_schema(conn)
    conn.execute('CREATE TABLE "User" ("id" INT, "slot" INT)')
    (finding,) = [f for f in lint_sql('ALTER TABLE "User" ADD CONSTRAINT "User_slot_key" UNIQUE ("slot") '
                                      'DEFERRABLE INITIALLY DEFERRED;') if f.rule == "add-unique-constraint"]
    run_all(conn, fix_statements(finding.fix)[0], "the deferrable unique fix")
    assert conn.execute("SELECT condeferrable, condeferred FROM pg_constraint WHERE conname = 'User_slot_key'"
                        ).fetchone() == (True, True)
