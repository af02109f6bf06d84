"""Read compose files as plain YAML and classify their services: postgres, migrate, app.

We read the files ourselves instead of asking `docker compose config`: init must work before
docker is installed, and must not need the variables (passwords) that compose would demand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migtool.errors import ConfigError

COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_NAMES = ("compose.override.yaml", "compose.override.yml",
                  "docker-compose.override.yaml", "docker-compose.override.yml")
# Where projects keep their compose file, in the order we prefer them.
COMPOSE_DIRS = (".", "deploy", "docker", "ops", "infra", "compose", "deployment")

_POSTGRES_IMAGE = re.compile(r"postgres|postgis|pgvector|timescaledb")
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_DEFAULTED = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?[-=]([^}]*)\}")
_PACKAGE_RUN = re.compile(r"^(?:pnpm|yarn|npm|bun)(?:\s+run)?\s+(\S+)")


@dataclass
class Service:
    name: str
    spec: dict[str, Any]
    env_values: dict[str, str] = field(default_factory=dict)  # compose's .env, for ${VAR} in images

    @property
    def image(self) -> str:
        return str(self.spec.get("image") or "")

    @property
    def resolved_image(self) -> str:
        """The image with ${VAR:-default} replaced by the .env value or the default."""
        def sub(match: re.Match) -> str:
            var = _VARIABLE.match(match.group(0)).group(1)
            return self.env_values.get(var, match.group(1))

        return _DEFAULTED.sub(sub, self.image)

    @property
    def has_build(self) -> bool:
        return "build" in self.spec

    @property
    def profiles(self) -> list[str]:
        return [str(p) for p in self.spec.get("profiles") or []]

    @property
    def command(self) -> str:
        return _text(self.spec.get("command")) + " " + _text(self.spec.get("entrypoint"))

    @property
    def healthcheck(self) -> str:
        check = self.spec.get("healthcheck")
        return _text(check.get("test")) if isinstance(check, dict) else ""

    @property
    def environment(self) -> dict[str, str]:
        env = self.spec.get("environment") or {}
        if isinstance(env, list):
            out = {}
            for item in env:
                key, _, value = str(item).partition("=")
                out[key] = value
            return out
        if not isinstance(env, dict):  # a malformed file: compose would refuse it; we guess without it
            return {}
        return {str(k): "" if v is None else str(v) for k, v in env.items()}

    @property
    def depends_on(self) -> list[str]:
        deps = self.spec.get("depends_on") or []
        return list(deps) if isinstance(deps, list | dict) else []

    @property
    def env_files(self) -> list[str]:
        files = self.spec.get("env_file") or []
        if isinstance(files, str | dict):
            files = [files]
        return [f["path"] if isinstance(f, dict) else str(f) for f in files]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def variables_in(text: str) -> list[str]:
    seen: list[str] = []
    for name in _VARIABLE.findall(text):
        if name not in seen:
            seen.append(name)
    return seen


def find_compose_files(root: Path) -> list[Path]:
    """The main compose file of each place we look, best first, with its override file after it."""
    found = []
    for sub in COMPOSE_DIRS:
        folder = root / sub
        for name in COMPOSE_NAMES:
            if (folder / name).is_file():
                found.append(folder / name)
                break  # docker compose itself takes only the first of these names per folder
    return found


def override_for(compose_file: Path) -> Path | None:
    for name in OVERRIDE_NAMES:
        candidate = compose_file.parent / name
        if candidate.is_file():
            return candidate
    return None


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a dotenv file (values are only used to resolve images, never shown)."""
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return values
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("export "):
            line = line[len("export "):]
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip("'\"")
    return values


def load_services(files: list[Path]) -> dict[str, Service]:
    """Services of the files merged in order (a later file's keys win, as with `-f a -f b`)."""
    import yaml

    env_values = read_env_file(files[0].parent / ".env") if files else {}
    merged: dict[str, dict[str, Any]] = {}
    for path in files:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read compose file {path}: {exc}",
                              hint="fix the file, or run `migtool init` where the right compose file is") from None
        services = data.get("services") if isinstance(data, dict) else None
        if services is not None and not isinstance(services, dict):
            raise ConfigError(f"compose file {path}: `services` must be a mapping of service names, "
                              f"not a {type(services).__name__}",
                              hint="fix the file, or run `migtool init` where the right compose file is")
        for name, spec in (services or {}).items():
            if isinstance(spec, dict):
                merged.setdefault(str(name), {}).update(spec)
    return {name: Service(name, spec, env_values) for name, spec in merged.items()}


# ---------------------------------------------------------------- classification


def postgres_evidence(service: Service) -> list[str]:
    """Why a service looks like PostgreSQL (empty: it does not)."""
    why = []
    image = service.resolved_image
    repo = image.split("@")[0].rsplit(":", 1)[0] if image else ""
    if repo and _POSTGRES_IMAGE.search(repo.rsplit("/", 1)[-1]):
        why.append(f"image {image}")
    elif _POSTGRES_IMAGE.search(service.image):
        why.append(f"image {service.image}")
    if "pg_isready" in service.healthcheck:
        why.append("a pg_isready healthcheck")
    if any(k.startswith("POSTGRES_") for k in service.environment):
        why.append("POSTGRES_* variables")
    return why


def runs_migrate_deploy(service: Service, package_scripts: dict[str, str]) -> str | None:
    """How a service's command applies Prisma migrations, or None."""
    command = service.command.strip()
    if "migrate deploy" in command:
        return f"its command runs `{command}`"
    match = _PACKAGE_RUN.match(command)
    if match and "migrate deploy" in package_scripts.get(match.group(1), ""):
        return f"its command `{command}` runs the package script `{package_scripts[match.group(1)]}`"
    return None


def uses_database(service: Service, postgres: str | None) -> list[str]:
    why = []
    if "DATABASE_URL" in service.environment:
        why.append("sets DATABASE_URL")
    if postgres and postgres in service.depends_on:
        why.append(f"depends on {postgres}")
    return why
