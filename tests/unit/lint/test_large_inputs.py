"""Linear cost on wide statements; large files parsed chunk by chunk give the same report."""

import time

import pytest

import migtool.lint.source as source
from migtool.lint import lint_sql


def wide_alter(n: int) -> str:
    cmds = [f'ADD COLUMN "c{i}" TEXT NOT NULL' if i % 2 else f'DROP COLUMN "d{i}"' for i in range(n)]
    return 'ALTER TABLE "User"\n  ' + ",\n  ".join(cmds) + ";\n"


def test_a_wide_alter_table_lints_in_linear_time():
    sql = wide_alter(4000)
    t0 = time.perf_counter()
    findings = lint_sql(sql)
    elapsed = time.perf_counter() - t0
    assert len([f for f in findings if f.rule == "drop-column"]) == 2000
    assert len([f for f in findings if f.rule == "add-required-column"]) == 2000
    # Each finding shows the statement's head only, computed once (it used to re-scan per finding: 21 s).
    assert all(len(f.statement) <= source.STATEMENT_DISPLAY_LIMIT for f in findings)
    assert elapsed < 3.0, elapsed


def test_display_reads_only_the_head_of_a_statement():
    text = "ALTER TABLE t" + "   \n" * 10_000 + " ADD COLUMN x int" * 10_000
    shown = source.display_text(text)
    assert shown.startswith("ALTER TABLE t ADD COLUMN x int") and shown.endswith("...")
    assert len(shown) == source.STATEMENT_DISPLAY_LIMIT
    assert source.display_text("SELECT   1") == "SELECT 1"


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(source, "LARGE_FILE", 1000)
    monkeypatch.setattr(source, "CHUNK_SIZE", 4000)


def history_sql(n: int) -> str:
    parts = []
    for i in range(n):
        parts.append(f'-- migtool:allow drop-column unused since v{i}\nALTER TABLE "U{i % 7}" DROP COLUMN "c{i}";\n'
                     f'CREATE TABLE "T{i}" ("a" TEXT NOT NULL DEFAULT \'x\');\n'
                     f'ALTER TABLE "T{i}" ALTER COLUMN "a" DROP DEFAULT;\n'
                     f'DO $$ BEGIN EXECUTE \'TRUNCATE "X{i}"\'; END $$;\n')
    return "SET lock_timeout = '1s';\n" + "".join(parts)


def key(findings):
    return [(f.rule, f.line, f.column, f.suppressed, f.statement) for f in findings]


def test_a_large_file_parsed_in_chunks_gives_the_same_findings(small_chunks):
    sql = history_sql(400)
    parsed = source.parse_source(sql, "big.sql", chunked=True)
    assert parsed.chunks is not None and len(parsed.chunks) > 10
    assert parsed.statement_count == 1 + 4 * 400
    chunked = lint_sql(sql)
    source.LARGE_FILE = 1 << 40
    whole = lint_sql(sql)
    assert key(chunked) == key(whole)
    assert {f.rule for f in whole} == {"drop-column", "truncate"}
    assert all(f.suppressed for f in whole if f.rule == "drop-column")


def test_a_syntax_error_in_a_late_chunk_is_reported_at_its_line(small_chunks):
    sql = history_sql(300) + "SELEC 1;\n"
    (finding,) = lint_sql(sql)
    assert finding.rule == "syntax-error"
    assert finding.line == sql.count("\n")


def test_large_file_statements_drop_their_trees_once_linted(small_chunks):
    from migtool.lint.context import Context
    from migtool.lint.engine import lint_parsed

    parsed = source.parse_source(history_sql(200), "big.sql", chunked=True)  # has migtool:allow comments: positions kept
    lint_parsed(parsed, Context())
    assert len(parsed.statements) == parsed.statement_count
    assert all(s.node == {} and s.text == "" for s in parsed.statements)
    plain = source.parse_source(history_sql(200).replace("migtool:allow", "note"), "big.sql", chunked=True)
    findings = lint_parsed(plain, Context())
    assert plain.statements == [] and len([f for f in findings if f.rule == "drop-column"]) == 200


def test_other_callers_get_every_statement_without_chunking(small_chunks):
    parsed = source.parse_source(history_sql(50), "big.sql")
    assert parsed.chunks is None and len(parsed.statements) == 1 + 4 * 50
