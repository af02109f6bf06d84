"""The same cases for scripts/restore/postgres-restore.sh (run for real, DATABASE_URL mode, with no
python on PATH) and for `migtool restore --target direct`, against the test cluster. Both take the
same arguments (-c, --yes, --target-db, --jobs). Every refusal and every failure leaves the database
exactly as it was (content hashes compared) and leaves no database of ours behind."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.support.backupdb import cli_env, content_hashes, run_cli, seed_varied
from tests.support.nopython import no_python_path

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "restore" / "postgres-restore.sh"
FORMATS = [("custom", "zstd"), ("custom", "gzip"), ("sql", "zstd"), ("sql", "gzip")]


@pytest.fixture(scope="module")
def bare_path(tmp_path_factory, pg_server):
    path = no_python_path(tmp_path_factory.mktemp("nopython") / "bin", [str(pg_server.bindir)])
    probe = subprocess.run(["bash", "-c", "command -v python3 || command -v python || echo none"],
                           env={"PATH": path}, capture_output=True, text=True)
    assert probe.stdout.strip() == "none"
    return path


def script_env(url, path, **extra):
    env = {"PATH": path, "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}
    if url is not None:
        env["DATABASE_URL"] = url
    env.update(extra)
    return env


def restore(args, url, path, cwd, timeout=300):
    return subprocess.run(["bash", str(SCRIPT), *args], env=script_env(url, path), cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture(params=["script", "migtool"])
def tool(request, bare_path):
    """restore(args, url, cwd) through the script or through migtool."""
    def through_script(args, url, cwd):
        return restore(args, url, bare_path, cwd)

    def through_migtool(args, url, cwd):
        backup_dir = Path(args[0]).parent
        return subprocess.run([sys.executable, "-m", "migtool", "restore", *args, "--target", "direct",
                               "--backup-dir", str(backup_dir)], env=cli_env(url), cwd=cwd, capture_output=True,
                              text=True, timeout=300, stdin=subprocess.DEVNULL)

    run = through_script if request.param == "script" else through_migtool
    run.name = request.param
    return run


def take_backup(url, folder, cwd, fmt="custom", comp="zstd"):
    res = run_cli(["backup", "--target", "direct", "--backup-dir", str(folder), "--format", fmt,
                   "--compression", comp, "--reason", "before change", "--json"], cli_env(url), cwd)
    assert res.returncode == 0, res.stderr
    return folder / json.loads(res.stdout)["name"]


def change(url):
    """What a migration after the backup does: drop a column, add rows."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE users DROP COLUMN bio")
        conn.execute("INSERT INTO empty_table SELECT generate_series(1, 10)")


def databases(pg_server):
    with pg_server.admin() as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}


def test_help_and_usage(tmp_path, bare_path):
    res = restore(["--help"], None, bare_path, tmp_path)
    assert res.returncode == 0 and "Usage: postgres-restore.sh BACKUP" in res.stdout
    assert restore([], None, bare_path, tmp_path).returncode == 2
    assert restore(["--bogus", "x"], None, bare_path, tmp_path).returncode == 2
    (tmp_path / "x.tar").write_text("x")
    res = restore(["x.tar", "--yes"], None, bare_path, tmp_path)
    assert res.returncode == 2 and "cannot tell the format" in res.stderr
    res = restore(["missing.dump.zst", "--yes"], None, bare_path, tmp_path)
    assert res.returncode == 1 and "backup not found" in res.stderr


@pytest.mark.parametrize(("fmt", "comp"), FORMATS)
def test_clean_restore_swaps_in_the_backup_and_keeps_the_previous_database(pg_server, pg_dbname, pg_url, tmp_path,
                                                                          tool, fmt, comp):
    seed_varied(pg_url)
    before = content_hashes(pg_url)
    path = take_backup(pg_url, tmp_path / "b", tmp_path, fmt, comp)
    change(pg_url)
    changed = content_hashes(pg_url)
    assert changed != before
    dbs = databases(pg_server)

    res = tool([str(path), "-c", "--yes"], pg_url, tmp_path)
    assert res.returncode == 0, res.stderr
    assert content_hashes(pg_url) == before
    [kept] = databases(pg_server) - dbs
    assert kept.startswith(f"{pg_dbname}_before_restore_")
    assert content_hashes(pg_server.url(kept)) == changed
    assert f"kept as {kept}" in res.stderr + res.stdout
    assert pg_server.password not in res.stdout + res.stderr
    pg_server.drop_database(kept)


def test_plain_custom_dump_without_side_files_into_a_new_database(pg_server, pg_url, tmp_path, bare_path):
    """A `.dump` made by plain pg_dump -Fc (no manifest, no checksum): checked by reading it, restored
    into a database that does not exist yet."""
    seed_varied(pg_url)
    before = content_hashes(pg_url)
    dump = tmp_path / "by-hand.dump"
    subprocess.run([str(pg_server.bindir / "pg_dump"), "-Fc", "-f", str(dump), "-d", pg_url], check=True)
    res = restore([str(dump), "--target-db", "restored_by_hand", "--yes"], pg_url, bare_path, tmp_path)
    try:
        assert res.returncode == 0, res.stderr
        assert "no by-hand.dump.sha256" in res.stderr
        assert content_hashes(pg_server.url("restored_by_hand")) == before
    finally:
        pg_server.drop_database("restored_by_hand")


def bad_copy(path: Path, folder: Path, how: str, keep_sides: bool) -> Path:
    folder.mkdir()
    copy = folder / path.name
    data = bytearray(path.read_bytes())
    if how == "truncated":
        data = data[: len(data) * 2 // 3]
    elif how == "corrupt":
        middle = len(data) // 2
        data[middle:middle + 64] = bytes(b ^ 0x5A for b in data[middle:middle + 64])
    copy.write_bytes(bytes(data))
    if keep_sides:
        for side in (".sha256", ".json"):
            shutil.copy(str(path) + side, str(copy) + side)
    return copy


@pytest.mark.parametrize(("fmt", "comp"), FORMATS)
@pytest.mark.parametrize(("how", "keep_sides", "says"), [
    ("truncated", True, "manifest says"),
    ("corrupt", True, "checksum mismatch"),
    ("truncated", False, "cannot be read to its end|does not decompress"),
    ("corrupt", False, "cannot be read to its end|does not decompress"),
])
def test_a_bad_backup_is_refused_before_any_database_is_touched(pg_server, pg_url, tmp_path, tool, fmt, comp,
                                                                how, keep_sides, says):
    seed_varied(pg_url)
    path = take_backup(pg_url, tmp_path / "b", tmp_path, fmt, comp)
    change(pg_url)
    state = content_hashes(pg_url)
    dbs = databases(pg_server)
    bad = bad_copy(path, tmp_path / "bad", how, keep_sides)
    res = tool([str(bad), "-c", "--yes"], pg_url, tmp_path)
    assert res.returncode == 1, res.stderr
    if tool.name == "migtool" and not keep_sides:
        says = "missing manifest"  # migtool insists on the manifest; the script reads such files
    assert re.search(says, res.stderr), res.stderr
    assert "no database was touched" in res.stderr
    assert content_hashes(pg_url) == state
    assert databases(pg_server) == dbs


@pytest.mark.parametrize(("fmt", "clean"), [("custom", True), ("sql", True), ("custom", False), ("sql", False)])
def test_a_restore_that_fails_half_way_leaves_the_database_as_it_was(pg_server, pg_dbname, pg_url, tmp_path,
                                                                     tool, fmt, clean):
    """The backup names a role this server no longer has: pg_restore/psql stop part-way through."""
    role = f"gone_{pg_dbname}"
    with pg_server.admin() as conn:
        conn.execute(f'CREATE ROLE "{role}"')
    seed_varied(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE zz_last (id int); ALTER TABLE zz_last OWNER TO "{role}"')
    path = take_backup(pg_url, tmp_path / "b", tmp_path, fmt, "zstd")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'REASSIGN OWNED BY "{role}" TO CURRENT_USER; DROP OWNED BY "{role}"')
    with pg_server.admin() as conn:
        conn.execute(f'DROP ROLE "{role}"')
    if clean:
        change(pg_url)
        target, args = pg_dbname, ["-c"]
    else:
        target, args = "fresh_target", ["--target-db", "fresh_target"]
    state = content_hashes(pg_url)
    dbs = databases(pg_server)
    res = tool([str(path), *args, "--yes"], pg_url, tmp_path)
    assert res.returncode == 1, res.stderr
    assert role in res.stderr  # the tool's own error says which role
    assert (f"database {target} is unchanged" if clean else "nothing was created") in res.stderr
    assert content_hashes(pg_url) == state
    assert databases(pg_server) == dbs


def test_without_a_terminal_it_refuses_unless_yes(pg_server, pg_url, tmp_path, tool):
    seed_varied(pg_url)
    path = take_backup(pg_url, tmp_path / "b", tmp_path)
    change(pg_url)
    state = content_hashes(pg_url)
    dbs = databases(pg_server)
    res = tool([str(path), "-c"], pg_url, tmp_path)
    assert res.returncode == 1
    assert "no terminal to confirm on" in res.stderr and "nothing was changed" in res.stderr
    assert "--yes" in res.stderr
    assert content_hashes(pg_url) == state and databases(pg_server) == dbs


def test_the_swap_closes_the_sessions_of_a_running_app(pg_server, pg_dbname, pg_url, tmp_path, tool):
    """An idle connection of 'the app' on the target does not stop the swap; it is ended, and new
    connections reach the restored content."""
    seed_varied(pg_url)
    before = content_hashes(pg_url)
    path = take_backup(pg_url, tmp_path / "b", tmp_path)
    change(pg_url)
    app = psycopg.connect(pg_url, autocommit=True)
    try:
        app.execute("SELECT 1")
        dbs = databases(pg_server)
        res = tool([str(path), "-c", "--yes", "--jobs", "2"], pg_url, tmp_path)
        assert res.returncode == 0, res.stderr
        assert "pg_restore -j 2" in res.stderr
        with pytest.raises(psycopg.OperationalError):
            app.execute("SELECT 1")
    finally:
        app.close()
    assert content_hashes(pg_url) == before
    for kept in databases(pg_server) - dbs:
        pg_server.drop_database(kept)
