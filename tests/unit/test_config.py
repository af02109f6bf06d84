from pathlib import Path

import pytest

from migtool.config import Config, Secret, load_config, mask_url
from migtool.errors import ConfigError, ExitCode


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_are_relative_to_cwd_without_a_file(tmp_path):
    c = load_config(environ={}, cwd=tmp_path)
    assert c.target == "compose"
    assert c.compose_file == (tmp_path / "deploy/docker-compose.yml",)
    assert c.migrations_dir == tmp_path / "prisma/migrations"
    assert c.backup_dir == tmp_path / "backups"
    assert c.app_services == ("app",)
    assert c.config_path is None


def test_precedence_defaults_file_env_flags(tmp_path):
    write(tmp_path / "migtool.yaml", "target: direct\nbackup_dir: from-file\nkeep_last: 3\nmigrate_service: m1\n")
    env = {"MIGTOOL_BACKUP_DIR": "/env/backups", "MIGTOOL_KEEP_LAST": "5"}
    c = load_config(environ=env, flags={"keep_last": 7}, cwd=tmp_path)
    assert c.target == "direct"  # file beats default
    assert c.migrate_service == "m1"
    assert c.backup_dir == Path("/env/backups")  # env beats file
    assert c.keep_last == 7  # flag beats env
    assert c.config_path == tmp_path / "migtool.yaml"


def test_relative_paths_in_file_are_relative_to_the_file(tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    write(proj / "migtool.yaml", "migrations_dir: db/migrations\ncompose_file: [a.yml, b.yml]\n")
    other = tmp_path / "elsewhere"
    other.mkdir()
    c = load_config(config_path=proj / "migtool.yaml", environ={}, cwd=other)
    assert c.migrations_dir == proj / "db/migrations"
    assert c.compose_file == (proj / "a.yml", proj / "b.yml")
    assert c.backup_dir == proj / "backups"  # defaults follow the project root too


def test_pyproject_tool_section(tmp_path):
    write(tmp_path / "pyproject.toml", "[project]\nname='x'\n[tool.migtool]\ntarget = 'direct'\nkeep_days = 0\n")
    c = load_config(environ={}, cwd=tmp_path)
    assert c.target == "direct" and c.keep_days == 0
    assert c.config_path == tmp_path / "pyproject.toml"


def test_yaml_wins_over_pyproject(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.migtool]\ntarget = 'direct'\n")
    write(tmp_path / "migtool.yaml", "target: compose\n")
    assert load_config(environ={}, cwd=tmp_path).target == "compose"


def test_plain_env_vars_and_migtool_prefix_wins(tmp_path):
    env = {"DATABASE_URL": "postgresql://u:pw@h/db", "DB_USER": "alice", "DB_NAME": "shop",
           "MIGTOOL_DB_NAME": "shop2"}
    c = load_config(environ=env, cwd=tmp_path)
    assert c.database_url == Secret("postgresql://u:pw@h/db")
    assert c.db_user == "alice"
    assert c.db_name == "shop2"


def test_lists_from_env(tmp_path):
    c = load_config(environ={"MIGTOOL_APP_SERVICES": "web, worker", "MIGTOOL_COMPOSE_FILE": "a.yml:b.yml"},
                    cwd=tmp_path)
    assert c.app_services == ("web", "worker")
    assert c.compose_file == (tmp_path / "a.yml", tmp_path / "b.yml")


def test_s3_from_file_and_env(tmp_path):
    write(tmp_path / "migtool.yaml", "s3:\n  bucket: b1\n  prefix: /backups/\n  sse: AES256\n")
    c = load_config(environ={"MIGTOOL_S3_ENDPOINT_URL": "http://127.0.0.1:9000"}, cwd=tmp_path)
    assert c.s3.bucket == "b1" and c.s3.prefix == "backups" and c.s3.sse == "AES256"
    assert c.s3.endpoint_url == "http://127.0.0.1:9000"


@pytest.mark.parametrize(
    ("yaml_text", "fragment"),
    [
        ("tagret: direct\n", "unknown key 'tagret'"),
        ("target: docker\n", "bad value for 'target': expected one of compose, direct"),
        ("keep_last: 0\n", "bad value for 'keep_last'"),
        ("keep_last: many\n", "bad value for 'keep_last'"),
        ("keep_last: true\n", "bad value for 'keep_last'"),
        ("keep_days: -1\n", "bad value for 'keep_days'"),
        ("backup_format: zip\n", "bad value for 'backup_format'"),
        ("backup_compression: lz4\n", "bad value for 'backup_compression'"),
        ("app_services: []\n", "bad value for 'app_services'"),
        ("app_services: [1, 2]\n", "bad value for 'app_services'"),
        ("postgres_service: ''\n", "bad value for 'postgres_service'"),
        ("lock_timeout: soon\n", "bad value for 'lock_timeout'"),
        ("pg_version: 9\n", "bad value for 'pg_version'"),
        ("database_url: mysql://x\n", "bad value for 'database_url'"),
        ("s3: {prefix: x}\n", "'s3.bucket' is required"),
        ("s3: {bucket: b, colour: red}\n", "unknown key 's3.colour'"),
        ("s3: {bucket: b, sse: yes-please}\n", "bad value for 's3.sse'"),
        ("s3: bucket-name\n", "'s3' must be a mapping"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("target: [unclosed\n", "not valid YAML"),
    ],
)
def test_validation_errors_name_the_key_and_the_file(tmp_path, yaml_text, fragment):
    write(tmp_path / "migtool.yaml", yaml_text)
    with pytest.raises(ConfigError) as exc:
        load_config(environ={}, cwd=tmp_path)
    assert fragment in str(exc.value)
    assert "migtool.yaml" in str(exc.value)
    assert exc.value.exit_code == ExitCode.USAGE


def test_bad_env_value_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="environment MIGTOOL_TARGET: bad value for 'target'"):
        load_config(environ={"MIGTOOL_TARGET": "k8s"}, cwd=tmp_path)


def test_unknown_env_key_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="environment MIGTOOL_BACKUPDIR: unknown key 'backupdir'"):
        load_config(environ={"MIGTOOL_BACKUPDIR": "x"}, cwd=tmp_path)


def test_bad_flag_value_names_the_flag(tmp_path):
    with pytest.raises(ConfigError, match="--keep-last: bad value"):
        load_config(environ={}, flags={"keep_last": "x"}, cwd=tmp_path)


def test_missing_explicit_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(config_path="nope.yaml", environ={}, cwd=tmp_path)


def test_config_from_env_var_path(tmp_path):
    write(tmp_path / "custom.yml", "target: direct\n")
    c = load_config(environ={"MIGTOOL_CONFIG": str(tmp_path / "custom.yml")}, cwd=tmp_path)
    assert c.target == "direct"


def test_bad_toml(tmp_path):
    write(tmp_path / "x.toml", "[tool.migtool\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(config_path=tmp_path / "x.toml", environ={}, cwd=tmp_path)


def test_password_never_shown(tmp_path):
    env = {"DATABASE_URL": "postgresql://app:s3cr3t-pw@db:5432/shop"}
    c = load_config(environ=env, cwd=tmp_path)
    assert "s3cr3t-pw" not in repr(c)
    assert "s3cr3t-pw" not in str(c.public_dict())
    assert c.public_dict()["database_url"] == "postgresql://app:***@db:5432/shop"


def test_bad_database_url_value_is_masked_in_error(tmp_path):
    with pytest.raises(ConfigError) as exc:
        load_config(environ={"DATABASE_URL": "mysql://u:hunter2@h/db"}, cwd=tmp_path)
    assert "hunter2" not in str(exc.value)


def test_mask_url_forms():
    assert mask_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert mask_url("host=h password=abc dbname=x") == "host=h password=*** dbname=x"
    assert mask_url("postgres://u:p%40ss@h:1/db?sslmode=require") == "postgres://u:***@h:1/db?sslmode=require"


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        Config().target = "direct"  # type: ignore[misc]
