"""What linting produces: findings and a report. Plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Ascending: a threshold passes everything strictly below it.
SEVERITIES = ("advice", "warning", "danger")
RANK = {name: i for i, name in enumerate(SEVERITIES, start=1)}


@dataclass
class Finding:
    rule: str
    severity: str  # "danger" | "warning" | "advice"
    file: str
    line: int
    column: int | None
    statement: str  # the statement, whitespace collapsed and shortened
    message: str  # one line: what is wrong and why
    fix: str  # the safe steps, with SQL naming the real table and columns
    suppressed: bool = False
    suppression_reason: str | None = None
    # Facts read from the live database about this finding (row counts, sizes...), when it was
    # reachable; printed by the json and text formats only when present.
    data: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "rule": self.rule,
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "statement": self.statement,
            "message": self.message,
            "fix": self.fix,
            "suppressed": self.suppressed,
            "suppression_reason": self.suppression_reason,
        }
        if self.data is not None:
            out["data"] = self.data
        return out


@dataclass
class LintReport:
    findings: list[Finding] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    pg_version: int = 15
    # What counted as existing (see migtool.lint.engine.EXISTING_MODES); None when unknown.
    existing: str | None = None

    @property
    def active(self) -> list[Finding]:
        """Findings that count: not suppressed."""
        return [f for f in self.findings if not f.suppressed]

    @property
    def max_severity(self) -> str | None:
        """The worst unsuppressed severity, or None when nothing needs attention."""
        worst = max((RANK[f.severity] for f in self.findings if not f.suppressed), default=0)
        return SEVERITIES[worst - 1] if worst else None

    @property
    def has_danger(self) -> bool:
        """True when data could be lost or running code could break: take a fresh backup first."""
        return self.max_severity == "danger"

    @property
    def parse_errors(self) -> int:
        return sum(1 for f in self.findings if f.rule == "syntax-error")

    def fails(self, threshold: str = "warning") -> bool:
        """Whether an unsuppressed finding is at or above `threshold` (the exit-code decision)."""
        if threshold not in RANK:
            raise ValueError(f"unknown severity {threshold!r}: expected one of {', '.join(SEVERITIES)}")
        worst = self.max_severity
        return worst is not None and RANK[worst] >= RANK[threshold]

    def summary(self) -> dict[str, Any]:
        counts = dict.fromkeys(reversed(SEVERITIES), 0)
        suppressed = 0
        for f in self.findings:
            if f.suppressed:
                suppressed += 1
            else:
                counts[f.severity] += 1
        return {
            "files": len(self.files),
            **counts,
            "suppressed": suppressed,
            "parse_errors": self.parse_errors,
            "max_severity": self.max_severity,
            "pg_version": self.pg_version,
            "existing": self.existing,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"findings": [f.to_dict() for f in self.findings], "summary": self.summary()}
