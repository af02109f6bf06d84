"""Backups to and from a real S3 HTTP endpoint (moto's server): multipart upload with SSE and a
sha256 in the metadata, remote listing, checked download, and the failures: an upload cut or
killed half-way, a corrupted or incomplete remote copy, missing credentials."""

import hashlib
import json
import shutil
import signal
import stat
import subprocess
import time
import uuid

import pytest

from migtool.backup import naming
from tests.support.backupdb import cli_env, run_cli, seed_bulk, start_cli, visible_files
from tests.support.s3server import TEST_KEY_ID, TEST_SECRET, MotoServer, TcpProxy, aws_env

pytestmark = pytest.mark.integration

PART_MB = 5  # S3's smallest part: the test backup (> 10 MB) goes up in several parts


@pytest.fixture(scope="module")
def moto():
    server = MotoServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def made_backup(pg_server, tmp_path_factory):
    """One real backup of a database with hard-to-compress data (> 2 parts), shared by the tests."""
    name = pg_server.create_database()
    url = pg_server.url(name)
    seed_bulk(url, 250_000)
    folder = tmp_path_factory.mktemp("s3-source")
    res = run_cli(["backup", "--target", "direct", "--backup-dir", str(folder), "--reason", "offsite", "--json",
                   "--no-upload"], cli_env(url), folder)
    assert res.returncode == 0, res.stderr
    manifest = json.loads(res.stdout)
    assert manifest["size"] > 2 * PART_MB * 1024 * 1024, "the test backup must need several parts"
    yield {"url": url, "folder": folder, "manifest": manifest}
    pg_server.drop_database(name)


@pytest.fixture
def bucket(moto):
    name = f"migtool-{uuid.uuid4().hex[:12]}"
    moto.client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def local(made_backup, tmp_path):
    """A fresh backup folder holding a copy of the shared backup."""
    folder = tmp_path / "backups"
    folder.mkdir(mode=0o700)
    name = made_backup["manifest"]["name"]
    for f in (name, naming.manifest_name(name), naming.checksum_name(name)):
        shutil.copy2(made_backup["folder"] / f, folder / f)
    return folder


def s3_env(moto_url, bucket, url=None, **extra):
    env = cli_env(url, MIGTOOL_S3_BUCKET=bucket, MIGTOOL_S3_ENDPOINT_URL=moto_url,
                  MIGTOOL_S3_PART_SIZE_MB=str(PART_MB), MIGTOOL_S3_REGION="us-east-1")
    env.update(aws_env())
    env.update(extra)
    return env


def keys(moto, bucket):
    return sorted(o["Key"] for o in moto.client().list_objects_v2(Bucket=bucket).get("Contents", []))


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_backup_upload_then_download_round_trip(moto, bucket, made_backup, tmp_path):
    env = s3_env(moto.url, bucket, made_backup["url"], MIGTOOL_S3_SSE="AES256", MIGTOOL_S3_PREFIX="prod/shop")
    res = run_cli(["backup", "--target", "direct", "--backup-dir", "b", "--reason", "offsite", "--json"], env, tmp_path)
    assert res.returncode == 0, res.stderr  # s3 is configured: the upload is the default
    m = json.loads(res.stdout)
    name = m["name"]
    assert m["upload"]["key"] == f"prod/shop/{name}" and m["upload"]["server_side_encryption"] == "AES256"
    assert keys(moto, bucket) == [f"prod/shop/{name}", f"prod/shop/{name}.json", f"prod/shop/{name}.sha256"]
    head = moto.client().head_object(Bucket=bucket, Key=f"prod/shop/{name}")
    assert head["ContentLength"] == m["size"]
    assert head["Metadata"]["sha256"] == m["sha256"]
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ETag"].strip('"').endswith(f"-{-(-m['size'] // (PART_MB * 1024 * 1024))}")  # multipart
    for side in (f"prod/shop/{name}.json", f"prod/shop/{name}.sha256"):
        assert moto.client().head_object(Bucket=bucket, Key=side)["ServerSideEncryption"] == "AES256"

    listing = json.loads(run_cli(["backups", "list", "--remote", "--json", "--backup-dir", "b"], env, tmp_path).stdout)
    assert listing == [{"name": name, "size": m["size"], "last_modified": listing[0]["last_modified"],
                        "complete": True, "local": True}]

    original = digest(tmp_path / "b" / name)
    shutil.rmtree(tmp_path / "b")
    res = run_cli(["backups", "download", name, "--backup-dir", "b"], env, tmp_path)
    assert res.returncode == 0, res.stderr
    assert f"downloaded and checked: {tmp_path / 'b' / name}" in res.stdout
    assert digest(tmp_path / "b" / name) == original
    assert visible_files(tmp_path / "b") == [name, name + ".json", name + ".sha256"]
    for f in visible_files(tmp_path / "b"):
        assert stat.S_IMODE((tmp_path / "b" / f).stat().st_mode) == 0o600
    assert subprocess.run(["sha256sum", "-c", name + ".sha256"], cwd=tmp_path / "b").returncode == 0
    verify = run_cli(["backups", "verify", name, "--target", "direct", "--backup-dir", "b", "--restore-test"],
                     env, tmp_path)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert TEST_SECRET not in res.stdout + res.stderr + verify.stdout + verify.stderr


def test_upload_command(moto, bucket, made_backup, local, tmp_path):
    name = made_backup["manifest"]["name"]
    env = s3_env(moto.url, bucket)
    res = run_cli(["backups", "upload", name, "--backup-dir", str(local), "--json"], env, tmp_path)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["key"] == name and out["sha256"] == made_backup["manifest"]["sha256"]
    assert keys(moto, bucket) == [name, name + ".json", name + ".sha256"]
    human = run_cli(["backups", "list", "--remote", "--backup-dir", str(local)], env, tmp_path)
    assert name in human.stdout and "yes" in human.stdout


def test_corrupted_remote_copy_is_refused_on_download(moto, bucket, made_backup, local, tmp_path):
    name = made_backup["manifest"]["name"]
    env = s3_env(moto.url, bucket)
    assert run_cli(["backups", "upload", name, "--backup-dir", str(local)], env, tmp_path).returncode == 0
    data = bytearray((local / name).read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte flipped: only the checksum can tell
    moto.client().put_object(Bucket=bucket, Key=name, Body=bytes(data))
    target = tmp_path / "restore-here"
    res = run_cli(["backups", "download", name, "--backup-dir", str(target)], env, tmp_path)
    assert res.returncode == 1, res.stderr
    assert "checksum mismatch" in res.stderr
    assert visible_files(target) == []  # no dump, no side files, no partial


def test_incomplete_remote_backup_is_refused(moto, bucket, made_backup, local, tmp_path):
    name = made_backup["manifest"]["name"]
    env = s3_env(moto.url, bucket)
    assert run_cli(["backups", "upload", name, "--backup-dir", str(local)], env, tmp_path).returncode == 0
    moto.client().delete_object(Bucket=bucket, Key=name + ".json")
    listing = json.loads(run_cli(["backups", "list", "--remote", "--json"], env, tmp_path).stdout)
    assert listing[0]["complete"] is False
    res = run_cli(["backups", "download", name, "--backup-dir", str(tmp_path / "t")], env, tmp_path)
    assert res.returncode == 1 and "incomplete" in res.stderr
    assert visible_files(tmp_path / "t") == []


def test_download_never_overwrites(moto, bucket, made_backup, local, tmp_path):
    name = made_backup["manifest"]["name"]
    env = s3_env(moto.url, bucket)
    assert run_cli(["backups", "upload", name, "--backup-dir", str(local)], env, tmp_path).returncode == 0
    before = digest(local / name)
    res = run_cli(["backups", "download", name, "--backup-dir", str(local)], env, tmp_path)
    assert res.returncode == 1 and "not overwritten" in res.stderr
    assert digest(local / name) == before


def test_upload_cut_half_way_leaves_no_remote_object_and_exits_3(moto, bucket, made_backup, local, tmp_path):
    name = made_backup["manifest"]["name"]
    before = {f: (digest(local / f), (local / f).stat().st_mtime_ns) for f in visible_files(local)}
    proxy = TcpProxy(moto.port, limit=int(PART_MB * 1.5 * 1024 * 1024), mode="cut")
    try:
        res = run_cli(["backups", "upload", name, "--backup-dir", str(local)],
                      s3_env(proxy.url, bucket), tmp_path, timeout=180)
    finally:
        proxy.close()
    assert proxy.tripped.is_set()
    assert res.returncode == 3, res.stdout + res.stderr
    assert f"upload of {name}" in res.stderr and "failed" in res.stderr
    assert keys(moto, bucket) == []  # nothing under the final key, no side files either
    assert {f: (digest(local / f), (local / f).stat().st_mtime_ns) for f in visible_files(local)} == before
    assert TEST_SECRET not in res.stdout + res.stderr and TEST_KEY_ID not in res.stdout + res.stderr
    # Once the endpoint is back, the same command uploads it and clears the abandoned parts.
    res = run_cli(["backups", "upload", name, "--backup-dir", str(local)], s3_env(moto.url, bucket), tmp_path)
    assert res.returncode == 0, res.stderr
    assert keys(moto, bucket) == [name, name + ".json", name + ".sha256"]
    assert moto.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_upload_killed_half_way_leaves_no_remote_object(moto, bucket, made_backup, local, tmp_path):
    name = made_backup["manifest"]["name"]
    proxy = TcpProxy(moto.port, limit=int(PART_MB * 1.5 * 1024 * 1024), mode="stall")
    try:
        proc = start_cli(["backups", "upload", name, "--backup-dir", str(local)], s3_env(proxy.url, bucket), tmp_path)
        assert proxy.tripped.wait(timeout=120), proc.communicate()
        time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        proxy.close()
    assert keys(moto, bucket) == []
    uploads = moto.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert all(u["Key"] == name for u in uploads)  # an unfinished multipart upload is invisible as an object
    assert digest(local / name) == made_backup["manifest"]["sha256"]


def test_backup_upload_failure_keeps_local_backup(made_backup, tmp_path):
    from tests.support.pgserver import free_port

    env = s3_env(f"http://127.0.0.1:{free_port()}", "nowhere", made_backup["url"])
    res = run_cli(["backup", "--target", "direct", "--backup-dir", "b", "--upload"], env, tmp_path, timeout=180)
    assert res.returncode == 3, res.stderr
    assert "the backup is safe locally at" in res.stderr
    assert "next: migtool backups upload" in res.stderr
    names = [n for n in visible_files(tmp_path / "b") if naming.parse_name(n)]
    assert len(names) == 1
    assert run_cli(["backups", "verify", names[0], "--backup-dir", "b", "--target", "direct"], env,
                   tmp_path).returncode == 0


def test_missing_credentials_exit_3_with_hint(moto, bucket, made_backup, local, tmp_path):
    env = s3_env(moto.url, bucket)
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    res = run_cli(["backups", "upload", made_backup["manifest"]["name"], "--backup-dir", str(local)], env, tmp_path)
    assert res.returncode == 3
    assert "no AWS credentials" in res.stderr and "AWS_ACCESS_KEY_ID" in res.stderr


def test_missing_bucket_exit_3_without_leaking_secrets(moto, made_backup, local, tmp_path):
    env = s3_env(moto.url, "no-such-bucket-here")
    res = run_cli(["-v", "backups", "upload", made_backup["manifest"]["name"], "--backup-dir", str(local)], env,
                  tmp_path)
    assert res.returncode == 3
    assert "NoSuchBucket" in res.stderr and "create the bucket" in res.stderr
    assert TEST_SECRET not in res.stdout + res.stderr


def test_s3_commands_need_configuration(made_backup, local, tmp_path):
    res = run_cli(["backups", "upload", made_backup["manifest"]["name"], "--backup-dir", str(local)],
                  cli_env(None), tmp_path)
    assert res.returncode == 2 and "S3 is not configured" in res.stderr
    res = run_cli(["backup", "--upload", "--target", "direct"], cli_env(made_backup["url"]), tmp_path)
    assert res.returncode == 2 and "--upload needs an s3 section" in res.stderr


def test_upload_refuses_a_backup_that_does_not_match_its_manifest(moto, bucket, made_backup, local, tmp_path):
    name = made_backup["manifest"]["name"]
    with open(local / name, "r+b") as f:
        f.seek(100)
        f.write(b"\0")
    res = run_cli(["backups", "upload", name, "--backup-dir", str(local)], s3_env(moto.url, bucket), tmp_path)
    assert res.returncode == 1 and "does not match its manifest" in res.stderr
    assert keys(moto, bucket) == []
