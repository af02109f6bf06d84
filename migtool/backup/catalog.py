"""The backups in a folder: our dump files with what their manifest and last verification say.

Only files whose names match our pattern count; anything else in the folder is left alone.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from migtool.backup import naming
from migtool.backup.manifest import Manifest, ManifestError
from migtool.errors import CheckFailed, ConfigError, EnvironmentProblem

COULD_NOT_CHECK = "could-not-check"  # a verify attempt that could not run: not a verdict on the file


@dataclass(frozen=True)
class LocalBackup:
    path: Path
    name: naming.BackupName
    size: int
    manifest: Manifest | None
    manifest_problem: str | None  # why there is no usable manifest
    verification: dict[str, Any] | None  # the last `backups verify` result, if any

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def created(self) -> datetime:
        return self.manifest.started_at if self.manifest else self.name.created

    @property
    def reason(self) -> str:
        return self.manifest.reason if self.manifest and self.manifest.reason else self.name.reason

    @property
    def verified_ok(self) -> bool | None:
        """True/False: the last verification of exactly this file passed/failed; None: never verified."""
        v = self.verification
        if not v or not isinstance(v.get("ok"), bool):
            return None
        if v["ok"] and self.manifest and v.get("sha256") != self.manifest.sha256:
            return None  # a pass for other bytes than the manifest describes proves nothing
        return v["ok"]

    @property
    def failed(self) -> bool:
        """The last verdict on exactly this file is "failed" (an outage during a check is no verdict)."""
        return self.verified_ok is False

    @property
    def verified_at(self) -> str | None:
        return (self.verification or {}).get("verified_at")

    @property
    def could_not_check(self) -> dict[str, Any] | None:
        """The last verify attempt, when it could not run (docker down, no scratch database...)."""
        attempt = (self.verification or {}).get("last_attempt")
        if isinstance(attempt, dict) and attempt.get("outcome") == COULD_NOT_CHECK:
            return attempt
        return None

    @property
    def pinned(self) -> bool:
        """Never pruned: a `<name>.pinned` side file (see set_pinned), or `pinned: true` in the manifest."""
        if self.manifest is not None and self.manifest.extra.get("pinned") is True:
            return True
        return (self.path.parent / naming.pin_name(self.filename)).exists()

    def side_paths(self) -> list[Path]:
        return [self.path.parent / n for n in (*naming.side_names(self.filename), naming.pin_name(self.filename))]


def read_manifest(path: Path) -> tuple[Manifest | None, str | None]:
    mpath = path.parent / naming.manifest_name(path.name)
    try:
        text = mpath.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, f"missing manifest {mpath.name}"
    except OSError as exc:
        return None, f"cannot read manifest {mpath.name}: {exc.strerror}"
    try:
        manifest = Manifest.from_dict(json.loads(text))
    except (ValueError, ManifestError) as exc:  # JSONDecodeError is a ValueError
        return None, f"manifest {mpath.name} is unusable: {exc}"
    if manifest.name != path.name:
        return None, f"manifest {mpath.name} describes another file ({manifest.name})"
    return manifest, None


def read_verification(path: Path) -> dict[str, Any] | None:
    vpath = path.parent / naming.verified_name(path.name)
    try:
        data = json.loads(vpath.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def load(path: Path) -> LocalBackup:
    parsed = naming.parse_name(path.name)
    if parsed is None:
        raise ConfigError(f"{path.name} is not a migtool backup name",
                          hint="backup names look like DB-20240101T120000Z-reason.dump.zst; see `migtool backups list`")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise CheckFailed(f"backup not found: {path}", hint="see `migtool backups list`") from None
    manifest, problem = read_manifest(path)
    return LocalBackup(path, parsed, size, manifest, problem, read_verification(path))


def not_a_folder(backup_dir: Path) -> ConfigError:
    """backup_dir is a file, or a file stands in its path: a configuration mistake, not a crash."""
    return ConfigError(f"backup_dir {backup_dir} is not a folder (a file has that name or stands in its path)",
                       hint="set backup_dir in migtool.yaml (or --backup-dir) to a folder")


def scan(backup_dir: Path) -> list[LocalBackup]:
    """Our backups in `backup_dir`, newest first (a missing folder has none)."""
    try:
        entries = list(os.scandir(backup_dir))
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        raise not_a_folder(backup_dir) from None
    found = []
    for entry in entries:
        if naming.parse_name(entry.name) is None or not entry.is_file(follow_symlinks=False):
            continue
        try:
            found.append(load(Path(entry.path)))
        except CheckFailed:  # removed while we looked
            continue
    found.sort(key=lambda b: (b.created, b.filename), reverse=True)
    return found


def resolve(backup_dir: Path, ref: str) -> LocalBackup:
    """A backup by file name, by path, or `latest` (the newest in the folder)."""
    if ref == "latest":
        backups = scan(backup_dir)
        if not backups:
            raise CheckFailed(f"no backups in {backup_dir}", hint="take one: migtool backup --reason manual")
        return backups[0]
    given = Path(ref)
    path = given if (given.parent != Path(".") or given.is_absolute()) else backup_dir / given
    if not path.is_file():
        raise CheckFailed(f"backup not found: {path}", hint="see `migtool backups list`")
    return load(path)


def stale_partials(backup_dir: Path) -> list[Path]:
    """Temp files of ours (.NAME.partial) left by a run that was killed too hard to clean up."""
    try:
        names = os.listdir(backup_dir)
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        raise not_a_folder(backup_dir) from None
    out = []
    for n in names:
        if n.startswith(".") and n.endswith(naming.PARTIAL_SUFFIX) and _partial_base(n) is not None:
            out.append(backup_dir / n)
    return sorted(out)


def _partial_base(filename: str) -> str | None:
    """'.x.dump.zst.partial' or a side file's '.x.dump.zst.json.RANDOM.partial' -> 'x.dump.zst'."""
    base = naming.parse_partial(filename)
    if base is not None:
        return base
    inner = filename[1:-len(naming.PARTIAL_SUFFIX)]
    stem = inner.rsplit(".", 1)[0]  # drop mkstemp's random part
    return naming.parse_partial(f".{stem}{naming.PARTIAL_SUFFIX}")


def set_pinned(path: Path, pinned: bool, reason: str = "") -> None:
    """Pin (never prune) or unpin the backup at `path`. Idempotent.

    The pin is a side file `<name>.pinned` (JSON: pinned_at, reason), so the manifest, which equals
    the S3 copy, never changes. Raises CheckFailed for a missing backup, EnvironmentProblem when the
    folder is not writable."""
    from migtool.backup.files import remove_quietly, write_atomic
    from migtool.backup.manifest import iso

    if naming.parse_name(path.name) is None or not path.is_file():
        raise CheckFailed(f"backup not found: {path}", hint="see `migtool backups list`")
    pin = path.parent / naming.pin_name(path.name)
    try:
        if pinned:
            from datetime import UTC

            data = {"pinned_at": iso(datetime.now(UTC)), "reason": reason}
            write_atomic(pin, (json.dumps(data) + "\n").encode())
        else:
            remove_quietly(pin)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot {'pin' if pinned else 'unpin'} {path.name}: {exc.strerror or exc}",
                                 hint="check the permissions of the backup folder") from None
