"""`migtool backup --schedule` for real: a seconds-level cron schedule against the real PostgreSQL test
server, a local HTTP server for the heartbeat and the failure webhook, GFS retention on real backups."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from migtool.backup import catalog
from migtool.backup.dump import BackupRequest, create_backup
from migtool.config import load_config
from migtool.database import open_database
from tests.support.backupdb import cli_env, run_cli, seed_varied

pytestmark = pytest.mark.integration

EVERY_2S = "* * * * * */2"  # croniter: the 6th field is seconds
# The healthy-run test allows 2 periods between the last success and the healthcheck: 4 s leaves room
# for a loaded CI machine to start the healthcheck process.
EVERY_4S = "* * * * * */4"


@pytest.fixture
def project(tmp_path, httpserver) -> Path:
    (tmp_path / "migtool.yaml").write_text(f"""\
target: direct
backup_dir: backups
keep_last: 1
keep_days: 0
keep_daily: 2
keep_monthly: 3
notify:
  heartbeat_url: {httpserver.url_for("/ping/3f1c")}
  webhook_url: {httpserver.url_for("/hooks/T0/secret-token")}
  timeout_seconds: 2
""")
    return tmp_path


def _seed_old_backups(project: Path, url: str) -> dict[str, str]:
    """Real backups dated in the past (create_backup's clock), placed so the GFS verdict does not depend
    on today's date: two on the last day of last month, two in the month before."""
    config = load_config(project / "migtool.yaml", environ={"DATABASE_URL": url}, cwd=project)
    db = open_database(config)
    first_of_month = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    when = {
        "last-month-late": first_of_month - timedelta(days=1) + timedelta(hours=10),
        "last-month-early": first_of_month - timedelta(days=1) + timedelta(hours=9),
        "two-months-late": first_of_month - timedelta(days=45),
        "two-months-early": first_of_month - timedelta(days=46),
    }
    names = {}
    for label, t in when.items():
        made = create_backup(db, BackupRequest(backup_dir=config.backup_dir, reason=label), clock=lambda t=t: t)
        names[label] = made.path.name
    return names


def test_three_scheduled_runs_ping_prune_by_gfs_and_stay_healthy(project, pg_url, httpserver):
    seed_varied(pg_url)
    httpserver.expect_request("/ping/3f1c", method="POST").respond_with_data("OK")
    old = _seed_old_backups(project, pg_url)
    env = cli_env(pg_url)

    t0 = time.monotonic()
    res = run_cli(["backup", "--schedule", EVERY_4S, "--max-runs", "3"], env, project, timeout=120)
    elapsed = time.monotonic() - t0
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("backup ok:") == 3 and res.stderr.count("heartbeat sent to localhost") == 3
    assert elapsed < 60

    pings = [req for req, _ in httpserver.log if req.path == "/ping/3f1c"]
    assert len(pings) == 3
    pinged = [json.loads(req.data)["backup"] for req in pings]
    assert len(set(pinged)) == 3 and all("-scheduled." in n for n in pinged)
    assert not [req for req, _ in httpserver.log if req.path.startswith("/hooks/")]  # nothing failed

    kept = {b.filename for b in catalog.scan(project / "backups")}
    # keep_last 1 and daily #1 and monthly #1: the newest; daily #2 and monthly #2: last month's newest;
    # monthly #3: the newest of the month before. Everything else is pruned, side files included.
    assert kept == {pinged[-1], old["last-month-late"], old["two-months-late"]}
    leftovers = {p.name for p in (project / "backups").iterdir()}
    for gone in (pinged[0], pinged[1], old["last-month-early"], old["two-months-early"]):
        assert not [n for n in leftovers if n.startswith(gone)], gone
    newest = catalog.load(project / "backups" / pinged[-1])
    assert newest.verified_ok is True  # the heartbeat followed a verification
    assert "secret-token" not in res.stdout + res.stderr  # the webhook URL's token is never printed

    health = run_cli(["backup", "--healthcheck"], env, project)
    assert health.returncode == 0, health.stderr
    last = datetime.fromisoformat(json.loads((project / "backups" / ".migtool-schedule.json").read_text())
                                  ["last_success_at"])
    # Two 4-second periods without a success:
    time.sleep(max(0.0, (last + timedelta(seconds=8.5) - datetime.now(UTC)).total_seconds()))
    stale = run_cli(["backup", "--healthcheck"], env, project)
    assert stale.returncode == 1 and "no backup succeeded for" in stale.stderr


def test_stopped_database_posts_the_webhook_and_fails_the_healthcheck(project, pg_server, pg_url, httpserver):
    httpserver.expect_request("/hooks/T0/secret-token", method="POST").respond_with_data("ok")
    httpserver.expect_request("/ping/3f1c", method="POST").respond_with_data("OK")
    env = cli_env(pg_url)
    pg_server.stop()
    try:
        res = run_cli(["backup", "--schedule", EVERY_2S, "--max-runs", "2"], env, project, timeout=120)
    finally:
        pg_server.start()
    assert res.returncode == 3, res.stderr  # the last run's code: the database was unreachable
    assert res.stderr.count("backup FAILED") == 2
    hooks = [json.loads(req.data) for req, _ in httpserver.log if req.path == "/hooks/T0/secret-token"]
    assert len(hooks) == 2
    assert hooks[0]["event"] == "scheduled-backup.failed" and hooks[0]["exit_code"] == 3
    assert "FAILED" in hooks[0]["text"]
    assert pg_server.password not in json.dumps(hooks) + res.stderr
    assert not [req for req, _ in httpserver.log if req.path == "/ping/3f1c"]  # no heartbeat without a backup
    assert not catalog.scan(project / "backups")  # nothing half-written left behind

    state = json.loads((project / "backups" / ".migtool-schedule.json").read_text())
    assert state["failures"] == 2 and state["last_success_at"] is None and state["last_error"]
    # Two periods after the start without one success: the healthcheck fails, and says why.
    started = datetime.fromisoformat(state["started_at"])
    time.sleep(max(0.0, (started + timedelta(seconds=4.5) - datetime.now(UTC)).total_seconds()))
    health = run_cli(["backup", "--healthcheck"], env, project)
    assert health.returncode == 1
    assert "no backup has succeeded since the scheduler started" in health.stderr
    assert "last error" in health.stderr


def test_bad_schedule_is_a_usage_error(project, pg_url):
    res = run_cli(["backup", "--schedule", "every night"], cli_env(pg_url), project)
    assert res.returncode == 2 and 'migtool backup --schedule "0 3 * * *"' in res.stderr


def test_scheduled_backup_is_uploaded_when_s3_is_configured(project, pg_url, httpserver):
    from tests.support.s3server import MotoServer, aws_env

    httpserver.expect_request("/ping/3f1c", method="POST").respond_with_data("OK")
    httpserver.expect_request("/hooks/T0/secret-token", method="POST").respond_with_data("ok")
    moto = MotoServer()
    try:
        moto.client().create_bucket(Bucket="nightly")
        env = cli_env(pg_url, MIGTOOL_S3_BUCKET="nightly", MIGTOOL_S3_ENDPOINT_URL=moto.url,
                      MIGTOOL_S3_REGION="us-east-1", **aws_env())
        res = run_cli(["backup", "--schedule", EVERY_2S, "--max-runs", "1"], env, project, timeout=120)
        assert res.returncode == 0, res.stderr
        keys = [o["Key"] for o in moto.client().list_objects_v2(Bucket="nightly").get("Contents", [])]
        name = next(b.filename for b in catalog.scan(project / "backups"))
        assert name in keys and f"uploaded to s3://nightly/{name}" in res.stderr
        assert len([req for req, _ in httpserver.log if req.path == "/ping/3f1c"]) == 1
        moto.stop()  # S3 gone: the backup stays local, the run fails, and no heartbeat says otherwise
        failed = run_cli(["backup", "--schedule", EVERY_2S, "--max-runs", "1"], env, project, timeout=180)
        assert failed.returncode == 3, failed.stderr
        assert "is safe locally, but" in failed.stderr
        assert len([req for req, _ in httpserver.log if req.path == "/ping/3f1c"]) == 1
        assert [req for req, _ in httpserver.log if req.path.startswith("/hooks/")]  # the failure was posted
    finally:
        moto.stop()
