"""When only S3 has the backup: `migtool restore NAME --from-s3` downloads it (checked against its
sha256 before it lands), verifies and restores it; a damaged remote copy is refused and nothing changes.
S3 is moto's real HTTP server (tests/support/s3server.py)."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.support.backupdb import cli_env, content_hashes, run_cli, seed_varied
from tests.support.s3server import MotoServer, aws_env

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def moto():
    server = MotoServer()
    yield server
    server.stop()


def env_for(url, moto, bucket):
    env = cli_env(url, MIGTOOL_S3_BUCKET=bucket, MIGTOOL_S3_ENDPOINT_URL=moto.url, MIGTOOL_S3_REGION="us-east-1")
    env.update(aws_env())
    return env


def test_restore_from_s3_only(pg_server, pg_dbname, pg_url, tmp_path, moto):
    bucket = f"migtool-{uuid.uuid4().hex[:12]}"
    moto.client().create_bucket(Bucket=bucket)
    env = env_for(pg_url, moto, bucket)
    seed_varied(pg_url)
    before = content_hashes(pg_url)
    res = run_cli(["backup", "--target", "direct", "--backup-dir", str(tmp_path / "machine-a"), "--json"], env, tmp_path)
    assert res.returncode == 0, res.stderr
    name = json.loads(res.stdout)["name"]
    assert json.loads(res.stdout)["upload"]["key"].endswith(name)

    # Another machine (an empty backup folder): only S3 has it. First a damaged remote copy.
    client = moto.client()
    good = client.get_object(Bucket=bucket, Key=name)["Body"].read()
    client.put_object(Bucket=bucket, Key=name, Body=good[:-100] + bytes(100))
    pg_server.drop_database(pg_dbname)
    pg_server.create_database(pg_dbname)
    empty = content_hashes(pg_url)
    folder = tmp_path / "machine-b"
    res = run_cli(["restore", name, "--from-s3", "--clean", "--yes", "--target", "direct",
                   "--backup-dir", str(folder)], env, tmp_path)
    assert res.returncode == 1 and "checksum mismatch" in res.stderr, res.stderr
    assert content_hashes(pg_url) == empty
    assert not (folder / name).exists()

    client.put_object(Bucket=bucket, Key=name, Body=good)
    res = run_cli(["restore", name, "--from-s3", "--clean", "--yes", "--target", "direct",
                   "--backup-dir", str(folder), "--json"], env, tmp_path)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert (folder / name).is_file() and out["method"] == "beside-and-swap"
    assert content_hashes(pg_url) == before
    assert env["AWS_SECRET_ACCESS_KEY"] not in res.stdout + res.stderr
    pg_server.drop_database(out["kept"])
