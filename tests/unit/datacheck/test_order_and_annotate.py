"""Out-of-order detection, and how results land in a lint report."""

from __future__ import annotations

from migtool.datacheck.annotate import annotate, failure_lines
from migtool.datacheck.model import Check, Result, Table
from migtool.datacheck.order import out_of_order
from migtool.lint import lint_sources


def test_out_of_order_is_older_than_the_newest_applied():
    assert out_of_order(["20250201_b", "20250401_d"], ["20250101_a", "20250301_c"]) == ["20250201_b"]
    assert out_of_order(["20250201_b"], []) == []
    assert out_of_order([], ["20250101_a"]) == []


def _result(sql_file: str, line: int, kind: str, rules: tuple[str, ...], result: str, **kw) -> Result:
    c = Check(kind=kind, file=sql_file, line=line, statement="s", table=Table("User"), rules=rules,
              position=(line, 1), column="phone", keys=('"email"',), key_labels=("email",))
    return Result(c, result, **kw)


def test_results_attach_to_their_finding_and_certain_failures_become_danger():
    report = lint_sources([("m.sql", 'ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;')])
    (finding,) = [f for f in report.findings if f.rule == "set-not-null"]
    assert finding.severity == "warning"
    r = _result("m.sql", 1, "not-null", ("set-not-null",), "will-fail", count=3)
    r.text = 'will fail: 3 rows of "User" have NULL "phone"'
    assert annotate(report, [r]) == []
    assert finding.data["result"] == "will-fail" and finding.severity == "danger"
    assert "will fail on today's data: 3 rows" in finding.message


def test_a_failure_no_rule_reported_gets_its_own_finding():
    report = lint_sources([("m.sql", 'CREATE UNIQUE INDEX CONCURRENTLY "e" ON "User" ("email");')])
    assert [f.rule for f in report.findings] == []
    r = _result("m.sql", 1, "unique", (), "will-fail", count=2)
    r.text = "will fail: 2 duplicate groups"
    (added,) = annotate(report, [r])
    assert (added.rule, added.severity, added.line, added.data["count"]) == ("fails-on-data", "danger", 1, 2)
    assert report.fails("danger")
    assert failure_lines([r]) == [f"m.sql:1: will fail: 2 duplicate groups; fix: {added.fix}"]


def test_ok_results_add_nothing_and_sizes_fill_the_rest():
    report = lint_sources([("m.sql", 'ALTER TABLE "User" DROP COLUMN "x";')])
    before = len(report.findings)
    size = _result("m.sql", 1, "table-size", (), "ok", rows=10, size_bytes=8192)
    ok = _result("m.sql", 1, "unique", (), "ok", count=0)
    assert annotate(report, [ok, size]) == []
    assert len(report.findings) == before
    assert all(f.data and f.data["check"] == "table-size" for f in report.findings)


def test_a_suppressed_finding_does_not_hide_a_certain_failure():
    report = lint_sources([("m.sql", "-- migtool:allow set-not-null small table, brief lock is fine\n"
                                     'ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;')])
    (host,) = [f for f in report.findings if f.rule == "set-not-null"]
    assert host.suppressed
    r = _result("m.sql", 2, "not-null", ("set-not-null",), "will-fail", count=3)
    r.text = 'will fail: 3 rows of "User" have NULL "phone"'
    (added,) = annotate(report, [r])
    assert added.rule == "fails-on-data" and not added.suppressed and host.data["count"] == 3
