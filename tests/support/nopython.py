"""A PATH with every tool of this machine except Python, for the scripts that must work without it."""

from __future__ import annotations

import os
import re
from pathlib import Path

_PYTHON = re.compile(r"^(python|pip|pydoc|py3|2to3|idle)")


def no_python_path(root: Path, extra_dirs: list[str] | None = None) -> str:
    """Make `root` a folder of symlinks to every executable on PATH (and in extra_dirs, first) except
    python*, pip*, ... and return it as a one-entry PATH. The virtualenv's folder is left out too."""
    root.mkdir(parents=True, exist_ok=True)
    venv = os.environ.get("VIRTUAL_ENV")
    dirs = [*(extra_dirs or []), *os.environ.get("PATH", "").split(os.pathsep), "/usr/bin", "/bin"]
    for d in dirs:
        if not d or (venv and d.startswith(venv)) or "/.venv/" in d + "/":
            continue
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            if _PYTHON.match(e.name) or (root / e.name).exists():
                continue
            try:
                if e.is_file() and os.access(e.path, os.X_OK):
                    (root / e.name).symlink_to(os.path.realpath(e.path))
            except OSError:
                continue
    return str(root)
