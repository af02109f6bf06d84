"""The rehearsal's pure parts: the copy's compose model, the scenario, lock summaries, verdicts."""

from __future__ import annotations

import pytest

from migtool.errors import ConfigError
from migtool.rehearse import locks
from migtool.rehearse.report import build_report, to_markdown
from migtool.rehearse.scenario import Request, fill, needs_id, parse_scenario
from migtool.rehearse.stack import StackNames, copy_model, fill_columns
from migtool.rehearse.traffic import Result, summarize

PROD = {
    "name": "shop",
    "services": {
        "postgres": {"image": "postgres:16", "environment": {"POSTGRES_USER": "app", "POSTGRES_PASSWORD": "pw",
                                                             "POSTGRES_DB": "app"},
                     "volumes": [{"type": "volume", "source": "pgdata", "target": "/var/lib/postgresql/data"}],
                     "ports": [{"target": 5432, "published": "5432"}], "container_name": "prod-db"},
        "app": {"image": "shop:1.4", "environment": {"DATABASE_URL": "postgresql://app:pw@db.internal:5432/app",
                                                     "PORT": "3000"},
                "ports": [{"target": 3000, "published": "80", "host_ip": "0.0.0.0"}],
                "volumes": [{"type": "volume", "source": "uploads", "target": "/uploads"},
                            {"type": "bind", "source": "/srv/cfg", "target": "/cfg"}],
                "depends_on": {"postgres": {"condition": "service_healthy"}}},
        "migrate": {"image": "shop:1.5", "profiles": ["migrate"], "command": ["pnpm", "db:migrate:deploy"],
                    "environment": {"DATABASE_URL": "postgresql://app:pw@db.internal:5432/app"}},
    },
}
NAMES = StackNames("postgres", "app", "migrate")


def test_copy_shares_nothing_with_production():
    model = copy_model(PROD, NAMES, new_image=None)
    pg = model["services"]["postgres"]
    assert pg["image"] == "postgres:16" and pg["environment"]["POSTGRES_PASSWORD"] == "pw"
    assert pg["volumes"] == [{"type": "volume", "source": "copydata", "target": "/var/lib/postgresql/data"}]
    assert pg["ports"] == ["127.0.0.1::5432"] and "container_name" not in pg
    old = model["services"]["app-old"]
    assert old["image"] == "shop:1.4"
    assert old["environment"]["DATABASE_URL"] == "postgresql://app:pw@postgres:5432/app"
    assert old["ports"] == ["127.0.0.1::3000"]
    assert old["volumes"] == [{"type": "bind", "source": "/srv/cfg", "target": "/cfg"}]  # no named volume
    assert model["services"]["app-new"]["image"] == "shop:1.5"
    assert model["services"]["migrate"]["image"] == "shop:1.5"
    assert set(model["volumes"]) == {"copydata"}
    assert PROD["services"]["app"]["ports"][0]["published"] == "80"  # production's model left alone


def test_new_image_overrides_and_a_missing_service_is_named():
    model = copy_model(PROD, NAMES, new_image="shop:2.0")
    assert model["services"]["migrate"]["image"] == model["services"]["app-new"]["image"] == "shop:2.0"
    with pytest.raises(ConfigError, match="no service 'worker'"):
        copy_model(PROD, StackNames("postgres", "worker", "migrate"), new_image=None)


def test_columns_placeholder_is_filled_from_the_schema():
    env = fill_columns({"USER_COLUMNS": "{{columns \"User\"}}", "X": "plain"}, lambda t: ["id", t.lower()])
    assert env == {"USER_COLUMNS": "id,user", "X": "plain"}


def test_scenario_parsing_and_templates():
    [get, post] = parse_scenario([{"path": "/users/{{id}}"},
                                  {"method": "post", "path": "/users", "body": {"email": "u{{n}}@x", "n": "{{n}}"}}])
    assert get == Request("GET", "/users/{{id}}", None, (200,)) and needs_id(get) and not needs_id(post)
    assert post.expect == (201,)
    assert fill(post.body, 7, None) == {"email": "u7@x", "n": 7}
    assert fill(get.path, 1, 42) == "/users/42"
    for bad, why in (([], "non-empty"), ([{"path": "users"}], "item 1"), ([{"path": "/", "method": "TRACE"}], "method"),
                     ([{"path": "/", "expect": 99}], "expect"), ([{"path": "/", "bdy": 1}], "bdy")):
        with pytest.raises(ConfigError, match=why):
            parse_scenario(bad)


def test_lock_summary_measures_holds_and_waits():
    samples = []
    for i in range(50):  # 1 s of an index build holding ShareLock, a writer waiting for 0.8 s of it
        t = 100 + i * 0.02
        samples.append(locks.Sample(t, 10, "ShareLock", True, "User", False))
        if i >= 10:
            samples.append(locks.Sample(t, 20, "RowExclusiveLock", False, "User", True))
    samples.append(locks.Sample(200, 30, "AccessExclusiveLock", True, "Other", False))  # outside the window
    s = locks.summarize(samples, 99, 102)
    assert s["tables"] == {"User": {"lock": "ShareLock", "held_s": 0.98, "blocks_writes": True}}
    assert s["sessions_blocked"] == 1 and s["blocked_max_s"] == pytest.approx(0.78)


def _result(ok=True, error=None, seconds=0.01):
    return Result(0.0, "after", "GET /users", 200 if ok else 500, ok, seconds, error)


def _report(old_results, new_results, migrate_code=0, lint=None):
    row = {"migration": "m1", "seconds": 1.0, "applied": True, "log": None,
           "locks": {"tables": {}, "sessions_blocked": 0, "blocked_max_s": 0.0, "blocked_p99_s": 0.0},
           "old_code": summarize(old_results)}
    return build_report(backup="b.dump.zst", migrate={"exit_code": migrate_code, "seconds": 1.0, "last_line": "x"},
                        per_migration=[row], old_during=summarize(old_results), old_before=summarize([_result()]),
                        new_on_new=summarize(new_results), new_on_old=None,
                        rollback={**summarize([_result()]), "history_restored": True}, lint=lint or {})


def test_verdicts_follow_the_evidence():
    good = _report([_result()] * 5, [_result()] * 5)
    assert good["passed"] and [q["answer"] for q in good["questions"]] == ["yes", "yes", "yes", "not checked", "yes"]
    broken = _report([_result(False, 'HTTP 500: column "name" does not exist')] * 3, [_result()], lint={})
    q = {x["id"]: x for x in broken["questions"]}
    assert not broken["passed"] and q["old-code-on-new-schema"]["answer"] == "no"
    assert 'column "name" does not exist' in q["old-code-on-new-schema"]["evidence"]
    assert broken["lint_vs_rehearsal"] == ["m1: the old code failed 3 requests during it, and lint had no danger finding"]
    false_alarm = _report([_result()] * 5, [_result()], lint={"m1": ["drop-column"]})
    assert "lint said drop-column would break" in false_alarm["lint_vs_rehearsal"][0]
    assert not _report([_result()], [_result()], migrate_code=1)["passed"]
    md = to_markdown(broken)
    assert "| m1 |" in md and "- [ ] Can the current code run with the new schema? **no**" in md


def test_request_includes_only_what_the_rehearsal_proved():
    from migtool.plan.request import Request, analyze, rehearsal_checklist, render

    md = to_markdown(_report([_result(False, "HTTP 500: boom")], [_result()]))
    lines = rehearsal_checklist(md)
    assert lines[0].startswith("- [x] Does the migration apply")
    assert lines[1].startswith("- [ ] Can the current code run with the new schema? **no**")
    m = analyze("20250301090000_x", "x/migration.sql", 'ALTER TABLE "User" ADD COLUMN "nick" TEXT;')
    req = Request([m], None, [], {}, "before-x", ["x"], "2026-12-01", rehearsal=lines)
    text = render(req)
    assert "### Testing done (`migtool rehearse`)" in text and lines[1] in text


def test_a_suppressed_finding_is_named_when_the_rehearsal_shows_the_breakage():
    failing = [_result(False, "HTTP 500: column does not exist")] * 2
    r = _report(failing, [_result()], lint={"m1": ["drop-column (suppressed)"]})
    assert r["lint_vs_rehearsal"] == ["m1: lint's drop-column finding was suppressed (migtool:allow), and the old "
                                      "code failed 2 requests during it"]
