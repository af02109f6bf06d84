"""Put data-check results into a lint report: `data` on the finding each check belongs to, and a
finding of its own for a certain failure that no rule reported (a VALIDATE CONSTRAINT or a
CREATE UNIQUE INDEX CONCURRENTLY that the data makes fail). Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from migtool.datacheck.messages import fix_for
from migtool.datacheck.model import TABLE_SIZE, UNKNOWN, WILL_FAIL, Result

FAILS_ON_DATA = "fails-on-data"


def annotate(report, results: Iterable[Result]) -> list:
    """Attach each result to its finding (same file, statement and rule); a will-fail without one becomes a
    `fails-on-data` finding; a finding whose check says will-fail becomes danger. Returns the new findings."""
    from migtool.lint.model import Finding

    results = list(results)
    by_statement: dict[tuple[str, int, int | None], list] = {}
    for f in report.findings:
        by_statement.setdefault((f.file, f.line, f.column), []).append(f)
    added = []
    for r in sorted(results, key=lambda r: r.check.kind == TABLE_SIZE):  # specific checks first
        c = r.check
        line, column = c.position if c.position != (0, 0) else (c.line, None)
        here = by_statement.get((c.file, line, column), [])
        if c.kind == TABLE_SIZE:
            if r.result == UNKNOWN:
                continue  # e.g. a table this deploy creates: nothing to say about its size
            for f in here:
                if f.data is None:
                    f.data = r.to_data()
            continue
        hosts = [f for f in here if f.rule in c.rules and f.data is None]
        if hosts:
            host = hosts[0]
            host.data = r.to_data()
            if r.result == WILL_FAIL and not host.suppressed:
                host.severity = "danger"
                host.message = f"{host.message} This one will fail on today's data: {r.text.removeprefix('will fail: ')}."
            if not (r.result == WILL_FAIL and host.suppressed):
                continue
            # A migtool:allow accepts the risk the rule describes (a lock, say), not a certain failure.
        if r.result == WILL_FAIL:
            finding = Finding(rule=FAILS_ON_DATA, severity="danger", file=c.file, line=line, column=column,
                              statement=c.statement, message=f"This statement {r.text}.", fix=fix_for(r),
                              data=r.to_data())
            report.findings.append(finding)
            by_statement.setdefault((c.file, line, column), []).append(finding)
            added.append(finding)
    if added:
        report.findings.sort(key=lambda f: (report.files.index(f.file) if f.file in report.files else 0,
                                            f.line, f.column or 0))
    return added


def failure_lines(results: Sequence[Result]) -> list[str]:
    """One line per certain failure: where, what, and the fix (for deploy-migrate's refusal)."""
    from pathlib import Path

    def where(r: Result) -> str:
        path = Path(r.check.file)
        return f"{path.parent.name if path.name == 'migration.sql' else r.check.file}:{r.check.line}"

    return [f"{where(r)}: {r.text}; fix: {fix_for(r)}" for r in results if r.result == WILL_FAIL]
