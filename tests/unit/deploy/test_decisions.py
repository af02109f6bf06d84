"""Pure decisions of deploy-migrate: backup policy, lock holder names, notification payloads."""

from __future__ import annotations

import pytest

from migtool.config import NotifyConfig, Secret, load_config
from migtool.deploy.findings import decide_backup, findings_summary, migration_of, refusal_lines
from migtool.deploy.lock import APP_NAME_MAX, DEPLOY_LOCK_KEY, DeployLock, LockHolder, holder_app_name
from migtool.deploy.migrate import container_name
from migtool.deploy.notify import build_payload, send, should_notify
from migtool.errors import ConfigError
from migtool.lint import Finding, LintReport
from migtool.migrations.table import PRISMA_LOCK_KEY


def finding(severity: str, rule: str = "r", suppressed: bool = False) -> Finding:
    return Finding(rule=rule, severity=severity, file="m/20250301_x/migration.sql", line=3, column=1,
                   statement="DROP TABLE t", message="why", fix="step one\nstep two", suppressed=suppressed)


@pytest.mark.parametrize("findings, policy, expected", [
    ([], "dangerous", False),
    ([finding("advice")], "dangerous", False),
    ([finding("danger", suppressed=True)], "dangerous", False),
    ([finding("warning", "create-index-blocking")], "dangerous", True),
    ([finding("danger", "drop-table")], "dangerous", True),
    ([], "always", True),
    ([finding("danger")], "never", False),
])
def test_backup_policy(findings, policy, expected):
    take, why = decide_backup(policy, LintReport(findings=findings))
    assert take is expected and why


def test_backup_reason_names_the_migration_and_rule():
    take, why = decide_backup("dangerous", LintReport(findings=[finding("warning", "create-index-blocking"),
                                                                finding("danger", "drop-table")]))
    assert why == "20250301_x: warning create-index-blocking and 1 more"


def test_refusal_lists_each_danger_with_its_fix_and_summary_counts():
    report = LintReport(findings=[finding("danger", "drop-table"), finding("warning")], files=["a"])
    lines = refusal_lines(report)
    assert lines[0].startswith("20250301_x:3  danger  drop-table") and "    fix: step one" in lines
    assert findings_summary(report)["danger"] == 1 and len(findings_summary(report)["active"]) == 2
    assert migration_of("x/y/migration.sql") == "y"


def test_holder_name_fits_and_parses_back():
    name = holder_app_name("deploy-migrate-20250101T000000Z-abc123", "alice", "h" * 80, 123456)
    assert len(name) <= APP_NAME_MAX
    holder = LockHolder(pid=9, lock="deploy", db_user="app", application_name=name, client_addr=None,
                        backend_start="2025-01-01 00:00:00+00", state="idle", idle_seconds=3, query=None)
    assert holder.run["run"] == "deploy-migrate-20250101T000000Z-abc123" and holder.run["pid"] == "123456"
    assert "by alice on host hhh" in holder.describe()
    prisma = LockHolder(pid=7, lock="prisma", db_user="app", application_name="", client_addr="172.18.0.5",
                        backend_start="2025-01-01 00:00:00+00", state="active", idle_seconds=40, query="SELECT 1")
    assert prisma.run is None and "database session 7" in prisma.describe() and "from 172.18.0.5" in prisma.describe()


def test_our_key_is_not_prismas_and_never_taken():
    assert DEPLOY_LOCK_KEY != PRISMA_LOCK_KEY
    with pytest.raises(ValueError):
        DeployLock(db=None, app_name="x", key=PRISMA_LOCK_KEY)


def test_container_names_are_unique_per_run_and_valid():
    import re

    name = container_name("deploy-migrate-20250101T000000Z-abc123")
    assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+", name)


def test_payload_is_allow_listed_and_scrubbed():
    record = {"run_id": "r", "operation": "deploy-migrate", "exit_code": 1, "result": "failed", "host": "h",
              "error": "query failed on postgresql://app:hunter2@db:5432/app: boom", "database_url": "postgres://x:y@z",
              "steps": [{"name": "migrate", "status": "failed", "seconds": 1.0, "detail": "d"}], "pending": ["a"]}
    payload = build_payload(record)
    assert "database_url" not in payload and "hunter2" not in str(payload)
    assert payload["event"] == "deploy-migrate.failed" and payload["steps"] == [
        {"name": "migrate", "status": "failed", "seconds": 1.0}]
    assert "FAILED" in payload["text"]


def test_when_to_notify():
    hook = NotifyConfig(Secret("https://h.example/x"))
    assert should_notify(hook, 1) and not should_notify(hook, 0) and not should_notify(None, 1)
    assert should_notify(NotifyConfig(Secret("https://h.example/x"), on="always"), 0)
    assert not should_notify(NotifyConfig(heartbeat_url=Secret("https://hc.example/x"), on="always"), 1)


def test_send_retries_then_gives_up_without_raising():
    slept = []
    ok, message = send(NotifyConfig(Secret("http://127.0.0.1:9/hook"), timeout_seconds=1), {"a": 1},
                       sleep=slept.append)
    assert not ok and message.startswith("could not notify 127.0.0.1") and len(slept) == 2


def test_notify_and_deploy_config_keys(tmp_path):
    (tmp_path / "migtool.yaml").write_text("notify: {webhook_url: 'https://hooks.example/T/secret', on: always}\n"
                                           "deploy_backup: always\nmigrate_command: npx prisma migrate deploy\n")
    config = load_config(cwd=tmp_path, environ={})
    assert config.notify.on == "always" and config.deploy_backup == "always"
    assert config.migrate_command == ("npx", "prisma", "migrate", "deploy")
    assert "secret" not in str(config.public_dict())
    (tmp_path / "migtool.yaml").write_text("notify: {webhook_url: 'ftp://x'}\n")
    with pytest.raises(ConfigError) as info:
        load_config(cwd=tmp_path, environ={})
    assert "ftp" not in info.value.message

