"""Streaming age encryption through the real `age` CLI: round trips, interop with the bare CLI (what
the recovery script uses), wrong or missing keys, damaged files, and flat memory."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from migtool.encryption.age_stream import (
    AgeEncryptor,
    decrypt_to,
    decrypted,
    is_encrypted,
    validate_recipients,
)
from migtool.errors import CheckFailed, ConfigError, EnvironmentProblem

pytestmark = pytest.mark.integration

if shutil.which("age") is None:  # scripts/dev/host-tools installs it
    pytest.fail("the age CLI is missing: run scripts/dev/host-tools", pytrace=False)


def keypair(folder: Path, name: str) -> tuple[Path, str]:
    key = folder / f"{name}.txt"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    public = next(line.split(": ", 1)[1] for line in key.read_text().splitlines() if line.startswith("# public key"))
    return key, public


def encrypt_file(path: Path, chunks, recipients) -> str:
    plain = hashlib.sha256()
    with open(path, "wb") as f:
        enc = AgeEncryptor(f.write, recipients)
        for chunk in chunks:
            plain.update(chunk)
            enc.write(chunk)
        enc.finish()
    return plain.hexdigest()


def test_round_trip_and_interop_with_the_cli(tmp_path):
    key, public = keypair(tmp_path, "k")
    other_key, other_public = keypair(tmp_path, "other")
    data = [os.urandom(700_000) for _ in range(6)]
    out = tmp_path / "b.dump.zst.age"
    digest = encrypt_file(out, data, [public, other_public])
    assert is_encrypted(out) and b"".join(data)[:64] not in out.read_bytes()

    got = hashlib.sha256()
    assert decrypt_to(out, other_key, got.update) == sum(map(len, data))  # any recipient's key opens it
    assert got.hexdigest() == digest
    # The bare CLI (as scripts/restore/postgres-restore.sh runs it) reads what Python wrote...
    cli = subprocess.run(["age", "-d", "-i", str(key), str(out)], capture_output=True, check=True)
    assert hashlib.sha256(cli.stdout).hexdigest() == digest
    # ...and Python reads what the CLI wrote.
    by_cli = tmp_path / "cli.age"
    subprocess.run(["age", "-r", public, "-o", str(by_cli)], input=b"hello", check=True)
    with decrypted(by_cli, key) as stream:
        assert stream.read() == b"hello"


def test_wrong_or_missing_key_is_refused_before_any_plaintext(tmp_path):
    _, public = keypair(tmp_path, "k")
    wrong, _ = keypair(tmp_path, "wrong")
    out = tmp_path / "b.age"
    encrypt_file(out, [b"secret rows"], [public])
    received: list[bytes] = []
    with pytest.raises(CheckFailed) as exc:
        decrypt_to(out, wrong, received.append)
    assert "does not match" in exc.value.message and received == []
    with pytest.raises(ConfigError) as missing:
        decrypt_to(out, None, received.append)
    assert "MIGTOOL_AGE_IDENTITY" in missing.value.hint
    with pytest.raises(ConfigError):
        decrypt_to(out, tmp_path / "nope.txt", received.append)
    assert received == []


def test_truncated_file_fails_at_the_end(tmp_path):
    key, public = keypair(tmp_path, "k")
    out = tmp_path / "b.age"
    encrypt_file(out, [os.urandom(300_000)], [public])
    out.write_bytes(out.read_bytes()[:-1000])
    with pytest.raises(CheckFailed):
        decrypt_to(out, key, lambda b: None)


def test_bad_recipients_and_missing_cli(tmp_path, monkeypatch):
    with pytest.raises(ConfigError):
        validate_recipients([])
    with pytest.raises(ConfigError) as exc:
        validate_recipients(["ssh-rsa AAAA"])
    assert "age1" in exc.value.hint
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EnvironmentProblem) as gone:
        AgeEncryptor(lambda b: None, ["age1" + "q" * 58])
    assert "apt-get install age" in gone.value.hint


def test_memory_stays_flat_while_encrypting_256_mib(tmp_path):
    _, public = keypair(tmp_path, "k")
    script = f"""
import os, resource
from migtool.encryption.age_stream import AgeEncryptor
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
block = os.urandom(1 << 20)
with open({str(tmp_path / 'big.age')!r}, 'wb') as f:
    enc = AgeEncryptor(f.write, [{public!r}])
    for _ in range(256):
        enc.write(block)
    enc.finish()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    grown_kib = int(res.stdout.strip())
    assert grown_kib < 32 * 1024, f"peak RSS grew by {grown_kib} KiB for a 256 MiB stream"
    assert (tmp_path / "big.age").stat().st_size > 256 << 20
