"""Client-side encryption at rest, end to end against the test cluster: `migtool backup` with age
recipients writes an age file (never a readable dump) whose checksum and manifest describe the
encrypted bytes; `backups verify`, `migtool restore` and scripts/restore/postgres-restore.sh (no
python on PATH) decrypt it with the identity file, and refuse without one or with a wrong one,
leaving the database exactly as it was."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from migtool.encryption.age_stream import MAGIC
from tests.support.backupdb import cli_env, content_hashes, run_cli, seed_varied
from tests.support.nopython import no_python_path

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RESTORE_SCRIPT = ROOT / "scripts" / "restore" / "postgres-restore.sh"
BACKUP_SCRIPT = ROOT / "scripts" / "backup" / "postgres-backup.sh"

if shutil.which("age") is None:  # scripts/dev/host-tools installs it
    pytest.fail("the age CLI is missing: run scripts/dev/host-tools", pytrace=False)


def keypair(folder: Path, name: str) -> tuple[Path, str]:
    key = folder / f"{name}.txt"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    public = next(ln.split(": ", 1)[1] for ln in key.read_text().splitlines() if ln.startswith("# public key"))
    return key, public


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    mine, mine_public = keypair(folder, "mine")
    spare, spare_public = keypair(folder, "spare")
    wrong, _ = keypair(folder, "wrong")
    return {"mine": mine, "spare": spare, "wrong": wrong, "recipients": [mine_public, spare_public]}


@pytest.fixture(scope="module")
def bare_path(tmp_path_factory, pg_server):
    path = no_python_path(tmp_path_factory.mktemp("nopython") / "bin", [str(pg_server.bindir)])
    probe = subprocess.run(["bash", "-c", "command -v python3 || command -v python || echo none; command -v age"],
                           env={"PATH": path}, capture_output=True, text=True)
    assert probe.stdout.split()[0] == "none" and probe.stdout.split()[1].endswith("/age")
    return path


def take_encrypted_backup(url, folder: Path, cwd: Path, keys, fmt="custom", comp="zstd") -> Path:
    """Recipients from migtool.yaml's `encryption` section (as a user configures it)."""
    (cwd / "migtool.yaml").write_text("target: direct\nencryption:\n  recipients:\n"
                                      + "".join(f"    - {r}\n" for r in keys["recipients"]))
    res = run_cli(["backup", "--backup-dir", str(folder), "--format", fmt, "--compression", comp,
                   "--reason", "before change", "--json"], cli_env(url), cwd)
    assert res.returncode == 0, res.stderr
    return folder / json.loads(res.stdout)["name"]


def change(url):
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE users DROP COLUMN bio")
        conn.execute("INSERT INTO empty_table SELECT generate_series(1, 10)")


def databases(pg_server):
    with pg_server.admin() as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}


def migtool_restore(path: Path, url, cwd, *args, **env):
    return subprocess.run([sys.executable, "-m", "migtool", "restore", str(path), "--target", "direct",
                           "--backup-dir", str(path.parent), *args], env=cli_env(url, **env), cwd=cwd,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


def script_restore(path: Path, url, cwd, bare_path, *args, **env):
    full = {"PATH": bare_path, "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8", "DATABASE_URL": url, **env}
    return subprocess.run(["bash", str(RESTORE_SCRIPT), str(path), *args], env=full, cwd=cwd, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(("fmt", "comp"), [("custom", "zstd"), ("sql", "gzip")])
def test_the_backup_on_disk_is_an_age_file_described_by_its_checksum_and_manifest(pg_url, tmp_path, keys,
                                                                                  fmt, comp):
    seed_varied(pg_url)
    path = take_encrypted_backup(pg_url, tmp_path / "b", tmp_path, keys, fmt, comp)
    assert path.name.endswith((".dump.zst.age", ".sql.gz.age"))
    data = path.read_bytes()
    assert data.startswith(MAGIC)  # not zstd (28 b5 2f fd), gzip (1f 8b) or a pg archive (PGDMP)
    assert not data.startswith((b"\x28\xb5\x2f\xfd", b"\x1f\x8b", b"PGDMP")) and b"PGDMP" not in data
    assert b"ada@example" not in data and b"CREATE TABLE" not in data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert subprocess.run(["sha256sum", "-c", path.name + ".sha256"], cwd=path.parent,
                          capture_output=True).returncode == 0  # the checksum covers the encrypted bytes
    manifest = json.loads((path.parent / (path.name + ".json")).read_text())
    assert manifest["size"] == len(data) and manifest["name"] == path.name
    assert manifest["encryption"] == {"tool": "age", "recipients": keys["recipients"]}
    assert manifest["uncompressed_size"] > 0  # the dump's size, as before
    # Any recipient's key opens it, with nothing but the age CLI.
    plain = subprocess.run(["age", "-d", "-i", str(keys["spare"]), str(path)], capture_output=True, check=True).stdout
    assert plain.startswith(b"\x28\xb5\x2f\xfd" if comp == "zstd" else b"\x1f\x8b")  # the compressed dump


def test_backups_list_and_verify_handle_the_encrypted_backup(pg_server, pg_url, tmp_path, keys):
    seed_varied(pg_url)
    path = take_encrypted_backup(pg_url, tmp_path / "b", tmp_path, keys)
    folder = ["--backup-dir", str(path.parent)]
    verified = path.parent / (path.name + ".verified.json")

    listed = run_cli(["backups", "list", "--json", *folder], cli_env(pg_url), tmp_path)
    assert listed.returncode == 0 and path.name in listed.stdout, listed.stderr

    res = run_cli(["backups", "verify", path.name, *folder], cli_env(pg_url), tmp_path)  # no identity
    assert res.returncode == 2 and "MIGTOOL_AGE_IDENTITY" in res.stderr and "--identity" in res.stderr, res.stderr
    res = run_cli(["backups", "verify", path.name, "--identity", str(keys["wrong"]), *folder], cli_env(pg_url),
                  tmp_path)
    assert res.returncode == 1 and "does not match" in res.stderr, res.stderr
    assert not verified.exists()  # a wrong key says nothing about the file: no verdict recorded

    res = run_cli(["backups", "verify", path.name, "--json", "--restore-test", *folder],
                  cli_env(pg_url, MIGTOOL_AGE_IDENTITY=str(keys["mine"])), tmp_path)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    checks = {c["name"]: c["ok"] for c in report["checks"]}
    assert checks["decrypts"] and checks["decompresses"] and checks["complete dump"] and checks["restore test"]
    assert report["restore_test"]["tables"] > 0 and json.loads(verified.read_text())["verdict"] == "passed"
    assert str(keys["mine"].read_text().split("AGE-SECRET-KEY-")[1][:20]) not in res.stdout + res.stderr

    res = run_cli(["backups", "verify", path.name, "--no-identity", "--json", *folder], cli_env(pg_url), tmp_path)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert "decrypts" not in {c["name"] for c in report["checks"]}
    assert any("without its identity" in w for w in report["warnings"])


def test_a_damaged_encrypted_backup_fails_verify_even_with_matching_side_files(pg_url, tmp_path, keys):
    """Someone rewrote the checksum and the manifest's size: age's authentication still catches it."""
    seed_varied(pg_url)
    path = take_encrypted_backup(pg_url, tmp_path / "b", tmp_path, keys)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    digest = subprocess.run(["sha256sum", path.name], cwd=path.parent, capture_output=True, text=True).stdout
    (path.parent / (path.name + ".sha256")).write_text(digest)
    manifest_path = path.parent / (path.name + ".json")
    manifest = json.loads(manifest_path.read_text())
    manifest["sha256"] = digest.split()[0]
    manifest_path.write_text(json.dumps(manifest))
    res = run_cli(["backups", "verify", path.name, "--json", "--backup-dir", str(path.parent)],
                  cli_env(pg_url, MIGTOOL_AGE_IDENTITY=str(keys["mine"])), tmp_path)
    assert res.returncode == 1, res.stderr
    checks = {c["name"]: c for c in json.loads(res.stdout)["checks"]}
    assert checks["sha256"]["ok"] and not checks["decrypts"]["ok"]


@pytest.mark.parametrize("through", ["migtool", "script"])
def test_an_encrypted_backup_restores_with_the_identity_and_is_refused_without_it(pg_server, pg_dbname, pg_url,
                                                                                  tmp_path, keys, bare_path,
                                                                                  through):
    seed_varied(pg_url)
    before = content_hashes(pg_url)
    path = take_encrypted_backup(pg_url, tmp_path / "b", tmp_path, keys)
    change(pg_url)
    changed = content_hashes(pg_url)
    dbs = databases(pg_server)

    def run(*args, **env):
        if through == "migtool":
            return migtool_restore(path, pg_url, tmp_path, *args, **env)
        return script_restore(path, pg_url, tmp_path, bare_path, *args, **env)

    res = run("-c", "--yes")
    assert res.returncode == 2, res.stderr
    assert "MIGTOOL_AGE_IDENTITY" in res.stderr and "--identity" in res.stderr
    res = run("-c", "--yes", "--identity", str(tmp_path / "no-such-key.txt"))
    assert res.returncode == 2 and "not found" in res.stderr, res.stderr
    res = run("-c", "--yes", MIGTOOL_AGE_IDENTITY=str(keys["wrong"]))
    assert res.returncode == 1 and "does not match" in res.stderr, res.stderr
    assert content_hashes(pg_url) == changed and databases(pg_server) == dbs  # nothing touched, nothing left

    res = run("-c", "--yes", "--identity", str(keys["mine"]))
    assert res.returncode == 0, res.stderr
    assert content_hashes(pg_url) == before
    [kept] = databases(pg_server) - dbs
    assert content_hashes(pg_server.url(kept)) == changed
    pg_server.drop_database(kept)
    assert not list(path.parent.glob(".*partial")) and not list(tmp_path.glob("*.partial"))


def test_an_encrypted_plain_sql_backup_restores_into_a_new_database_through_the_script(pg_server, pg_url, tmp_path,
                                                                                      keys, bare_path):
    seed_varied(pg_url)
    before = content_hashes(pg_url)
    path = take_encrypted_backup(pg_url, tmp_path / "b", tmp_path, keys, "sql", "zstd")
    res = script_restore(path, pg_url, tmp_path, bare_path, "--target-db", "restored_from_age", "--yes",
                         MIGTOOL_AGE_IDENTITY=str(keys["spare"]))
    try:
        assert res.returncode == 0, res.stderr
        assert content_hashes(pg_server.url("restored_from_age")) == before
    finally:
        pg_server.drop_database("restored_from_age")


def test_the_backup_script_encrypts_for_its_recipients_and_migtool_reads_the_result(pg_server, pg_url, tmp_path,
                                                                                  keys, bare_path):
    seed_varied(pg_url)
    before = content_hashes(pg_url)
    env = {"PATH": bare_path, "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8", "DATABASE_URL": pg_url,
           "MIGTOOL_AGE_RECIPIENTS": ",".join(keys["recipients"])}
    bad = subprocess.run(["bash", str(BACKUP_SCRIPT), "--dir", str(tmp_path / "b"), "--recipient", "age1nope"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "not an age recipient: 'age1nope'" in bad.stderr, bad.stderr
    res = subprocess.run(["bash", str(BACKUP_SCRIPT), "--dir", str(tmp_path / "b"), "--reason", "script"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    [path] = (tmp_path / "b").glob("*.dump.zst.age")
    assert path.read_bytes().startswith(MAGIC)
    manifest = json.loads((path.parent / (path.name + ".json")).read_text())
    assert manifest["encryption"]["recipients"] == keys["recipients"]

    res = run_cli(["backups", "verify", path.name, "--json", "--target", "direct", "--backup-dir", str(path.parent)],
                  cli_env(pg_url, MIGTOOL_AGE_IDENTITY=str(keys["mine"])), tmp_path)
    assert res.returncode == 0 and json.loads(res.stdout)["verdict"] == "passed", res.stdout + res.stderr
    res = script_restore(path, pg_url, tmp_path, bare_path, "--target-db", "restored_script_age", "--yes",
                         "--identity", str(keys["mine"]))
    try:
        assert res.returncode == 0, res.stderr
        assert content_hashes(pg_server.url("restored_script_age")) == before
    finally:
        pg_server.drop_database("restored_script_age")


def test_the_s3_copy_is_the_encrypted_file_and_restores_from_s3_with_the_identity(pg_server, pg_dbname, pg_url,
                                                                                  tmp_path, keys):
    import uuid

    from tests.support.s3server import MotoServer, aws_env

    moto = MotoServer()
    try:
        bucket = f"migtool-{uuid.uuid4().hex[:12]}"
        moto.client().create_bucket(Bucket=bucket)
        env = cli_env(pg_url, MIGTOOL_S3_BUCKET=bucket, MIGTOOL_S3_ENDPOINT_URL=moto.url, MIGTOOL_S3_REGION="us-east-1",
                      MIGTOOL_AGE_RECIPIENTS=keys["recipients"][0])
        env.update(aws_env())
        seed_varied(pg_url)
        before = content_hashes(pg_url)
        res = run_cli(["backup", "--target", "direct", "--backup-dir", str(tmp_path / "a"), "--json"], env, tmp_path)
        assert res.returncode == 0, res.stderr
        name = json.loads(res.stdout)["name"]
        assert name.endswith(".age")
        remote = moto.client().get_object(Bucket=bucket, Key=name)["Body"].read()
        assert remote == (tmp_path / "a" / name).read_bytes() and remote.startswith(MAGIC)

        pg_server.drop_database(pg_dbname)
        pg_server.create_database(pg_dbname)
        args = ["restore", name, "--from-s3", "--clean", "--yes", "--target", "direct",
                "--backup-dir", str(tmp_path / "b")]
        res = run_cli(args, env, tmp_path)
        assert res.returncode == 2 and "MIGTOOL_AGE_IDENTITY" in res.stderr, res.stderr
        res = run_cli([*args, "--identity", str(keys["mine"])], env, tmp_path)
        assert res.returncode == 0, res.stderr
        assert content_hashes(pg_url) == before
    finally:
        moto.stop()
    for db in databases(pg_server):
        if db.startswith(f"{pg_dbname}_before_restore_"):
            pg_server.drop_database(db)


def test_a_failing_age_leaves_no_backup_behind(pg_url, tmp_path, keys):
    """age dies part-way (a stand-in that reads a little, then fails): no file, no side file, exit 3."""
    seed_varied(pg_url)
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "age").write_text("#!/bin/sh\nhead -c 1000 >/dev/null\necho 'age: error: simulated failure' >&2\nexit 1\n")
    (fake / "age").chmod(0o755)
    env = cli_env(pg_url, MIGTOOL_AGE_RECIPIENTS=keys["recipients"][0])
    env["PATH"] = f"{fake}{os.pathsep}{env['PATH']}"
    folder = tmp_path / "b"
    res = run_cli(["backup", "--target", "direct", "--backup-dir", str(folder)], env, tmp_path)
    assert res.returncode == 3 and "age" in res.stderr, res.stderr
    assert list(folder.iterdir()) == []


def test_rollback_to_an_encrypted_backup_needs_the_identity(pg_server, pg_dbname, pg_url, tmp_path, keys):
    import psycopg

    from tests.support.rollback_project import DROP_BIO, drop_bio_project

    drop_bio_project(tmp_path, pg_url, "CREATE TABLE notes (id int PRIMARY KEY, body text);\n")
    env = cli_env(pg_url, MIGTOOL_AGE_RECIPIENTS=",".join(keys["recipients"]))
    res = run_cli(["backup", "--reason", "before drop bio", "--json"], env, tmp_path)
    assert res.returncode == 0, res.stderr
    name = json.loads(res.stdout)["name"]
    assert name.endswith(".age")
    before = content_hashes(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(DROP_BIO)
    after = content_hashes(pg_url)
    dbs = databases(pg_server)

    res = run_cli(["rollback", "--to", name, "--yes"], env, tmp_path)
    assert res.returncode == 2 and "MIGTOOL_AGE_IDENTITY" in res.stderr, res.stderr
    res = run_cli(["rollback", "--to", name, "--yes", "--identity", str(keys["wrong"])], env, tmp_path)
    assert res.returncode == 1 and "does not match" in res.stderr, res.stderr
    assert content_hashes(pg_url) == after and databases(pg_server) == dbs

    res = run_cli(["rollback", "--to", name, "--yes", "--json"],
                  {**env, "MIGTOOL_AGE_IDENTITY": str(keys["spare"])}, tmp_path)
    assert res.returncode == 0, res.stderr
    assert content_hashes(pg_url) == before
    for db in databases(pg_server) - dbs:
        pg_server.drop_database(db)
