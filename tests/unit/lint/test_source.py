"""Statement positions: libpg_query counts bytes of UTF-8; we report lines and columns people see."""

from migtool.lint import lint_sql
from migtool.lint.source import parse_source, skip_blank


def test_statements_start_after_leading_comments_with_correct_lines():
    sql = (
        "-- CreateTable\n"
        'CREATE TABLE "A" (\n    "id" INT\n);\n'
        "\n"
        "/* a block\n   comment */\n"
        "-- CreateIndex\n"
        'CREATE INDEX "i" ON "B"("x");\n'
    )
    parsed = parse_source(sql, "m.sql")
    assert [s.kind for s in parsed.statements] == ["CreateStmt", "IndexStmt"]
    assert [s.line for s in parsed.statements] == [2, 9]
    assert parsed.statements[1].text == 'CREATE INDEX "i" ON "B"("x")'


def test_multibyte_text_before_a_statement_does_not_shift_lines_or_columns():
    sql = (
        "-- Größe, café, 日本語 — comments in UTF-8\n"
        "INSERT INTO t VALUES ('ünïcödé ✓');  "
        'CREATE INDEX "i" ON "Ü"("é");\n'
        'ALTER TABLE "Ü" DROP COLUMN "é";\n'
    )
    parsed = parse_source(sql, "m.sql")
    index, drop = parsed.statements[1], parsed.statements[2]
    assert (index.line, index.column) == (2, 38)
    assert index.text == 'CREATE INDEX "i" ON "Ü"("é")'
    assert (drop.line, drop.column) == (3, 1)
    finding = [f for f in lint_sql(sql) if f.rule == "drop-column"][0]
    assert (finding.line, finding.column) == (3, 1)
    assert '"Ü"."é"' in finding.message


def test_last_statement_without_semicolon_and_nested_block_comments():
    sql = "/* outer /* inner */ still comment */ SELECT 1;\n  DROP TABLE \"x\""
    parsed = parse_source(sql, "m.sql")
    assert [s.line for s in parsed.statements] == [1, 2]
    assert parsed.statements[0].text == "SELECT 1"
    assert parsed.statements[1].text == 'DROP TABLE "x"'
    assert parsed.statements[1].column == 3


def test_skip_blank_handles_unterminated_comments():
    data = b"-- only a comment"
    assert skip_blank(data, 0, len(data)) == len(data)
    data = b"/* never closed"
    assert skip_blank(data, 0, len(data)) == len(data)


def test_syntax_error_is_a_danger_finding_with_file_and_line():
    sql = "CREATE TABLE a (id int);\n\nALTER TABLE a ADD COLUMN;\n"
    findings = lint_sql(sql, name="prisma/migrations/1_x/migration.sql")
    assert len(findings) == 1
    f = findings[0]
    assert (f.rule, f.severity, f.line) == ("syntax-error", "danger", 3)
    assert f.file == "prisma/migrations/1_x/migration.sql"
    assert "prisma/migrations/1_x/migration.sql" in f.message and "line 3" in f.message
    assert not f.suppressed


def test_syntax_error_position_after_multibyte_text():
    sql = "-- é è ê\nSELECT 'ü';\nSELEC 1;\n"
    f = lint_sql(sql)[0]
    assert f.rule == "syntax-error" and f.line == 3 and f.column == 1


def test_empty_and_comment_only_files_have_no_findings():
    assert lint_sql("") == []
    assert lint_sql("-- This is an empty migration.\n/* nothing */\n") == []


def test_statement_display_is_one_line_and_bounded():
    long_sql = 'ALTER TABLE "User"\n    DROP COLUMN "a",\n' + ",\n".join(f'    ADD COLUMN "c{i}" TEXT' for i in range(40))
    f = [f for f in lint_sql(long_sql) if f.rule == "drop-column"][0]
    assert "\n" not in f.statement
    assert f.statement.startswith('ALTER TABLE "User" DROP COLUMN "a", ADD COLUMN')
    assert len(f.statement) <= 240 and f.statement.endswith("...")
