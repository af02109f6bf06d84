"""Turn a Discovery into a commented migtool.yaml: every key says why it has its value."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime

from migtool.init.discover import Discovery
from migtool.init.guess import Guess


def _scalar(value: str) -> str:
    # Plain when YAML reads it back as the same string, else JSON-quoted (valid YAML).
    import yaml

    try:
        if yaml.safe_load(value) == value and ":" not in value and "#" not in value:
            return value
    except yaml.YAMLError:
        pass
    return json.dumps(value)


def _comment(text: str) -> list[str]:
    return [f"# {line}" for line in textwrap.wrap(text, 100)]


def _key(lines: list[str], key: str, value: str, guess: Guess, commented: bool = False) -> None:
    lines.append("")
    lines += _comment(("check this: " if not guess.sure else "") + guess.why)
    for note in guess.notes:
        lines += _comment(note)
    lines.append(f"{'# ' if commented else ''}{key}: {value}")


def render(d: Discovery, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    lines = [
        f"# migtool configuration, written by `migtool init` on {now:%Y-%m-%d}.",
        "# Each setting says why it was guessed; fix what is wrong, then run `migtool doctor`.",
        "# Relative paths are relative to this file. Passwords never go here: migtool reads",
        "# DATABASE_URL from the environment, or runs its tools inside the postgres service.",
    ]
    _key(lines, "target", d.target.value, d.target)
    if d.compose_files is not None:
        files = [d.rel(p) for p in d.compose_files.value]
        value = _scalar(files[0]) if len(files) == 1 else "[" + ", ".join(_scalar(f) for f in files) + "]"
        _key(lines, "compose_file", value, d.compose_files)
    if d.postgres_service is not None:
        _key(lines, "postgres_service", _scalar(d.postgres_service.value), d.postgres_service)
    if d.migrate_service is not None and d.compose_files is not None:
        _key(lines, "migrate_service", _scalar(d.migrate_service.value), d.migrate_service)
    if d.app_services is not None:
        _key(lines, "app_services", "[" + ", ".join(_scalar(s) for s in d.app_services.value) + "]", d.app_services)
    elif d.compose_files is not None:
        _key(lines, "app_services", "[app]",
             Guess(["app"], "no long-running service uses the database: name the services that write to it "
                            "(deploy-migrate stops and starts them)", sure=False), commented=True)
    _key(lines, "migrations_dir", _scalar(d.rel(d.migrations_dir.value)), d.migrations_dir)
    lines.append("")
    lines.append("# Where DATABASE_URL comes from:" if d.database_url else
                 "# DATABASE_URL: not found in the compose file or a .env file.")
    for origin in d.database_url:
        lines += [f"#   {line}" for line in textwrap.wrap(origin, 96, subsequent_indent="  ")]
    lines += [
        "",
        "# Backups: where they go and how many to keep (newest N, and everything younger than N days).",
        "backup_dir: backups",
        "keep_last: 10",
        "keep_days: 30",
        "# s3: {bucket: my-backups, prefix: prod}   # uncomment to upload every backup",
    ]
    return "\n".join(lines) + "\n"


def explain(d: Discovery) -> list[str]:
    """One line per guess, for the terminal."""
    out = [f"target: {d.target.value} ({d.target.why})"]
    if d.compose_files is not None:
        out.append(f"compose_file: {', '.join(d.rel(p) for p in d.compose_files.value)} ({d.compose_files.why})")
    for key in ("postgres_service", "migrate_service", "app_services", "migrations_dir"):
        guess: Guess | None = getattr(d, key)
        if guess is None:
            continue
        value = guess.value
        shown = ", ".join(value) if isinstance(value, list) else d.rel(value) if key == "migrations_dir" else value
        out.append(f"{key}: {shown} ({'check: ' if not guess.sure else ''}{guess.why})")
        out += [f"  {note}" for note in guess.notes]
    out += [f"DATABASE_URL: {origin}" for origin in d.database_url]
    return out
