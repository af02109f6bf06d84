"""A backup that does not finish leaves nothing that looks like a backup, and no partial file:
Ctrl-C or SIGTERM to migtool mid-dump, pg_dump killed, the disk full, a file size limit."""

import os
import resource
import signal
import subprocess
import sys
import time

import pytest

from tests.support.backupdb import alive, children, cli_env, process_name, seed_bulk, start_cli, visible_files

pytestmark = pytest.mark.integration

BULK_ROWS = 1_500_000  # ~150 MB of dump: pg_dump takes a second or more


@pytest.fixture(scope="module")
def bulk_url(pg_server):
    name = pg_server.create_database()
    seed_bulk(pg_server.url(name), BULK_ROWS)
    yield pg_server.url(name)
    pg_server.drop_database(name)


def wait_for_partial(folder, proc, timeout=60.0):
    """Until the dump is being written (its hidden partial file has bytes); returns pg_dump's pid."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"migtool ended before we could interrupt it: {proc.communicate()}")
        partial = [p for p in folder.glob(".*.partial")] if folder.exists() else []
        if partial and partial[0].stat().st_size > 0:
            dumps = [c for c in children(proc.pid) if process_name(c) == "pg_dump"]
            if dumps:
                return dumps[0]
        time.sleep(0.005)
    raise AssertionError("the dump did not start in time")


@pytest.mark.parametrize(("sig", "fmt", "comp"), [
    (signal.SIGINT, "custom", "zstd"),
    (signal.SIGINT, "sql", "gzip"),
    (signal.SIGTERM, "custom", "gzip"),
])
def test_signal_mid_dump_leaves_nothing(bulk_url, tmp_path, sig, fmt, comp):
    backups = tmp_path / "backups"
    proc = start_cli(["backup", "--target", "direct", "--backup-dir", str(backups), "--format", fmt,
                      "--compression", comp], cli_env(bulk_url), tmp_path)
    pg_dump = wait_for_partial(backups, proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "no backup file was left behind" in err
    assert visible_files(backups) == []  # hidden partials included
    deadline = time.monotonic() + 10
    while alive(pg_dump) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pg_dump), "pg_dump kept running after migtool was interrupted"


def test_killed_pg_dump_leaves_nothing(bulk_url, tmp_path):
    backups = tmp_path / "backups"
    proc = start_cli(["backup", "--target", "direct", "--backup-dir", str(backups)], cli_env(bulk_url), tmp_path)
    pg_dump = wait_for_partial(backups, proc)
    os.kill(pg_dump, signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert "pg_dump was killed" in err
    assert visible_files(backups) == []


@pytest.fixture
def tiny_disk(tmp_path):
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mountpoint)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


@pytest.mark.parametrize("comp", ["zstd", "gzip"])
def test_disk_full_leaves_nothing_and_exits_3(bulk_url, tiny_disk, tmp_path, comp):
    proc = subprocess.run([sys.executable, "-m", "migtool", "backup", "--target", "direct", "--backup-dir",
                           str(tiny_disk), "--compression", comp], env=cli_env(bulk_url), cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3, proc.stderr
    assert "no space left" in proc.stderr.lower()
    assert "free disk space" in proc.stderr
    assert visible_files(tiny_disk) == []
    assert os.statvfs(tiny_disk).f_bfree == os.statvfs(tiny_disk).f_blocks  # the space is given back


def test_file_size_limit_leaves_nothing(bulk_url, tmp_path):
    backups = tmp_path / "backups"

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (2 * 1024 * 1024, 2 * 1024 * 1024))

    proc = subprocess.run([sys.executable, "-m", "migtool", "backup", "--target", "direct", "--backup-dir",
                           str(backups), "--format", "sql"], env=cli_env(bulk_url), cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, preexec_fn=limit)
    assert proc.returncode == 3, proc.stderr
    assert "file too large" in proc.stderr.lower()
    assert visible_files(backups) == []
