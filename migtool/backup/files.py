"""Files that are either whole or absent: private (0600), fsynced, published by rename or link."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

PRIVATE = 0o600


def create_private(path: Path) -> int:
    """Create `path` (which must not exist) for writing, mode 0600 whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE)
    try:
        os.fchmod(fd, PRIVATE)  # a umask can only take bits away; this makes it exactly 0600
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return fd


def write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as exc:  # some filesystems cannot fsync a directory; the rename is still atomic
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def publish_no_replace(tmp: Path, final: Path) -> None:
    """Move a finished `tmp` to `final` atomically, refusing (FileExistsError) to replace anything."""
    try:
        os.link(tmp, final)  # link(2) fails with EEXIST instead of replacing: no race with a check
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        if final.exists():  # filesystems without hard links: check, then rename
            raise FileExistsError(errno.EEXIST, "file exists", str(final)) from None
        os.rename(tmp, final)
        return
    os.unlink(tmp)


def write_atomic(path: Path, data: bytes, replace: bool = True) -> None:
    """Write a small file whole or not at all: temp file in the same folder, fsync, rename."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    tmp = Path(tmp_name)
    try:
        try:
            os.fchmod(fd, PRIVATE)
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp, path)
        else:
            publish_no_replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        remove_quietly(tmp)
        raise
