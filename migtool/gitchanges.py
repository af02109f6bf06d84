"""Which migrations a pull request adds or changes, from git: the core of `migtool lint --changed-since REF`.

Compared with the merge base of REF and HEAD (what `git diff REF...` shows), plus uncommitted and
untracked files, so the same command works in CI and before pushing. The added migrations deploy
together, after everything already in the folder: those earlier migrations' objects are existing,
and a table one added migration creates is new for the next. A migration that exists at the base
was merged, so it may already be applied in production: changing or deleting it is its own finding
(`edited-applied-migration`), because Prisma never runs it again there; a modified one is also
linted on its own.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from migtool.errors import ConfigError, EnvironmentProblem
from migtool.lint.model import Finding

SCRIPT = "migration.sql"
RULE_ID = "edited-applied-migration"
SEVERITY = "danger"  # the edit never reaches databases that ran the migration: schemas silently diverge


@dataclass(frozen=True)
class Edited:
    path: Path  # <migrations>/<name>/migration.sql (may no longer exist)
    status: str  # "modified" or "deleted"


@dataclass
class ChangedMigrations:
    ref: str
    base: str  # the merge-base commit
    added: list[Path] = field(default_factory=list)  # in apply order
    modified: list[Path] = field(default_factory=list)  # merged ones whose SQL changed, in apply order
    applied: list[Path] = field(default_factory=list)  # the folder's migrations before the first added one
    edited: list[Edited] = field(default_factory=list)  # modified and deleted merged migrations

    @property
    def files(self) -> list[Path]:
        """Every migration that is linted: added and modified, in apply order."""
        return sorted(self.added + self.modified, key=lambda p: p.parent.name)

    def findings(self, cwd: Path | None = None) -> list[Finding]:
        return [_edited_finding(e, self.ref, self.base, cwd or Path.cwd()) for e in self.edited]


def _git(cwd: Path, *args: str) -> str:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=60, check=False)
    except FileNotFoundError:
        raise EnvironmentProblem("git is not installed", hint="apt-get install git") from None
    if proc.returncode != 0:
        raise _GitFailed(proc.stderr.decode(errors="replace").strip())
    return proc.stdout.decode("utf-8", errors="surrogateescape")


class _GitFailed(Exception):
    pass


def _display(path: Path, cwd: Path) -> str:
    try:
        return str(path.relative_to(cwd))
    except ValueError:
        return str(path)


def _edited_finding(e: Edited, ref: str, base: str, cwd: Path) -> Finding:
    rel = _display(e.path, cwd)
    name = e.path.parent.name
    if e.status == "deleted":
        message = (f"{name} was merged ({ref} has it) and is deleted here: databases that applied it list it as "
                   "missing-locally, and new databases never get what it created")
        fix = (f"Restore it: git checkout {base[:12]} -- {rel}\n"
               "To undo what it did, write a new migration that reverses it.")
    else:
        message = (f"{name} was merged ({ref} has it) and its SQL changed: databases that already applied it "
                   "never run the new version, so they and new databases drift apart (Prisma's checksum no "
                   "longer matches: migtool status reports it as modified)")
        fix = (f"Restore it: git checkout {base[:12]} -- {rel}\n"
               "Put the change in a new migration instead: npx prisma migrate dev --create-only --name <change>")
    return Finding(rule=RULE_ID, severity=SEVERITY, file=rel, line=1, column=None, statement="",
                   message=message, fix=fix)


def _split_z(text: str) -> list[str]:
    return [t for t in text.split("\0") if t]


def changed_migrations(migrations_dir: Path, ref: str) -> ChangedMigrations:
    """The migrations added, modified or deleted under migrations_dir since the merge base of ref and HEAD."""
    folder = Path(migrations_dir).resolve()
    if not folder.is_dir():
        raise ConfigError(f"migrations folder not found: {folder}",
                          hint="pass --migrations-dir DIR or set migrations_dir in migtool.yaml")
    try:
        top = Path(_git(folder, "rev-parse", "--show-toplevel").strip()).resolve()
    except _GitFailed:
        raise ConfigError(f"{folder} is not inside a git repository: --changed-since needs one",
                          hint="run it in a clone of the project, or lint PATHs instead") from None
    try:
        _git(top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except _GitFailed:
        # The hint is a command to paste: quote the ref, and fetch origin/main as `main` from origin.
        branch = ref.removeprefix("origin/")
        raise ConfigError(f"git does not know {ref!r} here",
                          hint=f"git fetch origin {shlex.quote(branch)}  (in GitHub Actions: actions/checkout "
                               "with fetch-depth: 0)") from None
    try:
        base = _git(top, "merge-base", ref, "HEAD").strip()
    except _GitFailed:
        # Comparing with the ref itself instead would show the base's newer migrations as deleted here.
        raise ConfigError(f"no common ancestor of {ref!r} and HEAD (a shallow clone?)",
                          hint="git fetch --unshallow  (in GitHub Actions: actions/checkout with fetch-depth: 0)"
                          ) from None
    rel = os.path.relpath(folder, top)
    status: dict[str, str] = {}
    parts = _split_z(_git(top, "diff", "--name-status", "--no-renames", "-z", base, "--", rel))
    for code, path in zip(parts[0::2], parts[1::2], strict=True):
        status[path] = code[0]
    for path in _split_z(_git(top, "ls-files", "--others", "--exclude-standard", "-z", "--", rel)):
        status[path] = "A"

    changed = ChangedMigrations(ref=ref, base=base)
    by_name: dict[str, Path] = {}
    for path, code in status.items():
        full = top / path
        try:
            inside = full.relative_to(folder).parts
        except ValueError:
            continue
        if len(inside) != 2 or inside[1] != SCRIPT:
            continue  # migration_lock.toml, READMEs, files in other folders
        if code == "D":
            changed.edited.append(Edited(full, "deleted"))
            continue
        if code in "MT":
            changed.edited.append(Edited(full, "modified"))
            changed.modified.append(full)
        else:
            by_name[inside[0]] = full
    changed.edited.sort(key=lambda e: e.path.parent.name)
    changed.modified.sort(key=lambda p: p.parent.name)
    names = sorted(by_name)
    changed.added = [by_name[n] for n in names]
    if names:
        changed.applied = _before(folder, names[0], exclude=set(names))
    return changed


def _before(folder: Path, name: str, exclude: set[str] = frozenset()) -> list[Path]:
    return sorted((p / SCRIPT for p in folder.iterdir()
                   if p.is_dir() and p.name < name and p.name not in exclude and (p / SCRIPT).is_file()),
                  key=lambda p: p.parent.name)


# ---------------------------------------------------------------- the hook in migtool/commands/lint.py


@dataclass
class LintPlan:
    changes: ChangedMigrations
    plan: tuple  # what commands/lint.py's _plan returns: (files, applied, existing, reachable)

    def add_findings(self, report) -> None:
        """Lint the modified merged migrations, each on its own (they ran long ago, not with this
        deploy), and put the edited-applied-migration findings first: they are to fix before anything."""
        from migtool.lint import lint_files
        from migtool.lint.engine import EARLIER

        cwd = Path.cwd()
        for path in self.changes.modified:
            own = lint_files([Path(_display(path, cwd))], report.pg_version,
                             applied=_before(path.parent.parent, path.parent.name), existing=EARLIER)
            report.findings.extend(own.findings)
            report.files.extend(own.files)
        report.findings[:0] = self.changes.findings(cwd)


def plan_for_lint(args, config) -> LintPlan:
    """`migtool lint --changed-since REF [MIGRATIONS_DIR]`: the added migrations deploy together (objects
    from every earlier migration in the folder count as existing)."""
    from migtool import output
    from migtool.lint.engine import TOGETHER

    if getattr(args, "db", False) or getattr(args, "together", False):
        raise ConfigError("--changed-since cannot be combined with --db or --together",
                          hint=f"migtool lint --changed-since {args.changed_since}")
    folder = Path(config.migrations_dir)
    if args.paths:
        if len(args.paths) != 1 or not Path(args.paths[0]).is_dir():
            raise ConfigError("--changed-since takes at most one PATH: the migrations folder",
                              hint=f"migtool lint --changed-since {args.changed_since} prisma/migrations")
        folder = Path(args.paths[0])
    changes = changed_migrations(folder, args.changed_since)
    if not changes.files and not changes.edited:
        output.info(f"no migration added or changed since {args.changed_since}: nothing to lint")
    return LintPlan(changes, (changes.added, changes.applied, TOGETHER, False))
