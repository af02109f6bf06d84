"""One validated configuration object: defaults < config file < environment < flags.

Every key is declared once in KEYS with its parser, so unknown keys and bad values are rejected
with the key's name and where the value came from. No other module reads os.environ for settings.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from migtool.errors import ConfigError

CONFIG_FILE_NAMES = ("migtool.yaml", "migtool.yml")


class Secret:
    """A string that never prints itself (repr, str, f-strings, JSON all show a mask)."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# The one masking function for every place a connection string can reach people: the config
# listing, --json, describe(), error messages, -v tracebacks and logs. It knows every form a
# password takes in a DATABASE_URL: URL user info, a `?password=` / `&password=` query parameter,
# a conninfo `password=...` (quoted values with spaces included) and `PGPASSWORD=...`.
_URL_USERINFO = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/?#@:]*:)(?P<pw>[^\s@]*)(?P<at>@)")
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&](?:ssl)?password=)(?P<pw>[^&#\s)'\"]*)", re.IGNORECASE)
_KV_PASSWORD = re.compile(
    r"(?P<head>\b(?:PG|ssl)?password\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*(?:'|$)|\"(?:[^\"\\]|\\.)*(?:\"|$)|[^\s'\"&]+)",
    re.IGNORECASE)


def mask_secrets(text: str, known: tuple[str, ...] | list[str] = ()) -> str:
    """Replace every password in `text` by ***; `known` are secret values to remove wherever they appear."""
    if not text:
        return text
    # The text's own passwords too, so the words of an unquoted `password=a b` go as well.
    known = [*known, *secret_values(text)]
    # Replaced wherever they appear; a very short value would also blank out innocent letters,
    # and the patterns below still mask it where it stands.
    for secret in sorted((k for k in known if len(k) >= 3), key=len, reverse=True):
        text = text.replace(secret, "***")
    # URL user info: the password is everything between the user's ':' and the last '@' of the netloc.
    text = _URL_USERINFO.sub(lambda m: f"{m['head']}***{m['at']}", _rightmost_at(text))
    text = _QUERY_PASSWORD.sub(lambda m: f"{m['head']}***", text)
    text = _KV_PASSWORD.sub(lambda m: f"{m['head']}***", text)
    return text


def _rightmost_at(text: str) -> str:
    """A raw '@' inside a URL password (should be %40, but people paste them): mask up to the last '@'
    of the netloc by encoding the earlier ones first, so the regex sees one user:password@host."""
    def fix(m: re.Match) -> str:
        netloc = m.group(2)
        if netloc.count("@") <= 1:
            return m.group(0)
        userinfo, host = netloc.rsplit("@", 1)
        return m.group(1) + userinfo.replace("@", "%40") + "@" + host
    return re.sub(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)([^\s/?#]*)", fix, text)


def secret_values(conninfo: str) -> list[str]:
    """The password(s) in a DATABASE_URL or conninfo string, raw and decoded, plus the words of a
    quoted one: what to remove from messages that quote a fragment (a libpq parse error does)."""
    from urllib.parse import unquote

    found: list[str] = []
    for rx in (_URL_USERINFO, _QUERY_PASSWORD, _KV_PASSWORD):
        for m in rx.finditer(_rightmost_at(conninfo or "")):
            raw = m["pw"]
            value = raw[1:] if raw[:1] in ("'", '"') else raw
            value = value[:-1] if value[-1:] in ("'", '"') and value[-1:] == raw[:1] else value
            found += [raw, value, unquote(value)]
            found += [w for w in re.split(r"[\s'\"]+", value) if len(w) >= 2]
    # An unquoted value with a space (invalid, and libpq quotes a fragment of it in its error):
    # everything up to the next `key=` is what the user meant as the password.
    for m in re.finditer(r"\bpassword\s*=\s*(.*?)(?=\s+\w+\s*=|$)", conninfo or "", re.IGNORECASE):
        found += [w for w in re.split(r"[\s'\"]+", m.group(1)) if len(w) >= 2]
    return [v for v in dict.fromkeys(found) if v]


def environment_secrets(environ: Mapping[str, str]) -> list[str]:
    """Passwords the process was given (DATABASE_URL, MIGTOOL_DATABASE_URL, PGPASSWORD): the last line
    of defence for error messages and tracebacks that quote a fragment no pattern recognises."""
    found: list[str] = []
    for var in ("DATABASE_URL", "MIGTOOL_DATABASE_URL"):
        found += secret_values(environ.get(var, ""))
    if environ.get("PGPASSWORD"):
        found.append(environ["PGPASSWORD"])
    return found


class MaskingFormatter(logging.Formatter):
    """Log lines (and the tracebacks they carry) with every password masked."""

    def __init__(self, fmt: str, known: list[str]):
        super().__init__(fmt)
        self.known = known

    def format(self, record: logging.LogRecord) -> str:
        return mask_secrets(super().format(record), self.known)


def mask_url(url: str) -> str:
    """postgresql://u:pw@h/db -> postgresql://u:***@h/db; the same as mask_secrets (kept for callers)."""
    return mask_secrets(url)


@dataclass(frozen=True)
class S3Config:
    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    sse: str | None = None  # "AES256" or "aws:kms"
    kms_key_id: str | None = None
    part_size_mb: int = 64  # multipart upload: files above this size go in parts of this size (S3 min 5)


@dataclass(frozen=True)
class NotifyConfig:
    """Where deploy-migrate reports its runs: a JSON POST to a webhook (its URL may hold a token)."""

    webhook_url: Secret | None = None  # None: only a heartbeat is configured
    on: str = "failure"  # failure or always
    timeout_seconds: int = 5
    # Scheduled backups (`backup --schedule`): pinged after every verified backup (healthchecks.io style).
    heartbeat_url: Secret | None = None


def mask_webhook(url: str) -> str:
    """https://hooks.example.com/services/T0/B0/xyz -> https://hooks.example.com/*** (paths hold tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}{':' + str(parts.port) if parts.port else ''}/***"


@dataclass(frozen=True)
class EncryptionConfig:
    """Client-side encryption at rest: every backup becomes an age file for these recipients
    (public keys). The identity (private key) that decrypts is never in the config: it is a file
    named by MIGTOOL_AGE_IDENTITY or --identity (Config.age_identity)."""

    recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class RehearseConfig:
    """`migtool rehearse`: the scenario the app is driven with, and extra app environment for the old
    and the new code (values may name `{{columns TABLE}}`, filled from the copy's schema)."""

    requests: tuple = ()  # of migtool.rehearse.scenario.Request
    old_env: tuple[tuple[str, str], ...] = ()
    new_env: tuple[tuple[str, str], ...] = ()
    app_port: int | None = None  # the app's container port (default: its first published one)


@dataclass(frozen=True)
class Config:
    target: str = "compose"
    compose_file: tuple[Path, ...] = (Path("deploy/docker-compose.yml"),)
    compose_project: str | None = None
    compose_env_file: Path | None = None
    postgres_service: str = "postgres"
    migrate_service: str = "migrate"
    app_services: tuple[str, ...] = ("app",)
    database_url: Secret | None = None
    db_user: str | None = None
    db_name: str | None = None
    schema: str | None = None  # Prisma's schema, case as created; None: the app's DATABASE_URL's, or public
    migrations_dir: Path = Path("prisma/migrations")
    backup_dir: Path = Path("backups")
    backup_format: str = "custom"
    backup_compression: str = "zstd"
    keep_last: int = 10
    keep_days: int = 30
    keep_daily: int = 0
    keep_weekly: int = 0
    keep_monthly: int = 0
    max_backup_age_minutes: int = 60
    lock_timeout: str = "5s"
    datacheck_timeout: str = "5s"  # per data check (migtool lint against the database, deploy-migrate)
    pg_version: int | None = None
    s3: S3Config | None = None
    # deploy-migrate
    deploy_backup: str = "dangerous"  # always, dangerous (a danger/warning finding) or never
    deploy_lock_timeout: int = 60  # seconds to wait for another run's deploy lock
    migrate_timeout: int | None = None  # seconds the migrate step may take; None: no limit
    migrate_command: tuple[str, ...] | None = None  # direct target: runs locally with DATABASE_URL set
    # rollback/resolve: `prisma migrate resolve` (in the migrate service, or locally for direct); None: native
    resolve_command: tuple[str, ...] | None = ("npx", "prisma", "migrate", "resolve")
    notify: NotifyConfig | None = None
    rehearse: RehearseConfig | None = None
    encryption: EncryptionConfig | None = None
    age_identity: Path | None = None  # MIGTOOL_AGE_IDENTITY: the age private key FILE (never its content)
    config_path: Path | None = field(default=None, compare=False)

    def public_dict(self) -> dict[str, Any]:
        """The configuration as shown to people and in --json: never a password."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Secret):
                value = mask_secrets(value.reveal())
            elif isinstance(value, tuple):
                value = [str(v) for v in value]
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, S3Config):
                value = {k.name: getattr(value, k.name) for k in fields(value)}
            elif isinstance(value, NotifyConfig):
                value = {"webhook_url": mask_webhook(value.webhook_url.reveal()) if value.webhook_url else None,
                         "on": value.on, "timeout_seconds": value.timeout_seconds,
                         "heartbeat_url": mask_webhook(value.heartbeat_url.reveal()) if value.heartbeat_url else None}
            elif isinstance(value, EncryptionConfig):
                value = {"recipients": list(value.recipients)}
            elif isinstance(value, RehearseConfig):
                value = {"requests": [{"method": r.method, "path": r.path, "body": r.body, "expect": list(r.expect)}
                                      for r in value.requests],
                         "old_env": dict(value.old_env), "new_env": dict(value.new_env), "app_port": value.app_port}
            out[f.name] = value
        return out


# ---------------------------------------------------------------- value parsers
# Each takes (raw value, base directory for relative paths) and returns the typed value or raises
# ValueError with a message that completes "expected ...".


def _str(raw: Any, base: Path) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("a non-empty string")
    return raw.strip()


def _opt_str(raw: Any, base: Path) -> str | None:
    if raw is None or raw == "":
        return None
    return _str(raw, base)


def _choice(*options: str) -> Callable[[Any, Path], str]:
    def parse(raw: Any, base: Path) -> str:
        if raw not in options:
            raise ValueError("one of " + ", ".join(options))
        return raw

    return parse


def _path(raw: Any, base: Path) -> Path:
    text = _str(raw, base)
    p = Path(text).expanduser()
    return p if p.is_absolute() else (base / p)


def _opt_path(raw: Any, base: Path) -> Path | None:
    if raw is None or raw == "":
        return None
    return _path(raw, base)


def _list(raw: Any, sep: str) -> list[str]:
    if isinstance(raw, str):
        items = [x.strip() for x in raw.split(sep)]
    elif isinstance(raw, list | tuple):
        items = [x.strip() if isinstance(x, str) else x for x in raw]
    else:
        raise ValueError("a list of strings")
    if not items or not all(isinstance(x, str) and x for x in items):
        raise ValueError("a non-empty list of non-empty strings")
    return items


def _path_list(raw: Any, base: Path) -> tuple[Path, ...]:
    # docker compose's own COMPOSE_FILE uses the path separator, so we accept the same.
    return tuple(_path(x, base) for x in _list(raw, os.pathsep))


def _name_list(raw: Any, base: Path) -> tuple[str, ...]:
    return tuple(_list(raw, ","))


def _int(minimum: int) -> Callable[[Any, Path], int]:
    def parse(raw: Any, base: Path) -> int:
        if isinstance(raw, bool):
            raise ValueError(f"a whole number >= {minimum}")
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ValueError(f"a whole number >= {minimum}") from None
        if value < minimum or (isinstance(raw, float) and raw != value):
            raise ValueError(f"a whole number >= {minimum}")
        return value

    return parse


def _opt_int(minimum: int) -> Callable[[Any, Path], int | None]:
    inner = _int(minimum)

    def parse(raw: Any, base: Path) -> int | None:
        return None if raw is None or raw == "" else inner(raw, base)

    return parse


def _secret_url(raw: Any, base: Path) -> Secret | None:
    if raw is None or raw == "":
        return None
    text = _str(raw, base)
    scheme = urlsplit(text).scheme
    if scheme not in ("postgres", "postgresql") and "=" not in text:
        raise ValueError("a postgresql:// URL")
    return Secret(text)


def _command(raw: Any, base: Path) -> tuple[str, ...] | None:
    """A command as a list of arguments, or one string split like a shell would (no shell runs it)."""
    import shlex

    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            items = shlex.split(raw)
        except ValueError:
            raise ValueError("a command line with balanced quotes") from None
        if not items:
            raise ValueError("a non-empty command")
        return tuple(items)
    return tuple(_list(raw, " "))


def _webhook_url(raw: Any, base: Path) -> Secret:
    text = _str(raw, base)
    if urlsplit(text).scheme not in ("http", "https") or not urlsplit(text).hostname:
        raise ValueError("an http:// or https:// URL")
    return Secret(text)


def _schema(raw: Any, base: Path) -> str | None:
    """A schema name exactly as Prisma created it: "MySchema" stays MySchema (never folded)."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or not raw.strip() or "\x00" in raw or len(raw) > 63:
        raise ValueError("a schema name (at most 63 characters, case kept)")
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':  # written as a quoted SQL identifier
        text = text[1:-1].replace('""', '"')
    return text


def _duration(raw: Any, base: Path) -> str:
    text = str(raw).strip()
    if not re.fullmatch(r"\d+(ms|s|min)?", text):
        raise ValueError("a PostgreSQL duration such as 5s, 500ms or 1min")
    return text


S3_KEYS: dict[str, Callable[[Any, Path], Any]] = {
    "bucket": _str,
    "prefix": lambda raw, base: "" if raw in (None, "") else _str(raw, base).strip("/"),
    "endpoint_url": _opt_str,
    "region": _opt_str,
    "sse": lambda raw, base: None if raw in (None, "") else _choice("AES256", "aws:kms")(raw, base),
    "kms_key_id": _opt_str,
    "part_size_mb": _int(5),
}

NOTIFY_KEYS: dict[str, Callable[[Any, Path], Any]] = {
    "webhook_url": _webhook_url,
    "on": _choice("failure", "always"),
    "timeout_seconds": _int(1),
    "heartbeat_url": _webhook_url,
}

def _rehearse(raw: Any, base: Path) -> RehearseConfig:
    if not isinstance(raw, dict):
        raise ValueError("a mapping with requests (and optionally old_env, new_env, app_port)")
    unknown = set(raw) - {"requests", "old_env", "new_env", "app_port"}
    if unknown:
        raise ValueError(f"only requests, old_env, new_env, app_port (not {', '.join(sorted(unknown))})")
    from migtool.rehearse.scenario import parse_scenario

    try:
        requests = parse_scenario(raw["requests"]) if "requests" in raw else ()
    except ConfigError as exc:
        raise ValueError(exc.message) from None
    envs = []
    for key in ("old_env", "new_env"):
        env = raw.get(key) or {}
        if not isinstance(env, dict) or not all(isinstance(k, str) for k in env):
            raise ValueError(f"{key} to be a mapping of variable names to values")
        envs.append(tuple((k, str(v)) for k, v in env.items()))
    port = raw.get("app_port")
    return RehearseConfig(requests, envs[0], envs[1], _opt_int(1)(port, base))


def _encryption(raw: Any, base: Path) -> EncryptionConfig | None:
    """`encryption: {recipients: [age1...]}`; MIGTOOL_AGE_RECIPIENTS gives them comma-separated."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, dict):
        unknown = set(raw) - {"recipients"}
        if unknown:
            raise ValueError(f"a mapping with only 'recipients' (not {', '.join(sorted(map(str, unknown)))})")
        raw = raw.get("recipients")
    from migtool.encryption.age_stream import validate_recipients

    try:
        return EncryptionConfig(validate_recipients(_list(raw, ",") if raw else []))
    except ConfigError as exc:
        raise ValueError(f"age recipients (age1... public keys): {exc.message}") from None


KEYS: dict[str, Callable[[Any, Path], Any]] = {
    "target": _choice("compose", "direct"),
    "compose_file": _path_list,
    "compose_project": _opt_str,
    "compose_env_file": _opt_path,
    "postgres_service": _str,
    "migrate_service": _str,
    "app_services": _name_list,
    "database_url": _secret_url,
    "db_user": _opt_str,
    "db_name": _opt_str,
    "schema": _schema,
    "migrations_dir": _path,
    "backup_dir": _path,
    "backup_format": _choice("custom", "sql"),
    "backup_compression": _choice("zstd", "gzip"),
    "keep_last": _int(1),
    "keep_days": _int(0),
    # grandfather-father-son: the newest backup of each of the last N days/weeks/months (0: off)
    "keep_daily": _int(0),
    "keep_weekly": _int(0),
    "keep_monthly": _int(0),
    "max_backup_age_minutes": _int(1),
    "lock_timeout": _duration,
    "datacheck_timeout": _duration,
    "pg_version": _opt_int(10),
    "deploy_backup": _choice("always", "dangerous", "never"),
    "deploy_lock_timeout": _int(0),
    "migrate_timeout": _opt_int(1),
    "migrate_command": _command,
    "resolve_command": _command,
    "rehearse": _rehearse,
    "encryption": _encryption,
    "age_identity": _opt_path,
}

# Variables our users already have from the seed's runbook; MIGTOOL_* wins over them.
PLAIN_ENV = {"DATABASE_URL": "database_url", "DB_USER": "db_user", "DB_NAME": "db_name"}


@dataclass
class _Layer:
    source: str  # for messages: "migtool.yaml", "environment MIGTOOL_TARGET", "--target"
    base: Path
    values: dict[str, Any]


def _apply(values: dict[str, Any], layer: _Layer, keys: Mapping[str, Callable], where: str = "") -> None:
    for key, raw in layer.values.items():
        name = f"{where}{key}"
        if key == "s3" and not where:
            if raw is None:
                values["s3"] = None
                continue
            if not isinstance(raw, dict):
                raise ConfigError(f"{layer.source}: key 's3' must be a mapping with at least 'bucket'")
            s3 = dict(values.get("s3") or {})
            values.setdefault("_s3_sources", []).append(layer.source)
            _apply(s3, _Layer(layer.source, layer.base, raw), S3_KEYS, where="s3.")
            values["s3"] = s3
            continue
        if key == "notify" and not where:
            if raw is None:
                values["notify"] = None
                continue
            if not isinstance(raw, dict):
                raise ConfigError(f"{layer.source}: key 'notify' must be a mapping with at least 'webhook_url'")
            notify = dict(values.get("notify") or {})
            raw = {("on" if k is True else k): v for k, v in raw.items()}  # YAML 1.1 reads a bare `on:` as true
            _apply(notify, _Layer(layer.source, layer.base, raw), NOTIFY_KEYS, where="notify.")
            values["notify"] = notify
            continue
        parse = keys.get(key)
        if parse is None:
            known = ", ".join(sorted(keys) + ([] if where else ["notify", "s3"]))
            raise ConfigError(
                f"{layer.source}: unknown key '{name}'",
                hint=f"known keys: {known}",
            )
        try:
            values[key] = parse(raw, layer.base)
        except ValueError as exc:
            shown = "***" if key in ("database_url", "webhook_url", "heartbeat_url") else repr(raw)
            raise ConfigError(f"{layer.source}: bad value for '{name}': expected {exc}, got {shown}") from None


_FIX_FILE = "fix the file (or move it away) and run `migtool config` to check"


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{path}:{line}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                          hint="save the file as UTF-8") from None


def _load_yaml(text: str, path: Path) -> Any:
    import yaml  # only when there is a YAML file: keeps `migtool lint` startup small

    class StrictLoader(yaml.SafeLoader):
        """safe_load that refuses a key given twice (the last one silently winning hides mistakes)."""

    def mapping(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(f"{path}:{line}: key '{key}' is given twice (first on line {seen[key]})",
                                  hint="keep one of them")
            seen[key] = line
        return loader.construct_mapping(node, deep=deep)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        what = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: not valid YAML: {what}", hint=_FIX_FILE) from None


def _load_toml(text: str, path: Path) -> dict[str, Any]:
    import tomllib  # imported on use, like yaml: startup cost matters for `migtool lint`

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        where = f"{path}:{m.group(1)}" if m else str(path)
        raise ConfigError(f"{where}: not valid TOML: {str(exc)}", hint=_FIX_FILE) from None


def _read_file(path: Path) -> dict[str, Any]:
    text = _read_text(path)
    if path.suffix == ".toml":
        data = _load_toml(text, path).get("tool", {}).get("migtool", {})
    else:
        data = _load_yaml(text, path)
        if data is None:
            data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys to values")
    return data


def find_config_file(cwd: Path) -> Path | None:
    for name in CONFIG_FILE_NAMES:
        if (cwd / name).is_file():
            return cwd / name
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file():
        # A pyproject.toml that does not parse may hold a [tool.migtool] table we cannot see:
        # using the defaults (retention included) instead would be a silent surprise, so the
        # parse error is reported (by _read_file) naming the file and line.
        if "migtool" in _load_toml(_read_text(pyproject), pyproject).get("tool", {}):
            return pyproject
    return None


def _env_layers(environ: Mapping[str, str], cwd: Path) -> list[_Layer]:
    layers = []
    for var, key in PLAIN_ENV.items():
        if environ.get(var):
            layers.append(_Layer(f"environment {var}", cwd, {key: environ[var]}))
    s3: dict[str, str] = {}
    notify: dict[str, str] = {}
    for var, raw in sorted(environ.items()):
        if not var.startswith("MIGTOOL_") or var == "MIGTOOL_CONFIG":
            continue
        key = var[len("MIGTOOL_"):].lower()
        if key.startswith("s3_"):
            s3[key[3:]] = raw
            continue
        if key.startswith("notify_"):
            notify[key[len("notify_"):]] = raw
            continue
        if key == "age_recipients":  # shared with scripts/backup/postgres-backup.sh
            key = "encryption"
        layers.append(_Layer(f"environment {var}", cwd, {key: raw}))
    if s3:
        layers.append(_Layer("environment MIGTOOL_S3_*", cwd, {"s3": s3}))
    if notify:
        layers.append(_Layer("environment MIGTOOL_NOTIFY_*", cwd, {"notify": notify}))
    return layers


def load_config(
    config_path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
    cwd: Path | None = None,
) -> Config:
    """Build the configuration. `flags` holds only the options the user actually gave."""
    environ = os.environ if environ is None else environ
    cwd = (cwd or Path.cwd()).resolve()
    if config_path is None and environ.get("MIGTOOL_CONFIG"):
        config_path = environ["MIGTOOL_CONFIG"]
    if config_path is not None:
        path = Path(config_path).expanduser()
        path = path if path.is_absolute() else cwd / path
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}", hint="check --config or MIGTOOL_CONFIG")
    else:
        path = find_config_file(cwd)

    values: dict[str, Any] = {}
    layers: list[_Layer] = []
    if path is not None:
        layers.append(_Layer(path.name, path.parent, _read_file(path)))
    layers.extend(_env_layers(environ, cwd))
    if flags:
        for key, raw in flags.items():
            layers.append(_Layer(f"--{key.replace('_', '-')}", cwd, {key: raw}))
    # Defaults are relative to where the config file lives (the project root), else the cwd.
    base = path.parent if path is not None else cwd
    for layer in layers:
        _apply(values, layer, KEYS)

    s3_values = values.pop("s3", None)
    s3_sources = values.pop("_s3_sources", [])
    s3 = None
    if s3_values:
        if not s3_values.get("bucket"):
            raise ConfigError(f"{', '.join(s3_sources)}: 's3.bucket' is required when s3 is configured")
        s3 = S3Config(**s3_values)
    notify_values = values.pop("notify", None)
    notify = None
    if notify_values:
        if not notify_values.get("webhook_url") and not notify_values.get("heartbeat_url"):
            raise ConfigError("'notify.webhook_url' (or 'notify.heartbeat_url') is required when notify is configured")
        notify = NotifyConfig(**notify_values)

    defaults = Config()
    for key in ("compose_file", "migrations_dir", "backup_dir"):
        if key not in values:
            default = getattr(defaults, key)
            values[key] = tuple(base / p for p in default) if isinstance(default, tuple) else base / default
    config = replace(defaults, **values, s3=s3, notify=notify, config_path=path)
    if config.target == "direct" and config.database_url is None:
        # Not an error yet: commands that need the database say so when they connect.
        pass
    return config
