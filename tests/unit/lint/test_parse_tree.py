"""The fast path to the parse tree must give exactly what pglast gives."""

import json

import pytest
from pglast.parser import parse_sql_json

from migtool.lint import lint_sql, pgquery
from migtool.lint.source import parse_source, split_tree

SAMPLES = [
    "",
    "-- only a comment",
    "SELECT 1",
    "SELECT 1;;  SELECT 2;",
    'CREATE TABLE "a""b\\c" (x int); CREATE TABLE s."Ü" (y int REFERENCES z (id));',
    "SELECT '},{\"stmt\":{\"' AS tricky; SELECT 2",
    'CREATE TABLE "é" (a int)  ',
    "DO $$ BEGIN RAISE NOTICE '},{\"stmt\":{\"'; END $$;\nALTER TABLE t ADD COLUMN c int;",
    "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO u VALUES (1); INSERT INTO v VALUES (2));",
    'CREATE TABLE IF NOT EXISTS "Post" ("id" SERIAL NOT NULL, CONSTRAINT "Post_pkey" PRIMARY KEY ("id"));',
]


@pytest.mark.parametrize("sql", SAMPLES)
def test_statements_match_a_full_decode_of_pglast_json(sql):
    reference = json.loads(parse_sql_json(sql)).get("stmts", [])
    parsed = parse_source(sql, "m.sql")
    assert len(parsed.statements) == len(reference)
    for stmt, raw in zip(parsed.statements, reference, strict=True):
        ((kind, node),) = raw["stmt"].items()
        assert stmt.kind == kind
        if kind == "CreateStmt":  # answered from the text, before any decoding
            assert stmt.relation_name() == node["relation"]["relname"]
        assert stmt.decoded() == node
        assert stmt.end == (raw.get("stmt_location", 0) + raw["stmt_len"] if raw.get("stmt_len") else len(sql.encode()))


def test_split_tree_refuses_unexpected_shapes():
    assert split_tree(b'{"version":180006,"stmts":[]}', 0) == []
    assert split_tree(b"not json", 10) is None
    assert split_tree(b'{"version":1,"stmts":[{"stmt":{"1bad":{}}}]}', 10) is None
    # A statement location beyond the text cannot be right.
    assert split_tree(b'{"version":1,"stmts":[{"stmt":{"SelectStmt":{}},"stmt_len":99}]}', 10) is None


def test_without_the_fast_parser_results_are_the_same(monkeypatch):
    sql = 'CREATE TABLE "T" (a int);\nALTER TABLE "User" DROP COLUMN "x";\nSELEC 1;'
    fast = [f.to_dict() for f in lint_sql(sql)]
    monkeypatch.setattr(pgquery, "_fast", None)
    monkeypatch.setattr(pgquery, "_fast_loaded", True)
    assert [f.to_dict() for f in lint_sql(sql)] == fast
    ok = 'ALTER TABLE "User" DROP COLUMN "x";'
    assert [f.rule for f in lint_sql(ok)] == ["drop-column", "missing-lock-timeout"]


def test_fast_parser_is_available_with_the_installed_pglast():
    # If this fails, pglast's extension changed: lint still works (through pglast), only slower.
    assert pgquery.fast_parser() is not None


def test_nul_byte_is_a_syntax_error_not_a_silent_stop():
    findings = lint_sql('SELECT 1;\nDROP TABLE "x"\x00; DROP TABLE "y";')
    assert [(f.rule, f.line) for f in findings] == [("syntax-error", 2)]
    assert "NUL" in findings[0].message
