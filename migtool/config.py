"""One validated configuration object: defaults < config file < environment < flags.

Every key is declared once in KEYS with its parser, so unknown keys and bad values are rejected
with the key's name and where the value came from. No other module reads os.environ for settings.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

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


def mask_url(url: str) -> str:
    """postgresql://u:pw@h/db -> postgresql://u:***@h/db (also for key=value conninfo strings)."""
    parts = urlsplit(url)
    if parts.scheme and parts.netloc:
        if parts.password is None:
            return url
        host = parts.netloc.rsplit("@", 1)[1]
        user = parts.username or ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
    return re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", url)


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
    migrations_dir: Path = Path("prisma/migrations")
    backup_dir: Path = Path("backups")
    backup_format: str = "custom"
    backup_compression: str = "zstd"
    keep_last: int = 10
    keep_days: int = 30
    max_backup_age_minutes: int = 60
    lock_timeout: str = "5s"
    pg_version: int | None = None
    s3: S3Config | None = None
    config_path: Path | None = field(default=None, compare=False)

    def public_dict(self) -> dict[str, Any]:
        """The configuration as shown to people and in --json: never a password."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Secret):
                value = mask_url(value.reveal())
            elif isinstance(value, tuple):
                value = [str(v) for v in value]
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, S3Config):
                value = {k.name: getattr(value, k.name) for k in fields(value)}
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
    "migrations_dir": _path,
    "backup_dir": _path,
    "backup_format": _choice("custom", "sql"),
    "backup_compression": _choice("zstd", "gzip"),
    "keep_last": _int(1),
    "keep_days": _int(0),
    "max_backup_age_minutes": _int(1),
    "lock_timeout": _duration,
    "pg_version": _opt_int(10),
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
        parse = keys.get(key)
        if parse is None:
            known = ", ".join(sorted(keys) + ([] if where else ["s3"]))
            raise ConfigError(
                f"{layer.source}: unknown key '{name}'",
                hint=f"known keys: {known}",
            )
        try:
            values[key] = parse(raw, layer.base)
        except ValueError as exc:
            shown = "***" if key == "database_url" else repr(raw)
            raise ConfigError(f"{layer.source}: bad value for '{name}': expected {exc}, got {shown}") from None


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    if path.suffix == ".toml":
        import tomllib  # imported on use, like yaml: startup cost matters for `migtool lint`

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        data = data.get("tool", {}).get("migtool", {})
    else:
        import yaml  # only when there is a YAML file: keeps `migtool lint` startup small

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
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
        import tomllib

        try:
            if "migtool" in tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}):
                return pyproject
        except (OSError, tomllib.TOMLDecodeError):
            return None
    return None


def _env_layers(environ: Mapping[str, str], cwd: Path) -> list[_Layer]:
    layers = []
    for var, key in PLAIN_ENV.items():
        if environ.get(var):
            layers.append(_Layer(f"environment {var}", cwd, {key: environ[var]}))
    s3: dict[str, str] = {}
    for var, raw in sorted(environ.items()):
        if not var.startswith("MIGTOOL_") or var == "MIGTOOL_CONFIG":
            continue
        key = var[len("MIGTOOL_"):].lower()
        if key.startswith("s3_"):
            s3[key[3:]] = raw
            continue
        layers.append(_Layer(f"environment {var}", cwd, {key: raw}))
    if s3:
        layers.append(_Layer("environment MIGTOOL_S3_*", cwd, {"s3": s3}))
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

    defaults = Config()
    for key in ("compose_file", "migrations_dir", "backup_dir"):
        if key not in values:
            default = getattr(defaults, key)
            values[key] = tuple(base / p for p in default) if isinstance(default, tuple) else base / default
    config = replace(defaults, **values, s3=s3, config_path=path)
    if config.target == "direct" and config.database_url is None:
        # Not an error yet: commands that need the database say so when they connect.
        pass
    return config
