"""scripts/backup/postgres-backup.sh run for real, in DATABASE_URL mode, against the test cluster."""

import os
import signal
import stat
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from migtool.backup import naming
from migtool.backup.catalog import load
from migtool.backup.restore import restore_backup
from migtool.backup.verify import verify_backup
from migtool.config import Secret
from migtool.database import DirectDatabase
from tests.support.backupdb import (
    alive,
    children,
    content_hashes,
    process_name,
    seed_bulk,
    seed_varied,
    visible_files,
)

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "backup" / "postgres-backup.sh"


def script_env(url, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "MIGTOOL_")) and k != "DATABASE_URL"}
    if url is not None:
        env["DATABASE_URL"] = url
    env.update(extra)
    return env


def run_script(args, env, cwd, timeout=300):
    return subprocess.run(["bash", str(SCRIPT), *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def only_backup(folder):
    names = [n for n in visible_files(folder) if naming.parse_name(n)]
    assert len(names) == 1, visible_files(folder)
    return folder / names[0]


def test_help_and_bad_usage(tmp_path):
    res = run_script(["--help"], script_env(None), tmp_path)
    assert res.returncode == 0 and "Usage: postgres-backup.sh" in res.stdout and "DATABASE_URL" in res.stdout
    res = run_script(["--bogus"], script_env(None), tmp_path)
    assert res.returncode == 2 and "unknown argument" in res.stderr
    res = run_script(["--format", "tar"], script_env(None), tmp_path)
    assert res.returncode == 2


@pytest.mark.parametrize(("fmt", "comp"), [("custom", "zstd"), ("custom", "gzip"), ("sql", "zstd"), ("sql", "gzip")])
def test_round_trip(pg_server, pg_dbname, pg_url, tmp_path, fmt, comp):
    seed_varied(pg_url)
    before = content_hashes(pg_url)
    old_umask = os.umask(0o022)
    try:
        res = run_script(["--dir", "out", "--reason", "Nightly (script)", "--format", fmt, "--compression", comp],
                         script_env(pg_url), tmp_path)
    finally:
        os.umask(old_umask)
    assert res.returncode == 0, res.stderr
    path = only_backup(tmp_path / "out")
    assert path.name.startswith(f"{pg_dbname}-") and path.name.endswith(f"-nightly-script.{naming.EXTENSIONS[(fmt, comp)]}")
    assert f"backup written: out/{path.name}" in res.stdout
    assert visible_files(tmp_path / "out") == [path.name, path.name + ".json", path.name + ".sha256"]
    for f in visible_files(tmp_path / "out"):
        assert stat.S_IMODE((tmp_path / "out" / f).stat().st_mode) == 0o600  # umask 077 in the script
    assert subprocess.run(["sha256sum", "-c", path.name + ".sha256"], cwd=tmp_path / "out",
                          capture_output=True).returncode == 0
    backup = load(path)
    assert backup.manifest is not None, backup.manifest_problem
    assert backup.manifest.created_by == "postgres-backup.sh" and backup.manifest.reason == "Nightly (script)"
    assert backup.manifest.database == pg_dbname and backup.manifest.target == "direct"
    report = verify_backup(backup, DirectDatabase(Secret(pg_url)))
    assert report.ok, report.problems

    pg_server.drop_database(pg_dbname)
    pg_server.create_database(pg_dbname)
    restore_backup(DirectDatabase(Secret(pg_url)), path, fmt=fmt, compression=comp)
    assert content_hashes(pg_url) == before


def test_password_never_in_argv_and_special_characters_work(pg_server, pg_dbname, tmp_path):
    """The password reaches pg_dump through PGPASSWORD; a password with URL-special characters works."""
    password = "p@ss:w/rd%?&#x y"
    with pg_server.admin() as conn:
        conn.execute(f"CREATE ROLE script_user LOGIN SUPERUSER PASSWORD '{password}'")
    try:
        url = f"postgresql://script_user:{quote(password, safe='')}@127.0.0.1:{pg_server.port}/{pg_dbname}?sslmode=disable"
        shim = tmp_path / "shim"
        shim.mkdir()
        log = tmp_path / "argv.log"
        real = subprocess.run(["bash", "-c", "command -v pg_dump"], capture_output=True, text=True).stdout.strip()
        (shim / "pg_dump").write_text(
            f'#!/bin/bash\nprintf "%s\\n" "$0 $*" >> {log}\n'
            f'[ -n "$PGPASSWORD" ] && echo "PGPASSWORD set, PGUSER=$PGUSER PGSSLMODE=$PGSSLMODE" >> {log}\n'
            f'exec {real} "$@"\n')
        (shim / "pg_dump").chmod(0o755)
        env = script_env(url, PATH=f"{shim}:{os.environ['PATH']}")
        res = run_script(["--dir", "out"], env, tmp_path)
        assert res.returncode == 0, res.stderr
        logged = log.read_text()
        assert "--no-password" in logged and "--format=custom" in logged
        assert "PGPASSWORD set, PGUSER=script_user PGSSLMODE=disable" in logged
        assert password not in logged and quote(password, safe="") not in logged
        assert password not in res.stdout + res.stderr
        only_backup(tmp_path / "out")
    finally:
        with pg_server.admin() as conn:
            conn.execute("DROP ROLE script_user")


def test_failed_dump_leaves_nothing(pg_server, pg_dbname, tmp_path):
    url = pg_server.url(pg_dbname, password="wrong-password")
    res = run_script(["--dir", "out"], script_env(url), tmp_path)
    assert res.returncode != 0
    assert "authentication failed" in res.stderr
    assert "wrong-password" not in res.stdout + res.stderr
    assert visible_files(tmp_path / "out") == []


def test_same_second_gets_a_suffix_and_never_overwrites(pg_url, tmp_path):
    seed_varied(pg_url)
    out = tmp_path / "out"
    out.mkdir()
    db = pg_url.rsplit("/", 1)[1]
    now = datetime.now(UTC)
    taken = []
    for s in range(0, 30):  # names the run could pick in the next seconds are all taken already
        name = naming.build_name(db, now + timedelta(seconds=s), "same", "custom", "zstd").filename
        (out / name).write_text("an older backup")
        taken.append(name)
    res = run_script(["--dir", "out", "--reason", "same"], script_env(pg_url), tmp_path)
    assert res.returncode == 0, res.stderr
    new = [n for n in visible_files(out) if naming.parse_name(n) and n not in taken]
    assert len(new) == 1 and new[0].endswith("-same-2.dump.zst")
    for name in taken:
        assert (out / name).read_text() == "an older backup"


def test_sigint_mid_dump_leaves_nothing(pg_url, tmp_path):
    seed_bulk(pg_url, 1_500_000)
    out = tmp_path / "out"
    proc = subprocess.Popen(["bash", str(SCRIPT), "--dir", str(out)], env=script_env(pg_url), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    pg_dump = None
    while pg_dump is None:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the dump did not start"
        partial = list(out.glob(".*.partial")) if out.exists() else []
        if partial and partial[0].stat().st_size > 0:
            pg_dump = next((p for p in _descendants(proc.pid) if process_name(p) == "pg_dump"), None)
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    out_text, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted; no backup was written" in err
    assert visible_files(out) == []
    deadline = time.monotonic() + 10
    while alive(pg_dump) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pg_dump)


def _descendants(pid):
    found, todo = [], [pid]
    while todo:
        for c in children(todo.pop()):
            found.append(c)
            todo.append(c)
    return found
