"""`backups verify` tells an outage from a bad file (issue 9): when the check cannot run (docker down,
the server down, no scratch database allowed, a full or read-only disk for the restore test) it exits 3
("could not check"), records the attempt apart, and leaves the previous verdict alone, so `list`
still says verified and `prune` still protects it. Only the file failing a check is a verdict."""

import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from migtool.backup import naming
from tests.support.backupdb import cli_env, run_cli, seed_bulk, seed_varied

pytestmark = pytest.mark.integration

COMPOSE_YML = "services:\n  postgres:\n    image: postgres:15\n"


def backup(url, folder, cwd, fmt="custom"):
    res = run_cli(["backup", "--target", "direct", "--backup-dir", str(folder), "--format", fmt, "--json"],
                  cli_env(url), cwd)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)["name"]


def verify(url, folder, cwd, name, *extra, env=None, **kw):
    args = ["backups", "verify", name, "--backup-dir", str(folder), *extra]
    if env is None:
        args += ["--target", "direct"]
    return run_cli(args, env or cli_env(url), cwd, **kw)


def record(folder, name):
    return json.loads((folder / naming.verified_name(name)).read_text())


def listed(folder, cwd):
    res = run_cli(["backups", "list", "--json", "--backup-dir", str(folder)], cli_env(None), cwd)
    return json.loads(res.stdout)[0]


def assert_outage_kept_pass(res, folder, name, cwd):
    assert res.returncode == 3, res.stdout + res.stderr
    assert "could not check" in res.stderr and "is bad" not in res.stderr
    assert "the previous one, passed, stays" in res.stderr
    rec = record(folder, name)
    assert rec["verdict"] == "passed" and rec["ok"] is True  # the earlier pass, untouched
    assert rec["last_attempt"]["outcome"] == "could-not-check" and rec["last_attempt"]["why"]
    row = listed(folder, cwd)
    assert row["verified"] is True and row["last_check_could_not_run"]


@pytest.fixture
def passed(pg_url, tmp_path):
    """A whole custom-format backup whose verification (with a restore test) passed."""
    seed_varied(pg_url)
    folder = tmp_path / "b"
    name = backup(pg_url, folder, tmp_path)
    res = verify(pg_url, folder, tmp_path, name, "--restore-test")
    assert res.returncode == 0, res.stdout + res.stderr
    assert record(folder, name)["ok"] is True
    return folder, name


def test_docker_unreachable_is_no_verdict(pg_url, tmp_path, passed):
    folder, name = passed
    (tmp_path / "docker-compose.yml").write_text(COMPOSE_YML)
    env = cli_env(None, MIGTOOL_TARGET="compose", MIGTOOL_COMPOSE_FILE="docker-compose.yml",
                  MIGTOOL_DB_USER="app", MIGTOOL_DB_NAME="app", DOCKER_HOST=f"unix://{tmp_path}/no-docker.sock")
    res = verify(pg_url, folder, tmp_path, name, env=env)
    assert_outage_kept_pass(res, folder, name, tmp_path)
    res = verify(pg_url, folder, tmp_path, name, "--json", env=env)
    assert res.returncode == 3 and json.loads(res.stdout)["previous_verdict"] == "passed"


def test_server_down_during_restore_test_is_no_verdict(pg_server, pg_url, tmp_path, passed):
    folder, name = passed
    down = pg_url.replace(f":{pg_server.port}/", ":1/")  # nothing listens on port 1
    res = verify(down, folder, tmp_path, name, "--restore-test")
    assert_outage_kept_pass(res, folder, name, tmp_path)


def test_scratch_database_refused_is_no_verdict(pg_server, pg_url, pg_dbname, tmp_path, passed):
    folder, name = passed
    role = f"nocreate_{pg_dbname}"
    with pg_server.admin() as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'pw-nocreate' NOCREATEDB")
    try:
        url = f"postgresql://{role}:pw-nocreate@{pg_server.host}:{pg_server.port}/{pg_dbname}"
        res = verify(url, folder, tmp_path, name, "--restore-test")
        assert "permission denied to create database" in res.stderr
        assert_outage_kept_pass(res, folder, name, tmp_path)
    finally:
        with pg_server.admin() as conn:
            conn.execute(f"DROP ROLE {role}")


def test_file_size_limit_during_restore_test_is_no_verdict(pg_url, tmp_path):
    """ENOSPC/EFBIG while decompressing the temp copy for the parallel restore: the disk's fault."""
    seed_bulk(pg_url, 40_000)
    folder = tmp_path / "b"
    name = backup(pg_url, folder, tmp_path)
    assert verify(pg_url, folder, tmp_path, name).returncode == 0
    limit = 512 * 1024

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    res = subprocess.run([sys.executable, "-m", "migtool", "backups", "verify", name, "--restore-test",
                          "--target", "direct", "--backup-dir", str(folder)],
                         env=cli_env(pg_url), cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         preexec_fn=small_files)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "could not check" in res.stderr and "File too large" in res.stderr
    assert record(folder, name)["verdict"] == "passed"
    assert not list(folder.glob(".*.partial"))  # the temp copy was removed


@contextlib.contextmanager
def tmpfs(size_bytes: int):
    path = Path(tempfile.mkdtemp(prefix="migtool-tmpfs-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(path)],
                             capture_output=True).returncode == 0
    if not mounted:
        path.rmdir()
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)
        path.rmdir()


def test_full_disk_for_the_restore_test_is_no_verdict(pg_url, tmp_path):
    seed_bulk(pg_url, 40_000)
    name = backup(pg_url, tmp_path / "b", tmp_path)
    size = (tmp_path / "b" / name).stat().st_size
    with tmpfs(size + 256 * 1024) as disk:
        for f in (tmp_path / "b").iterdir():
            shutil.copy2(f, disk / f.name)
        assert verify(pg_url, disk, tmp_path, name).returncode == 0
        res = verify(pg_url, disk, tmp_path, name, "--restore-test")
        assert res.returncode == 3, res.stdout + res.stderr
        assert "not enough space" in res.stderr
        assert record(disk, name)["verdict"] == "passed"


def test_read_only_backup_folder_restore_test_is_exit_3_with_a_hint(pg_url, tmp_path):
    seed_varied(pg_url)
    name = backup(pg_url, tmp_path / "b", tmp_path)
    with tmpfs(64 * 1024 * 1024) as disk:
        for f in (tmp_path / "b").iterdir():
            shutil.copy2(f, disk / f.name)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        res = verify(pg_url, disk, tmp_path, name)  # reading is fine: a verdict, but no record
        assert res.returncode == 0, res.stderr
        assert "could not record the result" in res.stderr
        res = verify(pg_url, disk, tmp_path, name, "--restore-test")
        assert res.returncode == 3, res.stdout + res.stderr  # was 4 (internal error)
        assert "Read-only file system" in res.stderr and "writable" in res.stderr


def test_a_bad_file_is_still_a_verdict_that_replaces_a_pass(pg_url, tmp_path, passed):
    folder, name = passed
    path = folder / name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    res = verify(pg_url, folder, tmp_path, name)
    assert res.returncode == 1 and "is bad" in res.stderr
    rec = record(folder, name)
    assert rec["verdict"] == "failed" and rec["last_attempt"]["outcome"] == "failed"


def test_outage_before_any_verdict_records_none(pg_url, tmp_path):
    seed_varied(pg_url)
    folder = tmp_path / "b"
    name = backup(pg_url, folder, tmp_path)
    (tmp_path / "docker-compose.yml").write_text(COMPOSE_YML)
    env = cli_env(None, MIGTOOL_TARGET="compose", MIGTOOL_COMPOSE_FILE="docker-compose.yml",
                  MIGTOOL_DB_USER="app", MIGTOOL_DB_NAME="app", DOCKER_HOST=f"unix://{tmp_path}/no-docker.sock")
    res = verify(pg_url, folder, tmp_path, name, env=env)
    assert res.returncode == 3
    rec = record(folder, name)
    assert rec["verdict"] is None and rec["ok"] is None and rec["last_attempt"]["outcome"] == "could-not-check"
    assert listed(folder, tmp_path)["verified"] is None


def test_missing_sha256_file_alone_is_reported_not_bad(pg_url, tmp_path):
    seed_varied(pg_url)
    folder = tmp_path / "b"
    name = backup(pg_url, folder, tmp_path, fmt="sql")
    (folder / naming.checksum_name(name)).unlink()
    res = verify(pg_url, folder, tmp_path, name)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"missing {name}.sha256" in res.stderr and "sha256sum" in res.stderr
    assert "backup is whole" in res.stdout
    # both gone: nothing to compare with, that is bad
    (folder / naming.manifest_name(name)).unlink()
    assert verify(pg_url, folder, tmp_path, name).returncode == 1


def test_low_privilege_role_backup_says_permission_denied(pg_server, pg_url, pg_dbname, tmp_path):
    seed_varied(pg_url)
    role = f"low_{pg_dbname}"
    with pg_server.admin() as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'pw-low'")
    try:
        url = f"postgresql://{role}:pw-low@{pg_server.host}:{pg_server.port}/{pg_dbname}"
        res = run_cli(["backup", "--target", "direct", "--backup-dir", str(tmp_path / "b")], cli_env(url), tmp_path)
        assert res.returncode != 0
        assert "permission denied" in res.stderr and "invalid snapshot identifier" not in res.stderr
        assert not (tmp_path / "b").exists() or not os.listdir(tmp_path / "b")
    finally:
        with pg_server.admin() as conn:
            conn.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")


def test_tables_whose_names_collide_as_text_keep_their_own_row_counts(pg_url, tmp_path):
    """"a.b".c and a."b.c": 'schema.name' text is the same for both; the manifest and the restore
    test must still tell their counts apart."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute('CREATE SCHEMA "a.b"; CREATE SCHEMA a; CREATE TABLE "a.b".c (id int); '
                     'CREATE TABLE a."b.c" (id int); INSERT INTO "a.b".c SELECT generate_series(1, 7); '
                     'INSERT INTO a."b.c" SELECT generate_series(1, 3)')
    folder = tmp_path / "b"
    name = backup(pg_url, folder, tmp_path)
    manifest = json.loads((folder / naming.manifest_name(name)).read_text())
    rows = {(t["schema"], t["name"]): t["rows"] for t in manifest["tables"]}
    assert rows == {("a.b", "c"): 7, ("a", "b.c"): 3}
    res = verify(pg_url, folder, tmp_path, name, "--restore-test", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["restore_test"]["row_counts_compared"] == 2
    # and a manifest that swaps them is caught (before: a false "match")
    for t in manifest["tables"]:
        t["rows"] = 3 if t["rows"] == 7 else 7
    (folder / naming.manifest_name(name)).write_text(json.dumps(manifest))
    res = verify(pg_url, folder, tmp_path, name, "--restore-test")
    assert res.returncode == 1 and "rows restored" in res.stderr
