"""The disposable copy of production: a compose project of its own, derived from the real one.

`copy_model` is pure: from production's resolved compose model (`docker compose config`) it builds
a model with the same postgres image and credentials on a fresh volume, the old app image and the
new image (app and migrate) pointed at the copy. Nothing is shared with production: its own project
name, network and volume, ports only on loopback. `RehearsalStack` writes that model to a private
temporary file and runs it; `remove()` takes everything down (containers, network, volume) and is
what the step runner's cleanup calls, also after Ctrl-C.
"""

from __future__ import annotations

import copy
import json
import os
import re
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from migtool.compose import ComposeProject
from migtool.errors import ConfigError, EnvironmentProblem

PROJECT_PREFIX = "migtool-rehearse-"
COPY_SERVICE = "postgres"
OLD_APP = "app-old"
NEW_APP = "app-new"
MIGRATE = "migrate"


@dataclass(frozen=True)
class StackNames:
    postgres: str  # production's service names
    app: str
    migrate: str


def _ports_on_loopback(ports: list[Any] | None) -> list[str]:
    """Each published container port again, on an ephemeral loopback port (never a fixed one)."""
    out = []
    for p in ports or []:
        target = p.get("target") if isinstance(p, dict) else str(p).rsplit(":", 1)[-1].split("/")[0]
        if target:
            out.append(f"127.0.0.1::{target}")
    return out


def _repoint_url(url: str, host: str) -> str:
    """DATABASE_URL with its host:port replaced by the copy's service (user, password, db kept)."""
    parts = urlsplit(url)
    if not parts.netloc:
        return url
    userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{userinfo}{host}:5432"))


def _app_service(svc: dict[str, Any], image: str, extra_env: dict[str, str]) -> dict[str, Any]:
    out = copy.deepcopy(svc)
    out["image"] = image
    out.pop("build", None)
    out.pop("container_name", None)
    out.pop("profiles", None)
    out["restart"] = "no"
    env = dict(out.get("environment") or {})
    if "DATABASE_URL" in env and env["DATABASE_URL"]:
        env["DATABASE_URL"] = _repoint_url(env["DATABASE_URL"], COPY_SERVICE)
    env.update(extra_env)
    out["environment"] = env
    out["depends_on"] = {COPY_SERVICE: {"condition": "service_healthy"}}
    out["ports"] = _ports_on_loopback(out.get("ports"))
    # Named volumes are production's data; bind mounts (a migrations folder, say) are kept.
    out["volumes"] = [v for v in out.get("volumes") or [] if isinstance(v, dict) and v.get("type") == "bind"]
    out["networks"] = ["default"]
    return out


def copy_model(prod: dict[str, Any], names: StackNames, *, new_image: str | None,
               old_env: dict[str, str] | None = None, new_env: dict[str, str] | None = None) -> dict[str, Any]:
    """The rehearsal's compose model (see module doc). Raises ConfigError naming a missing service."""
    services = prod.get("services") or {}
    for role, name in (("postgres_service", names.postgres), ("app_services", names.app),
                       ("migrate_service", names.migrate)):
        if name not in services:
            raise ConfigError(f"the compose file has no service '{name}' (config {role})",
                              hint="rehearse needs the postgres, app and migrate services of your compose file")
    pg = copy.deepcopy(services[names.postgres])
    pg.pop("container_name", None)
    pg.pop("profiles", None)
    pg["restart"] = "no"
    pg["volumes"] = [{"type": "volume", "source": "copydata", "target": "/var/lib/postgresql/data"}]
    pg["ports"] = ["127.0.0.1::5432"]
    pg["networks"] = ["default"]
    old_image = services[names.app].get("image")
    migrate_svc = services[names.migrate]
    image = new_image or migrate_svc.get("image") or old_image
    if not old_image or not image:
        raise ConfigError("rehearse needs the app and migrate services to name an image (not only `build:`)",
                          hint="build the images first and set `image:` in the compose file, or pass --new-image")
    migrate = _app_service(migrate_svc, image, {})
    migrate["ports"] = []
    migrate["profiles"] = ["migrate"]
    model = {
        "services": {
            COPY_SERVICE: pg,
            OLD_APP: _app_service(services[names.app], old_image, old_env or {}),
            NEW_APP: {**_app_service(services[names.app], image, new_env or {}), "profiles": ["new"]},
            MIGRATE: migrate,
        },
        "volumes": {"copydata": {}},
        "networks": {"default": {}},
    }
    return model


_COLUMNS = re.compile(r"\{\{columns\s+([^}]+?)\}\}")


def fill_columns(env: dict[str, str], columns_of) -> dict[str, str]:
    """`{{columns "User"}}` in an app environment value -> the table's columns, comma-separated, as the
    Prisma Client generated for that schema would name them (columns_of(table) -> list[str])."""
    def fill(value: str) -> str:
        return _COLUMNS.sub(lambda m: ",".join(columns_of(m.group(1).strip().strip('"'))), value)

    return {k: fill(v) for k, v in env.items()}


class RehearsalStack:
    """A running rehearsal project; `remove()` is idempotent and leaves nothing behind."""

    def __init__(self, model: dict[str, Any], env: dict[str, str] | None = None):
        self.name = PROJECT_PREFIX + secrets.token_hex(4)
        self._dir = Path(tempfile.mkdtemp(prefix="migtool-rehearse-"))
        os.chmod(self._dir, 0o700)
        self.file = self._dir / "compose.json"
        self.rewrite(model)
        self.project = ComposeProject([self.file], self.name, env=env)
        self._removed = False

    def rewrite(self, model: dict[str, Any]) -> None:
        """(Re)write the model; it holds production's credentials: a private file, replaced atomically."""
        tmp = self._dir / "compose.json.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"name": self.name, **model}, f)
        os.replace(tmp, self.file)

    def up(self, services: list[str], timeout: int = 180) -> None:
        self.project._capture("up", "-d", "--wait", "--no-build", *services, what="start the rehearsal copy",
                              timeout=timeout)

    def port(self, service: str, container_port: int) -> int:
        out = self.project._capture("port", service, str(container_port), what="docker compose port")
        return int(out.strip().splitlines()[-1].rsplit(":", 1)[1])

    def stop(self, services: list[str]) -> None:
        self.project._capture("rm", "-f", "-s", *services, what="stop a rehearsal service", timeout=120)

    def log_tail(self, service: str, lines: int = 15) -> str:
        """The service's last log lines, for a failure message (the copy is gone right after)."""
        try:
            return self.project._capture("logs", "--no-color", "--no-log-prefix", "--tail", str(lines), service,
                                         what="docker compose logs", timeout=60).strip()
        except Exception as exc:  # diagnostics must never hide the failure they explain
            return f"(no logs: {exc})"

    def remove(self) -> None:
        if self._removed:
            return
        try:
            self.project._capture("--profile", "*", "down", "-v", "--remove-orphans", "-t", "5",
                                  what="remove the rehearsal copy", timeout=180)
        finally:
            self._removed = True
            shutil.rmtree(self._dir, ignore_errors=True)

    def leftovers(self) -> list[str]:
        """Containers, volumes and networks of this project still present (for the tests and doctor)."""
        from plumbum import local

        docker = local["docker"]
        found = []
        for kind, args in (("container", ["ps", "-a"]), ("volume", ["volume", "ls"]),
                           ("network", ["network", "ls"])):
            out = docker[(*args, "--filter", f"label=com.docker.compose.project={self.name}",
                          "--format", "{{.Names}}" if kind == "container" else "{{.Name}}")]()
            found += [f"{kind} {n}" for n in out.split()]
        return found


def wait_for(predicate, timeout: float, what: str, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception as exc:  # keep trying until the deadline; report the last reason
            last = exc
        time.sleep(interval)
    raise EnvironmentProblem(f"{what} did not happen within {timeout:.0f} s" + (f": {last}" if last else ""))
