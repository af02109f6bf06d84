"""`migtool backups list` and `migtool backups prune` on real backup folders."""

import json
import os
import time

import pytest

from migtool.backup import naming
from migtool.backup.catalog import load
from migtool.backup.verify import verify_backup
from tests.support.backup_folders import backup_at, varied_database
from tests.support.backupdb import cli_env, run_cli, visible_files

pytestmark = pytest.mark.integration


@pytest.fixture
def db(pg_url):
    return varied_database(pg_url)


def test_list_newest_first_with_json(db, tmp_path):
    old = backup_at(db, tmp_path, 3, "three days")
    new = backup_at(db, tmp_path, 0, "today")
    (tmp_path / "notes.txt").write_text("not ours")
    res = run_cli(["backups", "list", "--json", "--backup-dir", str(tmp_path)], cli_env(None), tmp_path)
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [r["name"] for r in rows] == [new.name, old.name]
    assert rows[1]["reason"] == "three days" and rows[1]["verified"] is None
    assert 3 * 86400 - 120 < rows[1]["age_seconds"] < 3 * 86400 + 120
    assert rows[0]["size"] == new.stat().st_size and rows[0]["format"] == "sql" and rows[0]["compression"] == "zstd"


def test_list_human_table(db, tmp_path):
    backup_at(db, tmp_path, 2, "before the big one")
    res = run_cli(["backups", "list", "--backup-dir", str(tmp_path)], cli_env(None), tmp_path)
    assert res.returncode == 0
    assert "before the big one" in res.stdout and "2d" in res.stdout and "not yet" in res.stdout


def test_list_shows_backups_without_manifest_as_a_problem(db, tmp_path):
    path = backup_at(db, tmp_path, 0, "x")
    (tmp_path / naming.manifest_name(path.name)).unlink()
    rows = json.loads(run_cli(["backups", "list", "--json", "--backup-dir", str(tmp_path)], cli_env(None),
                              tmp_path).stdout)
    assert rows[0]["problem"].startswith("missing manifest")


def test_list_empty_folder(tmp_path):
    res = run_cli(["backups", "list", "--backup-dir", str(tmp_path / "none")], cli_env(None), tmp_path)
    assert res.returncode == 0 and "no backups in" in res.stderr
    assert json.loads(run_cli(["backups", "list", "--json", "--backup-dir", "none"], cli_env(None),
                              tmp_path).stdout) == []


def test_prune_keeps_newest_young_and_newest_verified_and_touches_nothing_else(db, tmp_path):
    made = {age: backup_at(db, tmp_path, age, f"age {age}") for age in (0, 1, 10, 40, 50, 60)}
    assert verify_backup(load(made[50]), db).ok  # the newest verified backup, 50 days old
    assert verify_backup(load(made[60]), db).ok
    foreign = tmp_path / "notes.txt"
    foreign.write_text("keep me")
    orphan = tmp_path / "other-20200101T000000Z-no-manifest.dump.zst"  # our pattern, but no manifest
    orphan.write_bytes(b"?")
    stale = tmp_path / naming.partial_name("app-20200101T000000Z-crashed.dump.zst")
    stale.write_bytes(b"half")
    old = time.time() - 3 * 86400
    os.utime(stale, (old, old))
    fresh = tmp_path / naming.partial_name("app-20990101T000000Z-running.dump.zst")
    fresh.write_bytes(b"in progress")
    env = cli_env(None, MIGTOOL_KEEP_LAST="2", MIGTOOL_KEEP_DAYS="30")
    before = visible_files(tmp_path)

    dry = run_cli(["backups", "prune", "--dry-run", "--backup-dir", str(tmp_path)], env, tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert visible_files(tmp_path) == before
    assert dry.stdout.count("would delete") == 3  # two backups and the stale partial
    assert "newest verified backup" in dry.stdout

    refused = run_cli(["backups", "prune", "--json", "--backup-dir", str(tmp_path)], env, tmp_path)
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert visible_files(tmp_path) == before
    res = run_cli(["backups", "prune", "--yes", "--json", "--backup-dir", str(tmp_path)], env, tmp_path)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert sorted(report["deleted"]) == sorted([made[40].name, made[60].name])
    assert report["skipped_without_manifest"] == [orphan.name]
    assert report["stale_partials"] == [stale.name]
    remaining = set(visible_files(tmp_path))
    for age in (0, 1, 10, 50):
        assert made[age].name in remaining and naming.manifest_name(made[age].name) in remaining
    for age in (40, 60):
        assert not any(n.startswith(made[age].name) for n in remaining), age  # dump and side files gone
    assert {foreign.name, orphan.name, fresh.name} <= remaining
    assert stale.name not in remaining
    assert foreign.read_text() == "keep me"


def test_prune_with_nothing_to_do(db, tmp_path):
    backup_at(db, tmp_path, 100, "only one")
    res = run_cli(["backups", "prune", "--backup-dir", str(tmp_path)], cli_env(None, MIGTOOL_KEEP_LAST="1"), tmp_path)
    assert res.returncode == 0
    assert "0 backup(s) deleted, 1 kept" in res.stdout


def test_no_action_is_a_usage_error(tmp_path):
    res = run_cli(["backups"], cli_env(None), tmp_path)
    assert res.returncode == 2 and "list, verify, prune" in res.stderr
