"""Machine formats of a lint report: GitHub workflow annotations and SARIF 2.1.0. Pure functions."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from migtool.lint.model import Finding, LintReport
from migtool.lint.rules import RULES

GITHUB_COMMAND = {"danger": "error", "warning": "warning", "advice": "notice"}
SARIF_LEVEL = {"danger": "error", "warning": "warning", "advice": "note"}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
RULES_DOC = "docs/lint-rules.md"


def rules_list() -> list[dict[str, str]]:
    return [{"id": r.id, "severity": r.severity, "summary": r.summary, "why": r.why, "instead": r.instead}
            for r in RULES]


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(f: Finding) -> str:
    props = [f"file={_escape_property(f.file)}", f"line={f.line}"]
    if f.column:
        props.append(f"col={f.column}")
    props.append(f"title={_escape_property(f'{f.rule} ({f.severity})')}")
    body = f"{f.message}\nFix:\n{f.fix}" if f.fix else f.message
    return f"::{GITHUB_COMMAND[f.severity]} {','.join(props)}::{_escape_data(body)}"


def to_github(report: LintReport) -> str:
    """One workflow command per unsuppressed finding (GitHub shows them on the pull request's diff)."""
    lines = [github_annotation(f) for f in report.findings if not f.suppressed]
    return "\n".join(lines) + ("\n" if lines else "")


def artifact_uri(file: str, cwd: Path) -> str:
    """A path relative to the repository root (cwd) with forward slashes, else a file:// URI."""
    path = Path(file)
    absolute = path if path.is_absolute() else cwd / path
    try:
        rel = os.path.relpath(absolute, cwd)
    except ValueError:  # another drive on Windows
        return absolute.as_uri()
    if rel.startswith(".."):
        return absolute.resolve().as_uri()
    return Path(rel).as_posix()


def to_sarif(report: LintReport, cwd: Path, version: str) -> dict[str, Any]:
    """A SARIF 2.1.0 log that GitHub code scanning accepts (upload-sarif)."""
    index = {r.id: i for i, r in enumerate(RULES)}
    rules = [{
        "id": r.id,
        "name": "".join(part.capitalize() for part in r.id.split("-")),
        "shortDescription": {"text": r.summary},
        "fullDescription": {"text": r.why},
        "help": {"text": f"{r.why} Instead: {r.instead}",
                 "markdown": f"{r.why}\n\n**Instead:** {r.instead}\n\nSee {RULES_DOC}#{r.id}"},
        "defaultConfiguration": {"level": SARIF_LEVEL[r.severity]},
        "properties": {"tags": ["migrations", "postgresql", r.severity]},
    } for r in RULES]
    results = []
    for f in report.findings:
        region: dict[str, int] = {"startLine": max(f.line, 1)}
        if f.column:
            region["startColumn"] = f.column
        uri = artifact_uri(f.file, cwd)
        artifact = {"uri": uri} if uri.startswith("file:") else {"uri": uri, "uriBaseId": "%SRCROOT%"}
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": SARIF_LEVEL[f.severity],
            "message": {"text": f"{f.message}\nFix:\n{f.fix}" if f.fix else f.message},
            "locations": [{"physicalLocation": {
                "artifactLocation": artifact,
                "region": region,
            }}],
            "partialFingerprints": {"migtoolStatement/v1": f"{f.rule}:{f.statement}"},
        }
        if f.suppressed:
            result["suppressions"] = [{"kind": "inSource", "justification": f.suppression_reason or ""}]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "migtool", "version": version, "semanticVersion": version,
                                "rules": rules}},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": cwd.resolve().as_uri() + "/"}},
            "results": results,
        }],
    }
