"""The compose service to add when a project has no migrate service.

Same image as the app (so the Prisma version and the migrations match what is deployed), started
only with `docker compose run --rm migrate` (a profile keeps `up` from starting it), after the
database is healthy.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from migtool.init.compose_scan import Service
from migtool.init.prisma_scan import walk


def _package_command(root: Path, scripts: dict[str, str]) -> list[str]:
    runner = "npx"
    for lock, name in (("pnpm-lock.yaml", "pnpm"), ("yarn.lock", "yarn"), ("bun.lockb", "bun")):
        if walk(root, {lock}):
            runner = name
            break
    for script, command in scripts.items():
        if "prisma migrate deploy" in command and runner != "npx":
            return [runner, "run", script] if runner != "pnpm" else [runner, script]
    return {"npx": ["npx", "prisma", "migrate", "deploy"],
            "pnpm": ["pnpm", "exec", "prisma", "migrate", "deploy"],
            "yarn": ["yarn", "prisma", "migrate", "deploy"],
            "bun": ["bunx", "prisma", "migrate", "deploy"]}[runner]


def _safe_url(value: str) -> str:
    """The app's DATABASE_URL as written, unless it holds a literal password (then a variable)."""
    try:
        password = urlsplit(value).password
    except ValueError:
        password = None
    if password and "$" not in password:
        return "${DATABASE_URL}"
    return value


def migrate_service_yaml(app: Service | None, postgres: Service, root: Path, scripts: dict[str, str]) -> str:
    lines = ["  migrate:"]
    if app is not None and app.image:
        lines.append(f"    image: {json.dumps(app.image)}   # the app's image: same Prisma, same migrations")
    elif app is not None and app.has_build:
        build = app.spec["build"]
        lines.append(f"    build: {json.dumps(build)}   # built like the app: same Prisma, same migrations")
    else:
        lines.append("    image: YOUR_APP_IMAGE   # the app's image: same Prisma, same migrations")
    lines.append(f"    command: {json.dumps(_package_command(root, scripts))}")
    env = app.environment.get("DATABASE_URL") if app is not None else None
    if env is not None:
        lines += ["    environment:", f"      DATABASE_URL: {json.dumps(_safe_url(env))}"]
    elif app is not None and app.env_files:
        lines.append(f"    env_file: {json.dumps(app.env_files)}")
    else:
        lines += ["    environment:", '      DATABASE_URL: "${DATABASE_URL}"']
    condition = "service_healthy" if postgres.healthcheck else "service_started"
    lines += [
        "    depends_on:",
        f"      {postgres.name}:",
        f"        condition: {condition}",
        "    # Never started by `up`: run it with `docker compose run --rm migrate`.",
        "    profiles: [migrate]",
        '    restart: "no"',
    ]
    return "\n".join(lines) + "\n"
