"""Streaming age encryption and decryption through the `age` CLI.

Memory stays flat: data goes through age's pipes in CHUNK-sized blocks, never whole. Recipients
(public keys) may appear on age's command line; the identity (private key) is only ever a file
path, and its contents are never read by us.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from migtool.errors import CheckFailed, ConfigError, EnvironmentProblem

CHUNK = 1 << 20
MAGIC = b"age-encryption.org/v1\n"
# X25519 recipients: "age1" + bech32 data (58 characters of the bech32 alphabet).
_RECIPIENT = re.compile(r"age1[02-9ac-hj-np-z]{58}")
_INSTALL = "apt-get install age   (or see https://age-encryption.org)"

Sink = Callable[[bytes], None]


def age_exe() -> str:
    exe = shutil.which("age")
    if exe is None:
        raise EnvironmentProblem("the age CLI is not installed (needed for encrypted backups)", hint=_INSTALL)
    return exe


def validate_recipients(recipients: Sequence[str]) -> tuple[str, ...]:
    if not recipients:
        raise ConfigError("encryption needs at least one recipient (an age1... public key)",
                          hint="age-keygen -o key.txt   (prints the public key to use as recipient)")
    bad = [r for r in recipients if not _RECIPIENT.fullmatch(r.strip())]
    if bad:
        raise ConfigError(f"not an age recipient: {bad[0]!r}",
                          hint="a recipient looks like age1... (the 'public key' line age-keygen prints)")
    return tuple(r.strip() for r in recipients)


def is_encrypted(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(len(MAGIC)) == MAGIC


class AgeEncryptor:
    """A stream stage: write() plaintext, and the ciphertext reaches `sink` (e.g. the file + sha256)."""

    def __init__(self, sink: Sink, recipients: Sequence[str], exe: str | None = None):
        argv = [exe or age_exe(), "--encrypt"]
        for r in validate_recipients(recipients):
            argv += ["-r", r]
        self._sink = sink
        self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._error: BaseException | None = None
        self._pump = threading.Thread(target=self._copy_out, daemon=True)
        self._pump.start()

    def _copy_out(self) -> None:
        read = self._proc.stdout.read
        try:
            while block := read(CHUNK):
                self._sink(block)
        except BaseException as exc:  # the sink failed (disk full...): stop age, report it in write/finish
            self._error = exc
            with contextlib.suppress(OSError):
                self._proc.kill()

    def _raise_pending(self) -> None:
        if self._error is not None:
            raise self._error

    def write(self, data: bytes | memoryview) -> None:
        self._raise_pending()
        try:
            self._proc.stdin.write(data)
        except BrokenPipeError:
            self._raise_pending()
            raise EnvironmentProblem(f"age stopped while encrypting: {self._stderr()}") from None

    def finish(self) -> None:
        with contextlib.suppress(BrokenPipeError):
            self._proc.stdin.close()
        code = self._proc.wait()
        self._pump.join()
        self._raise_pending()
        if code != 0:
            raise EnvironmentProblem(f"age failed to encrypt (exit {code}): {self._stderr()}")

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._proc.kill()
        with contextlib.suppress(OSError, ValueError):
            self._proc.stdin.close()
        self._proc.wait()
        self._pump.join(timeout=10)

    def _stderr(self) -> str:
        with contextlib.suppress(OSError, ValueError):
            return self._proc.stderr.read().decode(errors="replace").strip()[:500]
        return ""


class WrongIdentity(CheckFailed):
    """The identity is a readable key, but not one of the file's recipients (exit 1). Says nothing
    about the file itself, so `backups verify` records no verdict for it."""


def identity_path(identity: str | Path | None, what: str) -> Path:
    """The identity file to decrypt `what` with; ConfigError (exit 2) when none is given or it is missing."""
    return _identity_path(identity, what)


def _identity_path(identity: str | Path | None, what: str) -> Path:
    if identity is None or str(identity) == "":
        raise ConfigError(f"{what} is encrypted: an age identity (private key file) is needed to read it",
                          hint="set MIGTOOL_AGE_IDENTITY=/path/to/key.txt or pass --identity /path/to/key.txt")
    path = Path(identity).expanduser()
    if not path.is_file():
        raise ConfigError(f"age identity file not found: {path}",
                          hint="MIGTOOL_AGE_IDENTITY / --identity must name the key file age-keygen wrote")
    return path


@contextlib.contextmanager
def decrypted(path: Path, identity: str | Path | None, exe: str | None = None) -> Iterator[_Plaintext]:
    """The plaintext of an age file as a stream (`.read(n)`). A wrong key or a damaged header fails on
    the first read, before any plaintext comes out (age checks the header first), so nothing
    half-decrypted reaches a restore. A truncated or tampered body fails on the read that hits the
    end. Leaving the block early stops age."""
    key = _identity_path(identity, path.name)
    proc = subprocess.Popen([exe or age_exe(), "--decrypt", "-i", str(key), str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        yield _Plaintext(proc, path)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


class _Plaintext:
    def __init__(self, proc: subprocess.Popen, path: Path):
        self._proc = proc
        self._path = path

    def read(self, n: int = CHUNK) -> bytes:
        block = self._proc.stdout.read(n)
        if not block and self._proc.wait() != 0:
            raise _decrypt_error(self._path, self._proc.stderr.read().decode(errors="replace").strip())
        return block


def _decrypt_error(path: Path, stderr: str) -> CheckFailed:
    text = stderr.lower()
    if "no identity matched" in text:
        return WrongIdentity(f"{path.name}: the age identity does not match this backup's recipients",
                           hint="use the private key that belongs to one of the recipients in its manifest")
    if "header" in text or "not an age file" in text or "unknown format" in text:
        return CheckFailed(f"{path.name}: not a readable age file ({stderr[:200]})",
                           hint=f"migtool backups verify {path.name}")
    return CheckFailed(f"{path.name}: decryption failed: {stderr[:300] or 'age exited with an error'}",
                       hint=f"migtool backups verify {path.name}")


def decrypt_to(path: Path, identity: str | Path | None, sink: Sink) -> int:
    """Decrypt the whole file into sink; the plaintext size. Raises like decrypted()."""
    total = 0
    with decrypted(path, identity) as stream:
        while block := stream.read(CHUNK):
            sink(block)
            total += len(block)
    return total
