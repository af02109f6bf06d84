"""The rehearsal's verdicts and report: pure functions from the evidence to answers and markdown.

The questions are the seed's checklist; each answer is yes, no or not checked, with the evidence
that decided it, so `migtool request` can tick "Testing Done" only where it was proven.
"""

from __future__ import annotations

from typing import Any

QUESTIONS = (
    ("migration-applies", "Does the migration apply on a copy of production's data?"),
    ("old-code-on-new-schema", "Can the current code run with the new schema?"),
    ("new-code-on-new-schema", "Can the new code run with the new schema?"),
    ("new-code-on-old-schema", "Can the new code run with the old schema?"),
    ("rollback-tested", "Have you tested rollback?"),
)


def _failures_text(summary: dict[str, Any] | None) -> str:
    if not summary:
        return ""
    parts = []
    for request, errors in sorted(summary.get("failures", {}).items()):
        for error, count in sorted(errors.items(), key=lambda kv: -kv[1])[:2]:
            parts.append(f"{request}: {count}x {error}")
    return "; ".join(parts[:4])


def _traffic_answer(summary: dict[str, Any] | None, what: str) -> tuple[str, str]:
    if summary is None:
        return "not checked", f"{what} was not run"
    if summary["requests"] == 0:
        return "no", f"{what}: no request was answered or sent"
    if summary["failed"]:
        return "no", f"{summary['failed']} of {summary['requests']} requests failed: {_failures_text(summary)}"
    return "yes", f"{summary['requests']} requests, 0 failed, p99 {summary['p99_ms']} ms"


def _bare(rules: list[str]) -> str:
    return ", ".join(sorted({r.removesuffix(" (suppressed)") for r in rules}))


def build_report(*, backup: str, migrate: dict[str, Any], per_migration: list[dict[str, Any]],
                 old_during: dict[str, Any], old_before: dict[str, Any], new_on_new: dict[str, Any] | None,
                 new_on_old: dict[str, Any] | None, rollback: dict[str, Any] | None,
                 lint: dict[str, list[str]], sampler_error: str | None = None) -> dict[str, Any]:
    answers: dict[str, tuple[str, str]] = {}
    if migrate["exit_code"] == 0:
        answers["migration-applies"] = ("yes", f"{len(per_migration)} migrations applied in {migrate['seconds']:.1f} s")
    else:
        answers["migration-applies"] = ("no", f"migrate exited {migrate['exit_code']}: {migrate['last_line']}")
    if old_before["failed"] and old_before["requests"]:
        # The old code failing before anything changed says the scenario is wrong, not the migration.
        answers["old-code-on-new-schema"] = ("not checked", "the old code already failed before migrating: "
                                             + _failures_text(old_before))
    else:
        answers["old-code-on-new-schema"] = _traffic_answer(old_during, "the old code during and after migrating")
    answers["new-code-on-new-schema"] = _traffic_answer(new_on_new, "the new code after migrating")
    answers["new-code-on-old-schema"] = _traffic_answer(new_on_old, "the new code before migrating "
                                                        "(--check-new-on-old)")
    if rollback is None:
        answers["rollback-tested"] = ("not checked", "the rollback drill did not run")
    elif "error" in rollback:
        answers["rollback-tested"] = ("no", f"the rollback drill failed: {rollback['error']}")
    else:
        answer, evidence = _traffic_answer(rollback, "the old code after the rollback drill")
        if answer == "yes" and not rollback.get("history_restored", True):
            answer, evidence = "no", "the restored migration history differs from the backup's"
        answers["rollback-tested"] = (answer, evidence)

    questions = [{"id": qid, "question": text, "answer": answers[qid][0], "evidence": answers[qid][1]}
                 for qid, text in QUESTIONS]
    lessons = []
    for row in per_migration:
        said = sorted(set(lint.get(row["migration"], [])))
        active = [r for r in said if not r.endswith("(suppressed)")]
        failed = row["old_code"]["failed"]
        if active and not failed:
            lessons.append(f"{row['migration']}: lint said {', '.join(active)} would break the old code; the "
                           "rehearsal saw no failed request during it")
        elif failed and said and not active:
            lessons.append(f"{row['migration']}: lint's {_bare(said)} finding was suppressed (migtool:allow), and "
                           f"the old code failed {failed} requests during it")
        elif failed and not said:
            lessons.append(f"{row['migration']}: the old code failed {failed} requests during it, and lint had no "
                           "danger finding")
    after_only = old_during["failed"] and not any(r["old_code"]["failed"] for r in per_migration)
    if after_only:
        said = sorted({r for rules in lint.values() for r in rules})
        if not said:
            lessons.append("the old code failed after the migrations, and lint had no danger finding")
        elif all(r.endswith("(suppressed)") for r in said):
            lessons.append(f"the old code failed after the migrations, where lint's {_bare(said)} finding was "
                           "suppressed (migtool:allow)")
    passed = all(q["answer"] in ("yes", "not checked") for q in questions) and \
        answers["migration-applies"][0] == "yes"
    return {
        "backup": backup,
        "migrate": {k: v for k, v in migrate.items() if k not in ("started", "ended")},
        "migrations": per_migration,
        "old_code": {"before": old_before, "during_and_after": old_during},
        "new_code": {"new_schema": new_on_new, "old_schema": new_on_old},
        "rollback": rollback,
        "questions": questions,
        "lint_vs_rehearsal": lessons,
        "sampler_error": sampler_error,
        "passed": passed,
    }


def _longest_lock(locks: dict[str, Any]) -> str:
    blocking = [(t, v) for t, v in locks["tables"].items() if v["blocks_writes"]]
    if not blocking:
        return "none that blocks writes"
    table, v = max(blocking, key=lambda tv: tv[1]["held_s"])
    return f"{v['lock']} on {table} for {v['held_s']:.2f} s"


def to_markdown(report: dict[str, Any]) -> str:
    lines = ["# Migration rehearsal", "", f"On a copy restored from `{report['backup']}`.", "",
             "| migration | duration | longest blocking lock | writers blocked max / p99 | old-code errors |",
             "|---|---|---|---|---|"]
    for row in report["migrations"]:
        locks = row["locks"]
        lines.append(f"| {row['migration']} | {row['seconds']:.2f} s | {_longest_lock(locks)} | "
                     f"{locks['blocked_max_s']:.2f} s / {locks['blocked_p99_s']:.2f} s | "
                     f"{row['old_code']['failed']} of {row['old_code']['requests']} |")
    new = report["new_code"]["new_schema"]
    lines += ["", f"New code on the new schema: {new['failed'] if new else '-'} errors of "
                  f"{new['requests'] if new else '-'} requests.", "", "## Checklist", ""]
    for q in report["questions"]:
        box = "x" if q["answer"] == "yes" else " "
        lines.append(f"- [{box}] {q['question']} **{q['answer']}**: {q['evidence']}")
    if report["lint_vs_rehearsal"]:
        lines += ["", "## Lint against the rehearsal", ""] + [f"- {x}" for x in report["lint_vs_rehearsal"]]
    lines += ["", f"Result: **{'passed' if report['passed'] else 'failed'}**", ""]
    return "\n".join(lines)
