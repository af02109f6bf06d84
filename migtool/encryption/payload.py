"""The bytes of a backup as its readers need them: the compressed dump, whether the file on disk is
that dump or an age file of it (`.age`). Callers read `.read(n)` blocks either way, so verify and
restore handle both with one loop, and decrypted data only ever flows through pipes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from migtool.backup.naming import is_encrypted_name
from migtool.encryption.age_stream import CHUNK, decrypted, identity_path


class Reader(Protocol):
    def read(self, n: int = CHUNK) -> bytes: ...


def needs_identity(path: Path) -> bool:
    return is_encrypted_name(path.name)


def require_identity(path: Path, identity: str | Path | None) -> Path | None:
    """Fail fast (ConfigError, exit 2, with the hint) when an encrypted backup has no usable identity
    file; None for a plain backup."""
    return identity_path(identity, path.name) if needs_identity(path) else None


@contextlib.contextmanager
def open_payload(path: Path, identity: str | Path | None = None) -> Iterator[Reader]:
    """The compressed dump inside `path`. For an encrypted backup a wrong key raises WrongIdentity on
    the first read, before any plaintext comes out; a damaged file raises CheckFailed."""
    if needs_identity(path):
        with decrypted(path, identity) as stream:
            yield stream
    else:
        with open(path, "rb") as f:
            yield f
