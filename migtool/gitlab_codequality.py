"""GitLab Code Quality report (`migtool lint --format gitlab`): a JSON list GitLab shows on merge requests.

Pure function of a lint report. Suppressed findings are left out (GitLab has no notion of them).
"""

from __future__ import annotations

import hashlib
from typing import Any

# GitLab's levels: info, minor, major, critical, blocker.
SEVERITY = {"danger": "critical", "warning": "major", "advice": "info"}


def to_gitlab(report) -> list[dict[str, Any]]:
    issues = []
    seen: dict[str, int] = {}
    for f in report.findings:
        if f.suppressed:
            continue
        # Stable across pushes: the line is left out, so moving a statement keeps its fingerprint.
        key = f"{f.rule}\0{f.file}\0{f.statement}"
        seen[key] = seen.get(key, 0) + 1
        fingerprint = hashlib.sha256(f"{key}\0{seen[key]}".encode()).hexdigest()
        issues.append({
            "type": "issue",
            "check_name": f.rule,
            "description": f"{f.rule}: {f.message}",
            "content": {"body": f.fix},
            "categories": ["Bug Risk"],
            "severity": SEVERITY[f.severity],
            "fingerprint": fingerprint,
            "location": {"path": f.file, "lines": {"begin": max(f.line, 1)}},
        })
    return issues
