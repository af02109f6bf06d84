import pytest

from migtool.lint import LintReport, lint_sources
from migtool.lint.model import Finding


def finding(severity, suppressed=False, rule="drop-column"):
    return Finding(rule=rule, severity=severity, file="m.sql", line=1, column=1, statement="s", message="m",
                   fix="f", suppressed=suppressed)


def test_max_severity_ignores_suppressed_findings():
    report = LintReport(findings=[finding("danger", suppressed=True), finding("advice")], files=["m.sql"])
    assert report.max_severity == "advice"
    assert not report.has_danger
    assert report.fails("advice") and not report.fails("warning")


def test_empty_report_passes_everything():
    report = LintReport()
    assert report.max_severity is None and not report.fails("advice")


def test_thresholds():
    report = LintReport(findings=[finding("warning")])
    assert report.fails("warning") and report.fails("advice") and not report.fails("danger")
    with pytest.raises(ValueError):
        report.fails("error")


def test_summary_and_json_shape():
    report = lint_sources([
        ("1.sql", '-- migtool:allow drop-table archived\nDROP TABLE "Old";'),
        ("2.sql", 'ALTER TABLE "User" DROP COLUMN "a";'),
        ("3.sql", "SELEC 1;"),
    ], pg_version=14)
    data = report.to_dict()
    assert set(data) == {"findings", "summary"}
    assert data["summary"] == {"files": 3, "danger": 2, "warning": 0, "advice": 2, "suppressed": 1,
                               "parse_errors": 1, "max_severity": "danger", "pg_version": 14,
                               "existing": "before these files"}
    assert report.has_danger
    keys = {"rule", "severity", "file", "line", "column", "statement", "message", "fix", "suppressed",
            "suppression_reason"}
    assert all(set(f) == keys for f in data["findings"])
