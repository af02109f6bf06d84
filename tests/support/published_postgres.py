"""For e2e tests that reach the compose stack's postgres from the host: the service recreated with a
loopback port (tests/e2e/compose.publish-postgres.yml), and `migtool` run as a user runs it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PUBLISH = REPO / "tests" / "e2e" / "compose.publish-postgres.yml"


def compose(stack, files, *args) -> subprocess.CompletedProcess:
    argv = ["docker", "compose", "-p", stack.project_name, "--env-file", str(stack.env_file)]
    for f in files:
        argv += ["-f", str(f)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    return subprocess.run([*argv, *args], env=env, capture_output=True, text=True, check=True, timeout=300)


@contextlib.contextmanager
def published_postgres(stack) -> Iterator[list[Path]]:
    """Postgres recreated with a loopback port for the test, and put back as it was afterwards.
    Yields the compose files that keep the port.

    Anything that runs compose without the override (e.g. `run --rm migrate`) recreates postgres
    without the port again, so use this after the migrations ran.
    """
    files = [*stack.compose_files, PUBLISH]
    compose(stack, files, "up", "-d", "--wait", "postgres")
    try:
        yield files
    finally:
        compose(stack, stack.compose_files, "up", "-d", "--wait", "postgres", "app")


def published_url(stack, files) -> str:
    """DATABASE_URL of the stack's database over the port `published_postgres` published."""
    port = compose(stack, files, "port", "postgres", "5432").stdout.strip().rpartition(":")[2]
    return f"postgresql://{stack.db_user}:{stack.db_password}@127.0.0.1:{port}/{stack.db_name}"


def compose_target(stack, files) -> dict[str, str]:
    """The settings that point migtool at the stack through the compose target, with these files."""
    return {"MIGTOOL_TARGET": "compose", "MIGTOOL_COMPOSE_PROJECT": stack.project_name,
            "MIGTOOL_COMPOSE_ENV_FILE": str(stack.env_file),
            "MIGTOOL_COMPOSE_FILE": os.pathsep.join(str(f) for f in files)}


def run_migtool(env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """`python -m migtool ARGS` from the repository root with only `env_extra`'s migtool, compose and
    database settings (none of the caller's)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MIGTOOL_", "COMPOSE_")) and k != "DATABASE_URL"}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-m", "migtool", *args], env=env, capture_output=True, text=True,
                          timeout=300, cwd=REPO)
