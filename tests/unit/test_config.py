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


# ---------------------------------------------------------------- issue 9: broken files are errors


def test_broken_pyproject_is_an_error_naming_file_and_line(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.migtool]\nkeep_last = \n')
    with pytest.raises(ConfigError) as exc:
        load_config(environ={}, cwd=tmp_path)
    assert exc.value.exit_code == 2
    assert f"{tmp_path / 'pyproject.toml'}:4: not valid TOML" in exc.value.message


def test_pyproject_without_our_table_is_ignored(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert load_config(environ={}, cwd=tmp_path).config_path is None


def test_yaml_with_invalid_utf8_is_a_config_error(tmp_path):
    (tmp_path / "migtool.yaml").write_bytes(b"target: direct\nbackup_dir: caf\xe9\n")
    with pytest.raises(ConfigError) as exc:
        load_config(environ={}, cwd=tmp_path)
    assert exc.value.message.startswith(f"{tmp_path / 'migtool.yaml'}:2: not valid UTF-8")


def test_yaml_with_a_duplicate_key_is_an_error(tmp_path):
    (tmp_path / "migtool.yaml").write_text("keep_last: 3\ntarget: direct\nkeep_last: 30\n")
    with pytest.raises(ConfigError) as exc:
        load_config(environ={}, cwd=tmp_path)
    assert "migtool.yaml:3: key 'keep_last' is given twice (first on line 1)" in exc.value.message


def test_yaml_duplicate_key_inside_s3_is_an_error(tmp_path):
    (tmp_path / "migtool.yaml").write_text("s3:\n  bucket: a\n  bucket: b\n")
    with pytest.raises(ConfigError, match="given twice"):
        load_config(environ={}, cwd=tmp_path)


def test_yaml_syntax_error_names_the_line(tmp_path):
    (tmp_path / "migtool.yaml").write_text("target: direct\n  bad: [\n")
    with pytest.raises(ConfigError) as exc:
        load_config(environ={}, cwd=tmp_path)
    assert "migtool.yaml:2: not valid YAML" in exc.value.message


# ---------------------------------------------------------------- issue 9: one masking function

from migtool.config import mask_secrets, secret_values  # noqa: E402


@pytest.mark.parametrize(("text", "secret"), [
    ("postgresql://app:S3cr3t-Pw@db:5432/shop", "S3cr3t-Pw"),
    ("postgresql://app:p@ss@db/shop", "p@ss"),
    ("postgresql://app@db:5432/shop?sslmode=require&password=S3cr3t-Pw", "S3cr3t-Pw"),
    ("postgresql://app@db/shop?password=S3cr3t-Pw&sslmode=require", "S3cr3t-Pw"),
    ("host=db user=app password='S3cr3t Pw' dbname=shop", "S3cr3t Pw"),
    ("host=db user=app password = 'it\\'s Pw' dbname=shop", "it\\'s Pw"),
    ("host=db password=S3cr3t-Pw dbname=shop", "S3cr3t-Pw"),
    ("PGPASSWORD=S3cr3t-Pw pg_dump", "S3cr3t-Pw"),
    ("error: could not connect (postgresql://app:S3cr3t-Pw@db/shop): refused", "S3cr3t-Pw"),
])
def test_mask_secrets_every_form(text, secret):
    masked = mask_secrets(text)
    assert secret not in masked and "***" in masked
    for word in secret.split():
        assert word not in masked


def test_mask_secrets_leaves_other_text_alone():
    assert mask_secrets("postgresql://app@db:5432/shop?sslmode=require") == "postgresql://app@db:5432/shop?sslmode=require"
    assert mask_secrets("host=db dbname=shop") == "host=db dbname=shop"


def test_fragments_of_an_unquoted_password_are_known_secrets():
    # libpq quotes the piece after the space in its parse error: `missing "=" after "Pw"`.
    known = secret_values("host=db password=S3cr3t PwX dbname=shop")
    assert mask_secrets('missing "=" after "PwX" in connection info string', known) == \
        'missing "=" after "***" in connection info string'


def test_public_dict_masks_a_query_parameter_password(tmp_path):
    c = load_config(environ={"DATABASE_URL": "postgresql://app@db/shop?password=S3cr3t-Pw"}, cwd=tmp_path)
    assert "S3cr3t-Pw" not in str(c.public_dict())


def test_schema_key_keeps_case_and_accepts_a_quoted_identifier(tmp_path):
    assert load_config(environ={"MIGTOOL_SCHEMA": "MySchema"}, cwd=tmp_path).schema == "MySchema"
    (tmp_path / "migtool.yaml").write_text("schema: '\"My \"\"Odd\"\" Schema\"'\n")
    assert load_config(environ={}, cwd=tmp_path).schema == 'My "Odd" Schema'
    assert load_config(environ={}, cwd=tmp_path.parent).schema is None
