"""`migtool backups verify`: a whole backup passes; a truncated, corrupted, wrongly checksummed or
manifest-less one fails with exit 1 and says which; --restore-test restores into a scratch database
that is always dropped."""

import json
import signal
import time

import psycopg
import pytest

from migtool.backup import naming
from tests.support.backupdb import cli_env, run_cli, seed_bulk, seed_varied, start_cli

pytestmark = pytest.mark.integration


def take_backup(url, folder, cwd, fmt="custom", comp="zstd", reason="verify me"):
    res = run_cli(["backup", "--target", "direct", "--backup-dir", str(folder), "--format", fmt,
                   "--compression", comp, "--reason", reason, "--json"], cli_env(url), cwd)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def verify(url, folder, cwd, name, *extra):
    return run_cli(["backups", "verify", name, "--target", "direct", "--backup-dir", str(folder), *extra],
                   cli_env(url), cwd)


def scratch_databases(pg_server):
    with pg_server.admin() as conn:
        return [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'migtool_verify_%'")]


@pytest.fixture
def seeded(pg_url):
    seed_varied(pg_url)
    return pg_url


@pytest.mark.parametrize(("fmt", "comp"), [("custom", "zstd"), ("custom", "gzip"), ("sql", "zstd"), ("sql", "gzip")])
def test_whole_backup_passes_and_is_recorded(seeded, tmp_path, fmt, comp):
    m = take_backup(seeded, tmp_path / "b", tmp_path, fmt, comp)
    res = verify(seeded, tmp_path / "b", tmp_path, m["name"])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "backup is whole" in res.stdout
    for check in ("manifest", "checksum file", "size", "decompresses", "complete dump", "sha256"):
        assert f"✔ {check}" in res.stdout
    record = json.loads((tmp_path / "b" / naming.verified_name(m["name"])).read_text())
    assert record["ok"] is True and record["sha256"] == m["sha256"] and record["problems"] == []
    listing = json.loads(run_cli(["backups", "list", "--json", "--backup-dir", "b"], cli_env(None), tmp_path).stdout)
    assert listing[0]["verified"] is True


def test_latest_is_the_newest(seeded, tmp_path):
    take_backup(seeded, tmp_path / "b", tmp_path, reason="older")
    time.sleep(1.1)
    newest = take_backup(seeded, tmp_path / "b", tmp_path, reason="newer")
    res = verify(seeded, tmp_path / "b", tmp_path, "latest", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["name"] == newest["name"]


@pytest.mark.parametrize("fmt", ["custom", "sql"])
def test_truncated_backup_fails(seeded, tmp_path, fmt):
    m = take_backup(seeded, tmp_path / "b", tmp_path, fmt)
    path = tmp_path / "b" / m["name"]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    res = verify(seeded, tmp_path / "b", tmp_path, m["name"])
    assert res.returncode == 1
    assert "truncated" in res.stderr
    assert "✘ decompresses" in res.stdout and "✘ sha256" in res.stdout
    record = json.loads((tmp_path / "b" / naming.verified_name(m["name"])).read_text())
    assert record["ok"] is False
    listing = json.loads(run_cli(["backups", "list", "--json", "--backup-dir", "b"], cli_env(None), tmp_path).stdout)
    assert listing[0]["verified"] is False


@pytest.mark.parametrize("comp", ["zstd", "gzip"])
def test_corrupted_byte_fails(seeded, tmp_path, comp):
    m = take_backup(seeded, tmp_path / "b", tmp_path, "custom", comp)
    path = tmp_path / "b" / m["name"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    res = verify(seeded, tmp_path / "b", tmp_path, m["name"], "--json")
    assert res.returncode == 1
    report = json.loads(res.stdout)
    assert report["ok"] is False
    assert any("checksum mismatch" in p for p in report["problems"])
    assert any(p.startswith("decompresses:") and "corrupt" in p for p in report["problems"])


def test_wrong_checksum_file_fails(seeded, tmp_path):
    m = take_backup(seeded, tmp_path / "b", tmp_path)
    side = tmp_path / "b" / naming.checksum_name(m["name"])
    side.write_text("0" * 64 + "  " + m["name"] + "\n")
    res = verify(seeded, tmp_path / "b", tmp_path, m["name"])
    assert res.returncode == 1
    assert "the .sha256 file and the manifest disagree" in res.stderr


def test_manifest_with_wrong_sha_fails(seeded, tmp_path):
    """The bytes are fine but do not match what was recorded: we cannot tell which is right, so bad."""
    m = take_backup(seeded, tmp_path / "b", tmp_path)
    for side in (naming.manifest_name(m["name"]), naming.checksum_name(m["name"])):
        p = tmp_path / "b" / side
        p.write_text(p.read_text().replace(m["sha256"], "f" * 64))
    res = verify(seeded, tmp_path / "b", tmp_path, m["name"])
    assert res.returncode == 1
    assert "checksum mismatch" in res.stderr


def test_missing_manifest_fails(seeded, tmp_path):
    m = take_backup(seeded, tmp_path / "b", tmp_path)
    (tmp_path / "b" / naming.manifest_name(m["name"])).unlink()
    res = verify(seeded, tmp_path / "b", tmp_path, m["name"])
    assert res.returncode == 1
    assert "missing manifest" in res.stderr


def test_missing_file_and_foreign_name(seeded, tmp_path):
    (tmp_path / "b").mkdir()
    res = verify(seeded, tmp_path / "b", tmp_path, "db-20240101T000000Z-x.dump.zst")
    assert res.returncode == 1 and "backup not found" in res.stderr
    (tmp_path / "b" / "notes.txt").write_text("hello")
    res = verify(seeded, tmp_path / "b", tmp_path, "notes.txt")
    assert res.returncode == 2 and "not a migtool backup name" in res.stderr


@pytest.mark.parametrize(("fmt", "comp"), [("custom", "zstd"), ("sql", "gzip")])
def test_restore_test_compares_row_counts_and_drops_scratch(pg_server, seeded, tmp_path, fmt, comp):
    m = take_backup(seeded, tmp_path / "b", tmp_path, fmt, comp)
    res = verify(seeded, tmp_path / "b", tmp_path, m["name"], "--restore-test", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads(res.stdout)
    rt = report["restore_test"]
    assert rt["problems"] == [] and rt["seconds"] > 0
    assert rt["row_counts"] == "exact" and rt["row_counts_compared"] == len(m["tables"]) == 6
    assert rt["database"].startswith("migtool_verify_")
    assert scratch_databases(pg_server) == []
    human = verify(seeded, tmp_path / "b", tmp_path, m["name"], "--restore-test")
    assert "✔ restore test (restored in" in human.stdout and "6 exact row counts match" in human.stdout


def test_restore_test_catches_rows_missing_from_the_dump(pg_server, seeded, tmp_path):
    """A manifest that promises more rows than the dump holds: the restore test says which table."""
    m = take_backup(seeded, tmp_path / "b", tmp_path)
    mpath = tmp_path / "b" / naming.manifest_name(m["name"])
    manifest = json.loads(mpath.read_text())
    for t in manifest["tables"]:
        if t["name"] == "Orders":
            t["rows"] += 1
    mpath.write_text(json.dumps(manifest))
    res = verify(seeded, tmp_path / "b", tmp_path, m["name"], "--restore-test")
    assert res.returncode == 1
    assert "public.Orders: 8000 rows restored, 8001 dumped" in res.stderr
    assert scratch_databases(pg_server) == []


def test_restore_test_failure_still_drops_scratch(pg_server, seeded, tmp_path):
    """A plain-SQL dump that errors half-way through psql: reported, and the scratch database is gone."""
    # The dump grants to a role that no longer exists when the restore test runs.
    with psycopg.connect(seeded, autocommit=True) as conn:
        conn.execute("CREATE ROLE verify_tmp_role")
        conn.execute("GRANT SELECT ON users TO verify_tmp_role")
    m = take_backup(seeded, tmp_path / "c", tmp_path, "sql", "zstd")
    with psycopg.connect(seeded, autocommit=True) as conn:
        conn.execute("DROP OWNED BY verify_tmp_role")
        conn.execute("DROP ROLE verify_tmp_role")
    res = verify(seeded, tmp_path / "c", tmp_path, m["name"], "--restore-test", "--json")
    assert res.returncode == 1
    report = json.loads(res.stdout)
    assert "verify_tmp_role" in report["restore_test"]["error"]
    assert scratch_databases(pg_server) == []


def test_ctrl_c_during_restore_test_drops_scratch(pg_server, pg_url, tmp_path):
    seed_bulk(pg_url, 800_000)
    m = take_backup(pg_url, tmp_path / "b", tmp_path, "sql", "zstd")
    proc = start_cli(["backups", "verify", m["name"], "--restore-test", "--target", "direct",
                      "--backup-dir", str(tmp_path / "b")], cli_env(pg_url), tmp_path)
    deadline = time.monotonic() + 60
    while not scratch_databases(pg_server):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the restore test did not start"
        time.sleep(0.01)
    time.sleep(0.3)  # into the restore itself
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert scratch_databases(pg_server) == []
