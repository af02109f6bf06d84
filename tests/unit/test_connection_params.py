import pytest

from migtool.database import connection_params, libpq_env
from migtool.errors import ConfigError


def test_prisma_schema_param_becomes_search_path():
    p = connection_params("postgresql://app:pw@db:5432/shop?schema=tenant1&connection_limit=5&sslmode=require")
    assert p["dbname"] == "shop" and p["host"] == "db" and p["port"] == "5432"
    assert p["options"] == "-c search_path=tenant1"
    assert p["sslmode"] == "require"
    assert "schema" not in p and "connection_limit" not in p


def test_env_has_password_only_in_pgpassword():
    env = libpq_env("postgresql://app:s3cret@db/shop?schema=public", dbname="other")
    assert env["PGPASSWORD"] == "s3cret"
    assert env["PGDATABASE"] == "other"
    assert env["PGOPTIONS"] == "-c search_path=public"


def test_bad_url_error_does_not_leak_password():
    with pytest.raises(ConfigError) as exc:
        connection_params("postgresql://app:s3cret@db/shop?nonsense_param=1")
    assert "s3cret" not in str(exc.value)


def test_weird_schema_rejected():
    with pytest.raises(ConfigError, match="unsupported schema"):
        connection_params("postgresql://app@db/shop?schema=a;drop")
