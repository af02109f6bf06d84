"""Every rule's own SQL examples (declared in its module): `bad` must fire it, `good` must not."""

import pytest

from migtool.lint import lint_sql
from migtool.lint.rules import META_RULES, RULES, STATEMENT_RULES

BAD = [(r.id, sql) for r in RULES for sql in r.bad]
GOOD = [(r.id, sql) for r in RULES for sql in r.good]


@pytest.mark.parametrize(("rule_id", "sql"), BAD)
def test_bad_example_fires(rule_id, sql):
    findings = [f for f in lint_sql(sql) if f.rule == rule_id]
    assert findings, f"{rule_id} did not fire on: {sql}"
    for f in findings:
        assert f.message and f.fix and f.line >= 1
        assert not f.suppressed


@pytest.mark.parametrize(("rule_id", "sql"), GOOD)
def test_good_example_is_quiet(rule_id, sql):
    assert [f for f in lint_sql(sql) if f.rule == rule_id] == []


@pytest.mark.parametrize("rule", STATEMENT_RULES, ids=lambda r: r.id)
def test_every_statement_rule_has_examples_both_ways(rule):
    assert rule.bad and rule.good
    assert rule.check is not None and rule.nodes


def test_rule_ids_are_unique_kebab_case_and_complete():
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    assert all(i == i.lower() and " " not in i and "_" not in i for i in ids)
    # The ids other tools and docs rely on.
    required = {"drop-table", "drop-column", "truncate", "rename-column", "rename-table", "change-column-type",
                "set-not-null", "add-required-column", "add-column-volatile-default", "add-foreign-key",
                "add-unique-constraint", "create-index-blocking", "drop-index-blocking", "missing-lock-timeout",
                "syntax-error", "invalid-allow", "unused-allow"}
    assert required <= set(ids)
    assert all(r.severity in ("danger", "warning", "advice") for r in RULES)
    assert {r.id for r in META_RULES} == {"syntax-error", "invalid-allow", "unused-allow", "unchecked-dynamic-sql",
                                          "byte-order-mark"}


def test_severities_follow_the_policy():
    by_id = {r.id: r.severity for r in RULES}
    for rule_id in ("drop-table", "drop-column", "truncate", "rename-column", "rename-table", "change-column-type",
                    "add-required-column", "syntax-error"):
        assert by_id[rule_id] == "danger", rule_id
    for rule_id in ("set-not-null", "add-column-volatile-default", "add-foreign-key", "add-unique-constraint",
                    "create-index-blocking", "drop-index-blocking"):
        assert by_id[rule_id] == "warning", rule_id
    assert by_id["missing-lock-timeout"] == "advice"
