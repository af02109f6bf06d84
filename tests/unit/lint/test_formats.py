from pathlib import Path

from migtool.lint import lint_sources
from migtool.lint.formats import artifact_uri, github_annotation, rules_list, to_github, to_sarif
from migtool.lint.model import Finding
from migtool.lint.rules import RULES

SQL = ('-- migtool:allow drop-table archived to S3 first\nDROP TABLE "Old";\n'
       'CREATE INDEX "i" ON "User"("email");\n'
       'ALTER TABLE "User" DROP COLUMN "a";\n')


def report():
    return lint_sources([("prisma/migrations/2_x/migration.sql", SQL)])


def test_github_annotations_one_per_unsuppressed_finding_with_levels():
    lines = to_github(report()).splitlines()
    kinds = [line.split(" ", 1)[0] for line in lines]
    assert kinds == ["::notice", "::warning", "::error"]  # lock timeout advice, index warning, drop-column danger
    assert all("file=prisma/migrations/2_x/migration.sql" in line for line in lines)
    assert "line=4,col=1,title=drop-column (danger)::" in lines[2]
    assert "drop-table" not in to_github(report())  # suppressed


def test_github_annotation_escapes_newlines_commas_and_colons():
    f = Finding(rule="drop-column", severity="danger", file="a,b:c.sql", line=3, column=None, statement="x",
                message="100% bad", fix="1. one\n2. two")
    line = github_annotation(f)
    assert line.startswith("::error file=a%2Cb%3Ac.sql,line=3,title=drop-column (danger)::")
    assert "100%25 bad%0AFix:%0A1. one%0A2. two" in line
    assert "\n" not in line


def test_sarif_shape_for_github_code_scanning():
    log = to_sarif(report(), Path("/repo"), "1.2.3")
    assert log["version"] == "2.1.0" and "sarif-2.1.0" in log["$schema"]
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "migtool" and driver["version"] == "1.2.3"
    ids = [r["id"] for r in driver["rules"]]
    assert ids == [r.id for r in RULES]
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    results = run["results"]
    assert len(results) == 4
    for result in results:
        assert ids[result["ruleIndex"]] == result["ruleId"]
        loc = result["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"] == "prisma/migrations/2_x/migration.sql"
        assert loc["region"]["startLine"] >= 1
    by_rule = {r["ruleId"]: r for r in results}
    assert by_rule["drop-table"]["suppressions"] == [{"kind": "inSource", "justification": "archived to S3 first"}]
    assert by_rule["drop-column"]["level"] == "error" and "suppressions" not in by_rule["drop-column"]
    assert by_rule["create-index-blocking"]["level"] == "warning"
    assert by_rule["missing-lock-timeout"]["level"] == "note"
    assert by_rule["drop-column"]["locations"][0]["physicalLocation"]["region"] == {"startLine": 4, "startColumn": 1}


def test_artifact_uri_relative_inside_cwd_and_file_uri_outside():
    assert artifact_uri("/repo/prisma/m.sql", Path("/repo")) == "prisma/m.sql"
    assert artifact_uri("prisma/m.sql", Path("/repo")) == "prisma/m.sql"
    assert artifact_uri("/elsewhere/m.sql", Path("/repo")) == "file:///elsewhere/m.sql"


def test_rules_list_has_every_rule_with_one_line_text():
    listed = rules_list()
    assert [r["id"] for r in listed] == [r.id for r in RULES]
    assert all("\n" not in r["summary"] and r["severity"] for r in listed)
