"""The connection a backfill runs on, for either target.

A backfill is hundreds of short transactions whose results steer the next one, so it needs a
connection of its own (psycopg). Through `docker compose exec` each batch would be a psql process,
or one long psql session whose interleaved output we would have to parse, and an exec cut short
leaves a batch's fate unknown. So for the compose target we connect to the postgres service's
published port, with the credentials the compose file gives the service; when the port is not
published we refuse and say how to publish it.
"""

from __future__ import annotations

from urllib.parse import quote

from migtool.config import Config, Secret
from migtool.database import DirectDatabase, compose_project, open_database
from migtool.errors import ConfigError

POSTGRES_PORT = 5432


def _service_env(model: dict, service: str) -> dict[str, str]:
    env = (model.get("services", {}).get(service) or {}).get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: str(v) for k, v in env.items() if v is not None}


def backfill_database(config: Config) -> DirectDatabase:
    if config.target == "direct":
        db = open_database(config)
        assert isinstance(db, DirectDatabase)
        return db
    project = compose_project(config)
    service = config.postgres_service
    published = project.published_port(service, POSTGRES_PORT)
    if published is None:
        raise ConfigError(
            f"backfill needs a connection of its own, and compose service {service} publishes no port",
            hint=f"publish it (ports: [\"127.0.0.1::{POSTGRES_PORT}\"] in an override file), or run with "
                 "--target direct and DATABASE_URL=postgresql://USER@HOST:PORT/DB")
    env = _service_env(project.config(), service)
    user = config.db_user or env.get("POSTGRES_USER") or "postgres"
    name = config.db_name or env.get("POSTGRES_DB") or user
    password = env.get("POSTGRES_PASSWORD")
    if not password:
        raise ConfigError(
            f"compose service {service} has no POSTGRES_PASSWORD in its environment to connect with",
            hint="run with --target direct and DATABASE_URL (password via PGPASSWORD or ~/.pgpass)")
    host, port = published
    url = f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{quote(name, safe='')}"
    return DirectDatabase(Secret(url))
