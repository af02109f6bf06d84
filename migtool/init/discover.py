"""Look at a project folder and guess migtool's settings, each with the reason (the pure core of init).

Only reads files under `root`; never runs docker, never reads a password into the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from migtool.init import compose_scan as cs
from migtool.init.guess import Guess
from migtool.init.prisma_scan import find_migrations_dir, package_scripts, walk

MIGRATE_NAMES = ("migrate", "migrations", "migrator", "prisma-migrate", "db-migrate")


@dataclass
class Discovery:
    root: Path
    target: Guess
    compose_files: Guess | None
    postgres_service: Guess | None
    migrate_service: Guess | None
    app_services: Guess | None
    migrations_dir: Guess
    database_url: list[str] = field(default_factory=list)  # where DATABASE_URL comes from, one line each
    migrate_missing: bool = False
    migrate_snippet: str | None = None
    services: list[str] = field(default_factory=list)

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix() or "."
        except ValueError:
            return str(path)


def discover(root: Path) -> Discovery:
    root = root.resolve()
    migrations = find_migrations_dir(root)
    scripts = package_scripts(root)
    files = cs.find_compose_files(root)
    if not files:
        return Discovery(
            root=root,
            target=Guess("direct", "no compose file (compose.yaml, docker-compose.yml, deploy/...) in this "
                                   "folder: migtool reaches PostgreSQL with DATABASE_URL", sure=False),
            compose_files=None, postgres_service=None, migrate_service=None, app_services=None,
            migrations_dir=migrations, database_url=_env_file_origins(root, []),
        )
    main = files[0]
    chosen = [main]
    why = f"found {_rel(main, root)}"
    if len(files) > 1:
        why += f" (also found {', '.join(_rel(f, root) for f in files[1:])}: pick one with compose_file)"
    if override := cs.override_for(main):
        chosen.append(override)
        why += f", with its override file {_rel(override, root)} (docker compose -f skips it otherwise)"
    compose_guess = Guess(chosen, why, sure=len(files) == 1)
    services = cs.load_services(chosen)

    postgres = _postgres(services)
    pg_name = postgres.value if postgres else None
    migrate = _migrate(services, pg_name, scripts)
    apps = _apps(services, pg_name, migrate.value if migrate else None)
    missing = migrate is None
    target = (Guess("compose", f"{_rel(main, root)} has a postgres service: migtool runs pg_dump and psql "
                               "inside it, so client and server versions match")
              if postgres else
              Guess("direct", f"no service in {_rel(main, root)} looks like PostgreSQL (no postgres image, no "
                              "pg_isready healthcheck): migtool reaches it with DATABASE_URL", sure=False))
    discovery = Discovery(
        root=root, target=target, compose_files=compose_guess, postgres_service=postgres,
        migrate_service=migrate or Guess("migrate", "no service runs `prisma migrate deploy`: add the one "
                                                    "printed below under this name", sure=False),
        app_services=apps, migrations_dir=migrations, migrate_missing=missing, services=sorted(services),
    )
    used = [s for s in (migrate.value if migrate else None, *(apps.value if apps else ())) if s]
    discovery.database_url = _compose_origins(root, main, services, used) + _env_file_origins(root, used)
    if missing and postgres:
        from migtool.init.snippet import migrate_service_yaml

        app = services[apps.value[0]] if apps else None
        discovery.migrate_snippet = migrate_service_yaml(app, services[pg_name], root, scripts)
    return discovery


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _postgres(services: dict[str, cs.Service]) -> Guess | None:
    scored = [(len(ev), name, ev) for name, s in services.items() if (ev := cs.postgres_evidence(s))]
    if not scored:
        return None
    scored.sort(key=lambda t: (-t[0], t[1]))
    _, name, evidence = scored[0]
    others = tuple(f"{n} also looks like PostgreSQL ({', '.join(ev)})" for _, n, ev in scored[1:])
    return Guess(name, f"service `{name}` has {' and '.join(evidence)}", sure=len(scored) == 1, notes=others)


def _migrate(services: dict[str, cs.Service], postgres: str | None, scripts: dict[str, str]) -> Guess | None:
    rest = {n: s for n, s in services.items() if n != postgres}
    for name, service in rest.items():
        if how := cs.runs_migrate_deploy(service, scripts):
            return Guess(name, f"service `{name}`: {how}")
    app_images = {s.image for s in rest.values() if not s.profiles and s.image}
    for name, service in rest.items():
        if any("migrat" in p for p in service.profiles) and (service.image in app_images or service.has_build):
            return Guess(name, f"service `{name}` has the {'/'.join(service.profiles)} profile and the app's image",
                         sure=False)
    for name in MIGRATE_NAMES:
        if name in rest:
            return Guess(name, f"a service is named `{name}` (its command does not say `migrate deploy`: check it)",
                         sure=False)
    return None


def _apps(services: dict[str, cs.Service], postgres: str | None, migrate: str | None) -> Guess | None:
    rest = {n: s for n, s in services.items() if n not in (postgres, migrate) and not s.profiles}
    users = {n: why for n, s in rest.items() if (why := cs.uses_database(s, postgres))}
    if users:
        names = sorted(users)
        why = "; ".join(f"`{n}` {' and '.join(users[n])}" for n in names)
        return Guess(names, f"long-running services that use the database: {why}")
    if migrate and migrate in services:
        same = sorted(n for n, s in rest.items() if s.image and s.image == services[migrate].image)
        if same:
            return Guess(same, f"same image as `{migrate}`", sure=False)
    return None


def _compose_origins(root: Path, main: Path, services: dict[str, cs.Service], used: list[str]) -> list[str]:
    lines = []
    dotenv = main.parent / ".env"
    dotenv_keys = cs.read_env_file(dotenv)
    for name in used:
        service = services[name]
        value = service.environment.get("DATABASE_URL")
        if value is not None:
            variables = cs.variables_in(value)
            line = f"`{name}`: DATABASE_URL is set in {_rel(main, root)} (services.{name}.environment)"
            if variables:
                where = [v for v in variables if v in dotenv_keys]
                line += f", built from {', '.join(variables)}"
                if where:
                    line += f"; {', '.join(where)} come from {_rel(dotenv, root)}"
                if unset := [v for v in variables if v not in dotenv_keys]:
                    example = main.parent / ".env.example"
                    if example.is_file() and all(v in cs.read_env_file(example) for v in unset):
                        line += f"; define {', '.join(unset)} in {_rel(dotenv, root)} (copy {_rel(example, root)})"
                    else:
                        line += f"; {', '.join(unset)} must be exported in the shell (not in {_rel(dotenv, root)})"
            elif "@" in value:
                line += " as a literal URL (a password in the compose file: move it to .env)"
            lines.append(line)
            continue
        for env_file in service.env_files:
            path = main.parent / env_file
            if "DATABASE_URL" in cs.read_env_file(path):
                lines.append(f"`{name}`: DATABASE_URL comes from its env_file {_rel(path, root)}")
                break
        else:
            lines.append(f"`{name}`: no DATABASE_URL in its environment or env_file (the image may set it)")
    return lines


def _env_file_origins(root: Path, used: list[str]) -> list[str]:
    lines = []
    for path in walk(root, {".env"}):
        if "DATABASE_URL" in cs.read_env_file(path):
            lines.append(f"{_rel(path, root)} defines DATABASE_URL (read by Prisma on this machine; migtool's "
                         "direct target reads DATABASE_URL from the environment, never from a file)")
    for schema in walk(root, {"schema.prisma"}):
        text = schema.read_text(encoding="utf-8", errors="replace")
        if 'env("DATABASE_URL")' in text.replace(" ", ""):
            lines.append(f"{_rel(schema, root)} reads env(\"DATABASE_URL\")")
    return lines
