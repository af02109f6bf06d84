"""`backups prune` never deletes the wrong backup (issue 9): a failed backup never counts toward
keep_last, the newest verified and pinned backups stay, it asks before deleting (refuses without a
terminal unless --yes), and what a SIGKILLed backup or restore test leaves behind is reported by
`doctor` and `backups list` and removed by prune."""

import json
import os
import signal
import time

import psycopg
import pytest

from migtool.backup import naming
from migtool.backup.catalog import load, set_pinned
from migtool.backup.verify import verify_backup
from tests.support.backup_folders import backup_at, varied_database
from tests.support.backupdb import cli_env, run_cli, seed_bulk, start_cli, visible_files

pytestmark = pytest.mark.integration


@pytest.fixture
def db(pg_url):
    return varied_database(pg_url)


def prune(folder, *extra, url=None, **env):
    args = ["backups", "prune", "--backup-dir", str(folder), *extra]
    if url:
        args += ["--target", "direct"]
    return run_cli(args, cli_env(url, **env), folder.parent)


def test_a_failed_newest_backup_never_gets_an_intact_one_deleted(db, tmp_path):
    folder = tmp_path / "b"
    old = backup_at(db, folder, 40, "old")
    mid = backup_at(db, folder, 20, "mid")
    newest = backup_at(db, folder, 0, "newest")
    assert verify_backup(load(old), db).ok
    newest.write_bytes(newest.read_bytes()[:100])  # truncated
    assert not verify_backup(load(newest), db).ok
    before = visible_files(folder)

    res = prune(folder, "--yes", "--json", MIGTOOL_KEEP_LAST="1", MIGTOOL_KEEP_DAYS="0")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["deleted"] == []  # before: mid and old deleted, the broken one kept
    why = {d["name"]: d["why"] for d in report["decisions"]}
    assert why[mid.name] == "among the newest 1" and why[old.name] == "newest verified backup"
    assert "not counted" in why[newest.name]
    assert visible_files(folder) == before

    res = prune(folder, "--yes", "--failed", "--json", MIGTOOL_KEEP_LAST="1", MIGTOOL_KEEP_DAYS="0")
    assert json.loads(res.stdout)["deleted"] == [newest.name]
    assert {old.name, mid.name} <= set(visible_files(folder))


def test_prune_asks_and_refuses_without_a_terminal(db, tmp_path):
    folder = tmp_path / "b"
    backup_at(db, folder, 50, "old")
    backup_at(db, folder, 0, "new")
    before = visible_files(folder)
    res = prune(folder, MIGTOOL_KEEP_LAST="1", MIGTOOL_KEEP_DAYS="0")
    assert res.returncode == 1
    assert "refusing to delete 1 item(s)" in res.stderr and "--yes" in res.stderr
    assert "delete" in res.stdout  # it showed what it would have deleted
    assert visible_files(folder) == before
    dry = prune(folder, "--dry-run", MIGTOOL_KEEP_LAST="1", MIGTOOL_KEEP_DAYS="0")
    assert dry.returncode == 0 and "would delete" in dry.stdout and visible_files(folder) == before


def test_pinned_backup_is_never_pruned_and_listed_as_pinned(db, tmp_path):
    folder = tmp_path / "b"
    old = backup_at(db, folder, 90, "before migration")
    backup_at(db, folder, 0, "new")
    set_pinned(old, True, reason="deploy-migrate pre-migration backup")
    res = prune(folder, "--yes", "--json", MIGTOOL_KEEP_LAST="1", MIGTOOL_KEEP_DAYS="0")
    assert json.loads(res.stdout)["deleted"] == []
    rows = json.loads(run_cli(["backups", "list", "--json", "--backup-dir", str(folder)], cli_env(None),
                              tmp_path).stdout)
    assert {r["name"]: r["pinned"] for r in rows}[old.name] is True
    human = run_cli(["backups", "list", "--backup-dir", str(folder)], cli_env(None), tmp_path)
    assert "pinned" in human.stdout
    set_pinned(old, False)
    res = prune(folder, "--yes", "--json", MIGTOOL_KEEP_LAST="1", MIGTOOL_KEEP_DAYS="0")
    assert json.loads(res.stdout)["deleted"] == [old.name]
    assert not any(n.startswith(old.name) for n in visible_files(folder))  # the pin file went too


def test_manifest_pinned_key_is_honoured(db, tmp_path):
    folder = tmp_path / "b"
    old = backup_at(db, folder, 90, "pinned in manifest")
    backup_at(db, folder, 0, "new")
    mpath = folder / naming.manifest_name(old.name)
    mpath.write_text(json.dumps({**json.loads(mpath.read_text()), "pinned": True}))
    res = prune(folder, "--yes", "--json", MIGTOOL_KEEP_LAST="1", MIGTOOL_KEEP_DAYS="0")
    assert json.loads(res.stdout)["deleted"] == []


def scratch_databases(pg_server):
    with pg_server.admin() as conn:
        return [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'migtool_verify_%'")]


def wait_until(predicate, proc, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc is None or proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, what
        time.sleep(0.005)


def test_leftovers_of_killed_runs_are_reported_and_pruned(pg_server, pg_url, tmp_path):
    seed_bulk(pg_url, 400_000)
    folder = tmp_path / "b"
    res = run_cli(["backup", "--target", "direct", "--backup-dir", str(folder), "--json"], cli_env(pg_url), tmp_path)
    assert res.returncode == 0, res.stderr
    name = json.loads(res.stdout)["name"]

    # 1. a backup SIGKILLed mid-dump leaves its .partial
    proc = start_cli(["backup", "--target", "direct", "--backup-dir", str(folder), "--reason", "killed"],
                     cli_env(pg_url), tmp_path)
    wait_until(lambda: any(p.stat().st_size for p in folder.glob(".*killed*.partial")), proc, "no dump started")
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    # 2. a restore test SIGKILLed while decompressing leaves its scratch database and temp copy
    proc = start_cli(["backups", "verify", name, "--restore-test", "--target", "direct", "--backup-dir",
                      str(folder)], cli_env(pg_url), tmp_path)
    wait_until(lambda: scratch_databases(pg_server) and list(folder.glob(f".{name}.*.partial")), proc,
               "the restore test did not start")
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    [scratch] = scratch_databases(pg_server)
    partials = sorted(p.name for p in folder.glob(".*.partial"))
    assert len(partials) == 2

    # Fresh leftovers may belong to a run still going: nothing is reported yet.
    res = run_cli(["doctor", "--target", "direct", "--backup-dir", str(folder), "--json"], cli_env(pg_url), tmp_path)
    check = next(c for c in json.loads(res.stdout)["checks"] if c["name"] == "no leftovers from interrupted runs")
    assert check["status"] == "ok", check
    # An hour later (backdated: the scratch database's age is in its name):
    hour_ago = time.time() - 3600
    for p in partials:
        os.utime(folder / p, (hour_ago, hour_ago))
    old_name = "migtool_verify_20200101000000_" + scratch[-6:]
    deadline = time.monotonic() + 60
    with pg_server.admin() as conn:
        while conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (scratch,)).fetchone()[0]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        conn.execute(f'ALTER DATABASE "{scratch}" RENAME TO "{old_name}"')
    with pg_server.admin() as conn:  # somebody's own database with our prefix but not our comment
        conn.execute('CREATE DATABASE "migtool_verify_20200101000000_ffffff"')
    try:
        res = run_cli(["doctor", "--target", "direct", "--backup-dir", str(folder), "--json"], cli_env(pg_url),
                      tmp_path)
        check = next(c for c in json.loads(res.stdout)["checks"] if c["name"] == "no leftovers from interrupted runs")
        assert check["status"] == "warn" and "3 found" in check["detail"] and old_name in check["detail"]
        assert "prune" in check["fix"]
        human = run_cli(["doctor", "--target", "direct", "--backup-dir", str(folder)], cli_env(pg_url), tmp_path)
        assert "backups prune" in human.stdout
        listing = run_cli(["backups", "list", "--backup-dir", str(folder)], cli_env(None), tmp_path)
        assert "2 file(s) left over" in listing.stderr and "backups prune" in listing.stderr

        res = prune(folder, "--yes", "--json", url=pg_url)
        assert res.returncode == 0, res.stderr
        report = json.loads(res.stdout)
        assert sorted(report["stale_partials"]) == partials and report["scratch_databases_dropped"] == [old_name]
        assert scratch_databases(pg_server) == ["migtool_verify_20200101000000_ffffff"]
        assert not list(folder.glob(".*.partial")) and (folder / name).exists()
    finally:
        with pg_server.admin() as conn:
            conn.execute('DROP DATABASE IF EXISTS "migtool_verify_20200101000000_ffffff"')


def test_a_running_backups_partial_is_not_a_leftover(pg_url, tmp_path):
    """Even when old: a live run holds a lock on its partial file."""
    import fcntl

    from migtool.backup.leftovers import stale_partials

    folder = tmp_path / "b"
    folder.mkdir()
    p = folder / naming.partial_name("app-20200101T000000Z-running.dump.zst")
    fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.utime(p, (time.time() - 3600,) * 2)
        assert stale_partials(folder) == []
    finally:
        os.close(fd)
    assert stale_partials(folder) == [p]


def test_scratch_database_has_our_comment_while_it_exists(pg_server, pg_url, tmp_path):
    seed_bulk(pg_url, 300_000)
    folder = tmp_path / "b"
    res = run_cli(["backup", "--target", "direct", "--backup-dir", str(folder), "--format", "sql", "--json"],
                  cli_env(pg_url), tmp_path)
    name = json.loads(res.stdout)["name"]
    proc = start_cli(["backups", "verify", name, "--restore-test", "--target", "direct", "--backup-dir",
                      str(folder)], cli_env(pg_url), tmp_path)
    comments = []

    def commented():
        with psycopg.connect(pg_server.url(), autocommit=True) as conn:
            comments[:] = [r[0] for r in conn.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname LIKE 'migtool_verify_%'")]
        return any(comments)

    wait_until(commented, proc, "no commented scratch database")
    assert comments[0].startswith(f"migtool verify scratch database (pid {proc.pid} on ")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert scratch_databases(pg_server) == []
