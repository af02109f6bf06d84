"""-- migtool:allow <rule-id>[,<rule-id>] <reason>"""

from migtool.lint import lint_sql
from migtool.lint.suppress import parse_directive

KNOWN = {"drop-column", "drop-table", "rename-column"}
META = {"syntax-error", "invalid-allow", "unused-allow"}


def active(findings):
    return sorted(f.rule for f in findings if not f.suppressed)


def test_allow_above_a_statement_suppresses_only_that_statement():
    sql = ('-- migtool:allow drop-column unused since v41, backed up\n'
           'ALTER TABLE "User" DROP COLUMN "a";\n'
           'ALTER TABLE "User" DROP COLUMN "b";\n')
    findings = [f for f in lint_sql(sql) if f.rule == "drop-column"]
    assert [(f.line, f.suppressed) for f in findings] == [(2, True), (3, False)]
    assert findings[0].suppression_reason == "unused since v41, backed up"
    assert findings[0].to_dict()["suppressed"] is True


def test_prisma_comments_between_the_allow_and_the_statement_are_fine():
    sql = ('/*\n  Warnings:\n\n  - You are about to drop the column `a` on the `User` table.\n\n*/\n'
           '-- migtool:allow drop-column dropped after release 12 stopped reading it\n'
           '-- AlterTable\n'
           'ALTER TABLE "User" DROP COLUMN "a";\n')
    findings = lint_sql(sql)
    assert [f.rule for f in findings if f.rule == "drop-column" and f.suppressed] == ["drop-column"]
    assert "unused-allow" not in active(findings)


def test_allow_at_the_top_followed_by_a_blank_line_covers_the_whole_file():
    sql = ('-- migtool:allow drop-column,missing-lock-timeout cleanup release, backup taken\n\n'
           'ALTER TABLE "User" DROP COLUMN "a";\n'
           'ALTER TABLE "Order" DROP COLUMN "b";\n')
    findings = lint_sql(sql)
    assert active(findings) == []
    assert sum(f.suppressed for f in findings) == 3


def test_allow_at_the_top_without_blank_line_is_for_the_first_statement_only():
    sql = ('-- migtool:allow drop-column the first one only\n'
           'ALTER TABLE "User" DROP COLUMN "a";\n'
           'ALTER TABLE "Order" DROP COLUMN "b";\n')
    assert active(lint_sql(sql)).count("drop-column") == 1


def test_blank_lines_inside_a_block_comment_do_not_make_it_file_wide():
    sql = ('-- migtool:allow drop-column only the first\n/*\n\n note\n\n*/\n'
           'ALTER TABLE "User" DROP COLUMN "a";\n'
           'ALTER TABLE "Order" DROP COLUMN "b";\n')
    assert active(lint_sql(sql)).count("drop-column") == 1


def test_allow_without_reason_is_invalid_and_suppresses_nothing():
    findings = lint_sql('-- migtool:allow drop-column\nALTER TABLE "User" DROP COLUMN "a";')
    invalid = [f for f in findings if f.rule == "invalid-allow"]
    assert len(invalid) == 1 and "no reason" in invalid[0].message and invalid[0].line == 1
    assert "drop-column" in active(findings)


def test_unknown_rule_id_is_invalid_with_a_suggestion():
    findings = lint_sql('-- migtool:allow drop-colum typo here\nALTER TABLE "User" DROP COLUMN "a";')
    invalid = [f for f in findings if f.rule == "invalid-allow"][0]
    assert "unknown rule id 'drop-colum'" in invalid.message and "did you mean 'drop-column'" in invalid.message
    assert "drop-column" in active(findings)


def test_unused_allow_is_advice_per_rule_id():
    findings = lint_sql('-- migtool:allow drop-column,rename-column both planned\n'
                        'ALTER TABLE "User" DROP COLUMN "a";')
    unused = [f for f in findings if f.rule == "unused-allow"]
    assert len(unused) == 1 and "rename-column" in unused[0].message and unused[0].severity == "advice"


def test_allow_after_the_last_statement_applies_to_nothing():
    findings = lint_sql('ALTER TABLE "User" DROP COLUMN "a";\n-- migtool:allow drop-column too late\n')
    assert "drop-column" in active(findings)
    assert [f.rule for f in findings if f.rule == "unused-allow"] == ["unused-allow"]


def test_allow_inside_a_multi_line_statement_applies_to_it():
    sql = ('ALTER TABLE "User"\n  -- migtool:allow drop-column legacy\n  DROP COLUMN "a",\n  ADD COLUMN "b" TEXT;')
    assert "drop-column" not in active(lint_sql(sql))


def test_meta_rules_cannot_be_suppressed_and_unknown_directives_are_reported():
    findings = lint_sql('-- migtool:allow unused-allow because\nSELECT 1;')
    assert any(f.rule == "invalid-allow" and "cannot be suppressed" in f.message for f in findings)
    findings = lint_sql('-- migtool:ignore drop-column legacy\nALTER TABLE "User" DROP COLUMN "a";')
    assert any(f.rule == "invalid-allow" and "migtool:ignore" in f.message for f in findings)
    assert "drop-column" in active(findings)


def test_syntax_errors_are_not_suppressible():
    findings = lint_sql('-- migtool:allow syntax-error it is fine\nSELEC 1;')
    assert [f.rule for f in findings] == ["syntax-error"] and not findings[0].suppressed


def test_parse_directive_forms():
    assert parse_directive(" allow drop-column, rename-column  reason here", KNOWN, META) == (
        ["drop-column", "rename-column"], "reason here", [])
    assert parse_directive("allow drop-column -- reason", KNOWN, META) == (["drop-column"], "reason", [])
    assert parse_directive("allow drop-column: reason", KNOWN, META)[1] == "reason"
    ids, reason, problems = parse_directive("allow", KNOWN, META)
    assert ids == [] and problems
    assert parse_directive("allowed drop-column x", KNOWN, META)[2]


def test_findings_stay_in_line_order_with_allow_findings_mixed_in():
    findings = lint_sql('ALTER TABLE "User" DROP COLUMN "a";\n-- migtool:allow drop-table gone\n'
                        'ALTER TABLE "User" DROP COLUMN "b";\n')
    assert [f.line for f in findings] == sorted(f.line for f in findings)
