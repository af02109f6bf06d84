"""How migtool reaches PostgreSQL: through the compose postgres service, or directly by DATABASE_URL.

Both offer the same narrow interface:
- `query(sql)`: rows as dicts of JSON values. Both targets wrap the query in json_agg, so a
  timestamp or a NULL reads the same whichever way the database was reached.
- `execute(sql)`: run statements, no result.
- `tool(argv, ...)`: start psql/pg_dump/pg_restore with raw byte streams, connected to the database.
  The compose target runs the server's own binaries inside the service (client and server versions
  match); the direct target runs local binaries with the connection in PG* environment variables,
  so the password never reaches an argv.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from migtool.compose import ComposeProject
from migtool.config import Config, Secret, mask_secrets, secret_values
from migtool.errors import ConfigError, EnvironmentProblem, MigtoolError

PG_TOOLS = ("psql", "pg_dump", "pg_restore", "pg_isready", "createdb", "dropdb")
Stream = int | IO[bytes] | None

# libpq connection keywords -> environment variables (those we meet in DATABASE_URLs).
_LIBPQ_ENV = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "dbname": "PGDATABASE",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
    "options": "PGOPTIONS",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
}


# Query parameters Prisma's URLs carry that libpq does not know. `schema` matters: it is where
# Prisma keeps `_prisma_migrations`, so it becomes the search_path.
_PRISMA_ONLY = {"schema", "connection_limit", "pool_timeout", "pgbouncer", "socket_timeout",
                "statement_cache_size", "sslaccept", "sslidentity", "sslpassword"}


def url_schema(url: str) -> str | None:
    """The `schema` query parameter of a Prisma DATABASE_URL, exactly as written (case matters:
    Prisma creates it as a quoted identifier)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql") or not parts.query:
        return None
    return next((v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k == "schema" and v), None)


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def search_path_option(schema: str) -> str:
    """`-c search_path="MySchema"` for libpq's options: quoted so the server keeps the case; the
    server splits options at spaces, so those (and backslashes) are escaped."""
    value = quote_identifier(schema).replace("\\", "\\\\").replace(" ", "\\ ")
    return f"-c search_path={value}"


def connection_params(url: str, dbname: str | None = None) -> dict[str, str]:
    """libpq keyword parameters for a DATABASE_URL, Prisma's dialect included."""
    parts = urlsplit(url)
    schema = url_schema(url)
    if parts.scheme in ("postgres", "postgresql") and parts.query:
        query = parse_qsl(parts.query, keep_blank_values=True)
        kept = [(k, v) for k, v in query if k not in _PRISMA_ONLY]
        # quote, not urlencode's default quote_plus: libpq reads '+' as a plus, not a space.
        url = urlunsplit(parts._replace(query=urlencode(kept, quote_via=quote)))
    try:
        params = {k: str(v) for k, v in conninfo_to_dict(url).items()}
    except psycopg.ProgrammingError as exc:
        # libpq quotes the fragment it choked on, which can be a piece of the password.
        shown = mask_secrets(str(exc).strip(), known=secret_values(url))
        raise ConfigError(f"DATABASE_URL is not a valid connection string: {shown}",
                          hint="use postgresql://USER:PASSWORD@HOST:PORT/DB, or key=value pairs with "
                               "values that contain spaces in single quotes (password='a b')") from None
    if dbname:
        params["dbname"] = dbname
    if schema:
        if "\x00" in schema:
            raise ConfigError("DATABASE_URL: the schema name contains a NUL byte")
        params["options"] = (params.get("options", "") + " " + search_path_option(schema)).strip()
    return params


def libpq_env(url: str, dbname: str | None = None) -> dict[str, str]:
    env = {}
    for key, value in connection_params(url, dbname).items():
        var = _LIBPQ_ENV.get(key)
        if var is None:
            raise ConfigError(f"DATABASE_URL parameter '{key}' is not supported by migtool")
        env[var] = value
    return env


def _wrap_json(sql: str) -> str:
    return f"SELECT coalesce(json_agg(t), '[]'::json)::text FROM ({sql.strip().rstrip(';')}) AS t"


def server_major(version_num: int) -> int:
    return version_num // 10000


def tool_major(version_output: str) -> int:
    """'pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)' -> 15"""
    m = re.search(r"\(PostgreSQL\)\s+(\d+)", version_output)
    if not m:
        raise EnvironmentProblem(f"cannot read a version from: {version_output.strip()!r}")
    return int(m.group(1))


class Database(Protocol):
    name: str
    user: str
    schema: str  # where Prisma keeps _prisma_migrations (case as created)

    def describe(self) -> str: ...
    def query(self, sql: str) -> list[dict[str, Any]]: ...
    def execute(self, sql: str) -> None: ...
    def server_version_num(self) -> int: ...
    def tool(self, argv: Sequence[str], *, stdin: Stream = None, stdout: Stream = None,
             stderr: Stream = subprocess.PIPE, connect: bool = True) -> subprocess.Popen: ...
    def with_database(self, name: str) -> Database: ...


# psql's words for "the server is not there"; callers add what else means that in their setting.
UNREACHABLE = ("could not connect", "connection refused", "no such file or directory", "is not running",
               "timeout expired")


def query_failure(db: Database, err: str, *, unreachable: tuple[str, ...],
                  silent: str = "no error output") -> MigtoolError:
    """The error for a failed psql run: EnvironmentProblem when its output names an unreachable phrase.
    silent stands in for the message when psql printed nothing."""
    text = err.strip().splitlines()[-1] if err.strip() else silent
    lowered = err.lower()
    if any(s in lowered for s in unreachable):
        return EnvironmentProblem(f"database not reachable ({db.describe()}): {text}",
                                  hint="start it and check with `migtool doctor`")
    return MigtoolError(f"query failed on {db.describe()}: {text}")


class ComposeDatabase:
    """The database inside the compose postgres service, reached with `docker compose exec -T`."""

    def __init__(self, project: ComposeProject, service: str, user: str, name: str, schema: str = "public"):
        self.project = project
        self.service = service
        self.user = user
        self.name = name
        self.schema = schema

    def describe(self) -> str:
        return f"database {self.name} in compose service {self.service}"

    def with_database(self, name: str) -> ComposeDatabase:
        return ComposeDatabase(self.project, self.service, self.user, name, self.schema)

    def tool(self, argv, *, stdin=None, stdout=None, stderr=subprocess.PIPE, connect=True):
        args = list(argv)
        if connect:
            args[1:1] = ["-U", self.user, "-d", self.name] if args[0] != "pg_isready" else ["-U", self.user]
        return self.project.exec_stream(self.service, args, stdin=stdin, stdout=stdout, stderr=stderr,
                                        env={"PGTZ": "UTC"})

    def _psql(self, sql: str) -> str:
        argv = ["psql", "-U", self.user, "-d", self.name, "-X", "-q", "-A", "-t",
                "-v", "ON_ERROR_STOP=1", "-f", "-"]
        res = self.project.exec(self.service, argv, input=sql.encode(), env={"PGTZ": "UTC"})
        if res.returncode != 0 and b"is not running" in res.stderr:
            raise EnvironmentProblem(f"database not reachable: compose service {self.service} is not running",
                                     hint=f"start it: {self.project.hint_command('up', '-d', '--wait', self.service)}")
        if res.returncode != 0:
            problem = compose_exec_problem(self, res.stderr.decode(errors="replace"))
            if problem is not None:
                raise problem
            raise query_failure(self, res.stderr.decode(errors="replace") + res.stdout.decode(errors="replace"),
                                unreachable=(*UNREACHABLE, "the database system is"))
        return res.stdout.decode()

    def query(self, sql: str) -> list[dict[str, Any]]:
        out = self._psql(_wrap_json(sql) + ";\n")
        return json.loads(out.strip() or "[]")

    def execute(self, sql: str) -> None:
        self._psql(sql)

    def server_version_num(self) -> int:
        return int(self.query("SELECT current_setting('server_version_num')::int AS v")[0]["v"])


class DirectDatabase:
    """A database reached from this machine by URL (psycopg for queries, local pg tools for dumps)."""

    def __init__(self, url: Secret, name: str | None = None, schema: str | None = None):
        self.url = url
        params = connection_params(url.reveal())
        self.user = str(params.get("user") or os.environ.get("PGUSER") or "postgres")
        self.name = name or str(params.get("dbname") or self.user)
        self.schema = schema or url_schema(url.reveal()) or "public"
        self._dbname_override = name

    def describe(self) -> str:
        shown = mask_secrets(self.url.reveal())
        return f"database {self.name} at {shown}" if self._dbname_override else shown

    def with_database(self, name: str) -> DirectDatabase:
        return DirectDatabase(self.url, name, self.schema)

    def connect(self, autocommit: bool = True) -> psycopg.Connection:
        params: dict[str, Any] = {"connect_timeout": "10"}
        params.update(connection_params(self.url.reveal(), self._dbname_override))
        try:
            conn = psycopg.connect(autocommit=autocommit, **params)
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise EnvironmentProblem(
                f"database not reachable ({self.describe()}): {first}",
                hint="start it, or check DATABASE_URL; then run `migtool doctor --target direct`",
            ) from None
        conn.execute("SET TimeZone = 'UTC'")
        return conn

    def query(self, sql: str) -> list[dict[str, Any]]:
        with self.connect() as conn:
            try:
                row = conn.execute(_wrap_json(sql)).fetchone()
            except psycopg.Error as exc:
                raise MigtoolError(f"query failed on {self.describe()}: {str(exc).strip()}") from None
        return json.loads(row[0])

    def execute(self, sql: str) -> None:
        with self.connect() as conn:
            try:
                conn.execute(sql)
            except psycopg.Error as exc:
                raise MigtoolError(f"statement failed on {self.describe()}: {str(exc).strip()}") from None

    def server_version_num(self) -> int:
        with self.connect() as conn:
            return int(conn.execute("SELECT current_setting('server_version_num')::int").fetchone()[0])

    def tool_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(libpq_env(self.url.reveal(), self._dbname_override))
        env["PGTZ"] = "UTC"
        return env

    def tool(self, argv, *, stdin=None, stdout=None, stderr=subprocess.PIPE, connect=True):
        args = list(argv)
        exe = local_tool_path(args[0])
        # pg_restore connects only when given -d; psql/pg_dump take the database from PGDATABASE.
        if connect and args[0] == "pg_restore":
            args[1:1] = ["-d", self.name]
        env = self.tool_env() if connect else None
        return subprocess.Popen([exe, *args[1:]], stdin=stdin, stdout=stdout, stderr=stderr, env=env)


def local_tool_path(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise EnvironmentProblem(
            f"`{name}` is not installed on this machine (needed for the direct target)",
            hint="install the PostgreSQL client (e.g. apt-get install postgresql-client)",
        )
    return found


def compose_exec_problem(db: ComposeDatabase, stderr: str) -> EnvironmentProblem | None:
    """The environment problem behind a failed `docker compose exec ... psql`, if it is one: docker
    down, or a database or role that does not exist in the service (db_name / db_user wrong)."""
    from migtool.compose import explain_docker_failure

    if "Cannot connect to the Docker daemon" in stderr or "error during connect" in stderr:
        return explain_docker_failure(stderr, f"cannot reach {db.describe()}")
    m = re.search(r'FATAL:\s+(database|role) "([^"]*)" does not exist', stderr)
    if m:
        key = "db_name" if m.group(1) == "database" else "db_user"
        return EnvironmentProblem(
            f"{db.describe()}: {m.group(1)} \"{m.group(2)}\" does not exist in compose service {db.service}",
            hint=f"set {key} in migtool.yaml (or MIGTOOL_{key.upper()}) to the service's POSTGRES_"
                 f"{'DB' if key == 'db_name' else 'USER'}, or unset it to read it from the compose file")
    return None


def _service_env(model: Mapping[str, Any], service: str) -> dict[str, str]:
    env = (model.get("services", {}).get(service) or {}).get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def schema_from_compose(model: Mapping[str, Any], services: Sequence[str]) -> str | None:
    """The `schema` of the first of `services` whose DATABASE_URL names one (the app's Prisma schema)."""
    for name in services:
        found = url_schema(_service_env(model, name).get("DATABASE_URL", ""))
        if found:
            return found
    return None


def _compose_credentials(project: ComposeProject, service: str,
                         model: Mapping[str, Any] | None = None) -> tuple[str, str]:
    model = project.config() if model is None else model
    svc = model.get("services", {}).get(service)
    if svc is None:
        raise ConfigError(
            f"service '{service}' is not defined in {project.describe()}",
            hint="set postgres_service in migtool.yaml to your database service's name",
        )
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    user = env.get("POSTGRES_USER") or "postgres"
    return user, env.get("POSTGRES_DB") or user


def compose_project(config: Config, env: Mapping[str, str] | None = None) -> ComposeProject:
    return ComposeProject(config.compose_file, config.compose_project, config.compose_env_file, env)


def open_database(config: Config) -> Database:
    """The configured database, whichever target."""
    if config.target == "direct":
        if config.database_url is None:
            raise ConfigError(
                "the direct target needs DATABASE_URL",
                hint="export DATABASE_URL=postgresql://USER@HOST:5432/DB (password via env or ~/.pgpass)",
            )
        return DirectDatabase(config.database_url, schema=getattr(config, "schema", None))
    project = compose_project(config)
    user, name, schema = config.db_user, config.db_name, getattr(config, "schema", None)
    if not user or not name or not schema:
        model = project.config()  # one `docker compose config` for all three
        if not user or not name:
            found_user, found_name = _compose_credentials(project, config.postgres_service, model)
            user, name = user or found_user, name or found_name
        if not schema:
            # The app's own DATABASE_URL says where Prisma keeps its table.
            schema = schema_from_compose(model, [config.migrate_service, *config.app_services]) or "public"
    return ComposeDatabase(project, config.postgres_service, user, name, schema)


def path_writable(path: Path) -> bool:
    probe = path
    while not probe.exists():
        probe = probe.parent
    return os.access(probe, os.W_OK)
