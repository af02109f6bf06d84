"""Fixtures for end-to-end tests against the real docker compose stack.

`compose_stack` (session scope) runs scripts/dev/bootstrap (Docker engine,
compose v2, images), then starts deploy/docker-compose.yml as its own compose
project (`migtool-e2e-<pid>-<random>`) with an env file of its own (random password)
and brings `postgres` and `app` up with `--wait`. Teardown always runs
`down -v --remove-orphans`.

    def test_something(compose_stack):
        compose_stack.compose("run", "--rm", "migrate")
        rows = compose_stack.psql('SELECT count(*) FROM "User"')

To run the `migrate` service on another migrations folder (e.g. one with a
failing migration), use `compose_stack.with_migrations(path)`, which adds
tests/e2e/compose.migrations-override.yml (bind-mounts the folder over the
image's prisma/migrations), or the `migrations_dir` fixture, a fresh copy of
the example's migrations to add files to.

Secrets: the password is only in the env file and in `db_password`; no command
line built here contains it (psql runs over the container's unix socket, which
trusts local connections).
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy"
COMPOSE_FILE = DEPLOY_DIR / "docker-compose.yml"
MIGRATIONS_OVERRIDE_FILE = Path(__file__).resolve().parent / "compose.migrations-override.yml"
EXAMPLE_MIGRATIONS_DIR = REPO_ROOT / "examples" / "prisma-app" / "prisma" / "migrations"
BOOTSTRAP = REPO_ROOT / "scripts" / "dev" / "bootstrap"
# Project names: migtool-e2e-<pytest pid>-<random>; the pid lets a later session
# recognise (and remove) the leftovers of a killed one.
PROJECT_PREFIX = "migtool-e2e-"

# Variables the env file must decide; a value exported in the caller's shell
# would otherwise win over the env file (compose's precedence).
_STACK_VARIABLES = (
    "DB_USER",
    "DB_PASSWORD",
    "DB_NAME",
    "POSTGRES_IMAGE",
    "APP_IMAGE",
    "MIGRATIONS_HOST_DIR",
    "COMPOSE_PROJECT_NAME",
    "COMPOSE_FILE",
    "COMPOSE_ENV_FILES",
    "COMPOSE_PROFILES",
)

BOOTSTRAP_TIMEOUT = 540  # a cold bootstrap (engine + images) takes ~3 minutes
UP_TIMEOUT = 180
COMMAND_TIMEOUT = 300


class ComposeError(AssertionError):
    """A docker compose command failed; the message has its output."""


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _write_env_file(path: Path, template: Path, overrides: Mapping[str, str]) -> None:
    """Copy `template`, replacing (or appending) the keys of `overrides`."""
    pending = dict(overrides)
    lines = []
    for line in template.read_text().splitlines():
        key = line.partition("=")[0].strip()
        if "=" in line and not line.lstrip().startswith("#") and key in pending:
            lines.append(f"{key}={pending.pop(key)}")
        else:
            lines.append(line)
    lines.extend(f"{key}={value}" for key, value in pending.items())
    path.touch(mode=0o600)
    path.write_text("\n".join(lines) + "\n")


@dataclasses.dataclass(frozen=True)
class ComposeStack:
    """A running compose project of deploy/docker-compose.yml.

    Attributes:
        project_name: compose project name (`migtool-e2e-<pid>-<hex>`).
        compose_files: compose files, in `-f` order.
        env_file: the project's env file (DB_*, POSTGRES_IMAGE, APP_IMAGE).
        env: environment for subprocesses: os.environ without the stack's
            variables, plus COMPOSE_PROJECT_NAME, COMPOSE_FILE and
            COMPOSE_ENV_FILES, so that a bare `docker compose ...` (e.g. run
            by migtool) talks to this project. No password in it.
        db_user, db_name, db_password: the database credentials.
        app_url: the app's base URL on the host, e.g. http://127.0.0.1:32768.
    """

    project_name: str
    compose_files: tuple[Path, ...]
    env_file: Path
    env: dict[str, str]
    db_user: str
    db_name: str
    db_password: str = dataclasses.field(repr=False)
    app_url: str = ""

    # -- commands ---------------------------------------------------------------

    def compose_argv(self, *args: str) -> list[str]:
        """`docker compose -p NAME -f ... --env-file ... ARGS` as a list."""
        argv = ["docker", "compose", "-p", self.project_name]
        for path in self.compose_files:
            argv += ["-f", str(path)]
        return [*argv, "--env-file", str(self.env_file), *args]

    def compose(
        self,
        *args: str,
        check: bool = True,
        timeout: float = COMMAND_TIMEOUT,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> subprocess.CompletedProcess[str]:
        """Run a compose command; output captured as text.

        With check=True (default) a non-zero exit raises ComposeError with
        the command's output. Extra keyword arguments go to subprocess.run.
        """
        argv = self.compose_argv(*args)
        kwargs.setdefault("capture_output", True)
        result = subprocess.run(
            argv,
            env={**self.env, **(env or {})},
            text=True,
            input=input,
            timeout=timeout,
            check=False,
            cwd=REPO_ROOT,
            **kwargs,
        )
        if check and result.returncode != 0:
            raise ComposeError(
                f"`docker compose {' '.join(args)}` exited with {result.returncode}\n"
                f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
            )
        return result

    def psql(self, sql: str, *, check: bool = True) -> str:
        """Run SQL with psql inside the postgres container; CSV output with header."""
        psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--csv", "-U", self.db_user, "-d", self.db_name]
        return self.compose("exec", "-T", "postgres", *psql, "-f", "-", input=sql, check=check).stdout

    def psql_rows(self, sql: str) -> list[dict[str, str]]:
        """psql() parsed: one dict per row, keyed by column name."""
        import csv
        import io

        return list(csv.DictReader(io.StringIO(self.psql(sql))))

    def migrate(self, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`docker compose run --rm migrate` (i.e. `pnpm db:migrate:deploy`)."""
        return self.compose("run", "--rm", "migrate", check=check)

    def reset_database(self) -> None:
        """Drop everything in the database (schema public), back to empty."""
        self.psql("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")

    # -- HTTP -------------------------------------------------------------------

    def http(self, method: str, path: str, body: Any = None, *, timeout: float = 10) -> tuple[int, Any]:
        """Call the app; returns (status, decoded JSON body)."""
        data = None if body is None else json.dumps(body).encode()
        # Asked each time: a test that stops and starts the app gets it a new ephemeral port.
        host, _, port = self.compose("port", "app", "3000").stdout.strip().rpartition(":")
        request = urllib.request.Request(
            f"http://{host or '127.0.0.1'}:{port}" + path, data=data, method=method, headers={"content-type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    # -- variants ---------------------------------------------------------------

    def with_migrations(self, migrations_dir: Path) -> ComposeStack:
        """The same project, with `migrate` reading `migrations_dir` instead of
        the image's prisma/migrations (bind mount, read-only)."""
        migrations_dir = Path(migrations_dir).resolve()
        files = (*self.compose_files, MIGRATIONS_OVERRIDE_FILE)
        env = {
            **self.env,
            "MIGRATIONS_HOST_DIR": str(migrations_dir),
            **_compose_env_vars(self.project_name, files, self.env_file),
        }
        return dataclasses.replace(self, compose_files=files, env=env)


def _compose_env_vars(project: str, files: tuple[Path, ...], env_file: Path) -> dict[str, str]:
    return {
        "COMPOSE_PROJECT_NAME": project,
        "COMPOSE_FILE": os.pathsep.join(str(f) for f in files),
        "COMPOSE_PATH_SEPARATOR": os.pathsep,
        "COMPOSE_ENV_FILES": str(env_file),
    }


def _docker_usable() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _bootstrap() -> None:
    """scripts/dev/bootstrap, or skip where it cannot run (not root, no docker)."""
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if not is_root and not _docker_usable():
        pytest.skip("e2e: no usable Docker engine and not root (run scripts/dev/bootstrap as root)")
    result = subprocess.run(
        [str(BOOTSTRAP)],
        capture_output=True,
        text=True,
        timeout=BOOTSTRAP_TIMEOUT,
        cwd=REPO_ROOT,
        check=False,
    )
    if result.returncode == 3 and not is_root:
        pytest.skip(f"e2e: bootstrap cannot install Docker here:\n{result.stderr}")
    if result.returncode != 0:
        pytest.fail(
            f"scripts/dev/bootstrap failed with exit code {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}",
            pytrace=False,
        )


def _diagnostics(stack: ComposeStack) -> str:
    parts = []
    for args in (("ps", "-a"), ("logs", "--no-color", "--tail", "80")):
        try:
            result = stack.compose(*args, check=False, timeout=60)
            parts.append(f"--- docker compose {' '.join(args)} ---\n{result.stdout}{result.stderr}")
        except subprocess.TimeoutExpired:
            parts.append(f"--- docker compose {' '.join(args)}: timed out ---")
    return "\n".join(parts)


def _remove_stale_projects() -> None:
    """Remove e2e projects left behind by test sessions that were killed before
    their teardown (their pytest process is gone). Projects of live sessions,
    including parallel ones, are left alone."""
    listed = subprocess.run(
        ["docker", "compose", "ls", "--all", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if listed.returncode != 0:
        return
    for project in json.loads(listed.stdout or "[]"):
        name = project.get("Name", "")
        parts = name.split("-")
        if not name.startswith(PROJECT_PREFIX) or len(parts) != 4 or not parts[2].isdigit():
            continue
        pid = int(parts[2])
        try:
            os.kill(pid, 0)
            continue  # its session is still running
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        subprocess.run(
            ["docker", "compose", "-p", name, "down", "--volumes", "--remove-orphans", "--timeout", "5"],
            capture_output=True,
            timeout=120,
            check=False,
        )


@pytest.fixture(scope="session")
def compose_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeStack]:
    """The stack (postgres + app) of deploy/docker-compose.yml, up and healthy.

    One stack for the whole session, shared by the tests: it starts with an
    empty database (no migrations applied). A test that needs a known state
    sets it up itself, e.g. `compose_stack.reset_database()` then
    `compose_stack.migrate()`.
    """
    _bootstrap()

    _remove_stale_projects()
    project = f"{PROJECT_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    workdir = tmp_path_factory.mktemp("compose-stack")
    env_file = workdir / "stack.env"

    # Images: what build-images recorded in deploy/.env (bootstrap ran it).
    deploy_env = _read_env_file(DEPLOY_DIR / ".env") if (DEPLOY_DIR / ".env").exists() else {}
    template = _read_env_file(DEPLOY_DIR / ".env.example")
    password = secrets.token_hex(16)
    overrides = {
        "DB_PASSWORD": password,
        "POSTGRES_IMAGE": deploy_env.get("POSTGRES_IMAGE", template["POSTGRES_IMAGE"]),
        "APP_IMAGE": deploy_env.get("APP_IMAGE", template["APP_IMAGE"]),
    }
    _write_env_file(env_file, DEPLOY_DIR / ".env.example", overrides)
    values = _read_env_file(env_file)

    files = (COMPOSE_FILE,)
    env = {k: v for k, v in os.environ.items() if k not in _STACK_VARIABLES}
    env.update(_compose_env_vars(project, files, env_file))
    stack = ComposeStack(
        project_name=project,
        compose_files=files,
        env_file=env_file,
        env=env,
        db_user=values["DB_USER"],
        db_name=values["DB_NAME"],
        db_password=password,
    )
    try:
        try:
            stack.compose("up", "--detach", "--wait", "postgres", "app", timeout=UP_TIMEOUT)
            port = stack.compose("port", "app", "3000").stdout.strip()
        except (ComposeError, subprocess.TimeoutExpired) as error:
            pytest.fail(f"the compose stack did not come up: {error}\n{_diagnostics(stack)}", pytrace=False)
        host, _, port_number = port.rpartition(":")
        stack = dataclasses.replace(stack, app_url=f"http://{host or '127.0.0.1'}:{port_number}")
        yield stack
    finally:
        down = subprocess.run(
            stack.compose_argv(
                "--profile", "migrate", "down", "--volumes", "--remove-orphans", "--timeout", "10"
            ),
            env=stack.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if down.returncode != 0:
            print(f"warning: `docker compose down` for {project} failed:\n{down.stdout}{down.stderr}")


@pytest.fixture
def migrations_dir(tmp_path: Path) -> Path:
    """A fresh copy of examples/prisma-app/prisma/migrations to add files to;
    use it with `compose_stack.with_migrations(migrations_dir)`."""
    target = tmp_path / "migrations"
    shutil.copytree(EXAMPLE_MIGRATIONS_DIR, target)
    # The container runs as an unprivileged user: the bind mount must be readable.
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target
