import pytest

from migtool.database import connection_params, libpq_env
from migtool.errors import ConfigError


def test_prisma_schema_param_becomes_search_path():
    p = connection_params("postgresql://app:pw@db:5432/shop?schema=tenant1&connection_limit=5&sslmode=require")
    assert p["dbname"] == "shop" and p["host"] == "db" and p["port"] == "5432"
    assert p["options"] == '-c search_path="tenant1"'
    assert p["sslmode"] == "require"
    assert "schema" not in p and "connection_limit" not in p


def test_env_has_password_only_in_pgpassword():
    env = libpq_env("postgresql://app:s3cret@db/shop?schema=public", dbname="other")
    assert env["PGPASSWORD"] == "s3cret"
    assert env["PGDATABASE"] == "other"
    assert env["PGOPTIONS"] == '-c search_path="public"'


def test_bad_url_error_does_not_leak_password():
    with pytest.raises(ConfigError) as exc:
        connection_params("postgresql://app:s3cret@db/shop?nonsense_param=1")
    assert "s3cret" not in str(exc.value)


def test_schema_keeps_its_case_and_is_quoted():
    # Prisma creates ?schema=MySchema as "MySchema": unquoted, the server would fold it to myschema.
    p = connection_params("postgresql://app@db/shop?schema=MySchema")
    assert p["options"] == '-c search_path="MySchema"'


def test_odd_schema_names_are_quoted_not_injected():
    assert connection_params("postgresql://app@db/shop?schema=a;drop")["options"] == '-c search_path="a;drop"'
    # the server splits options at spaces: escaped; a double quote is doubled inside the identifier
    assert connection_params("postgresql://app@db/shop?schema=My%20%22S%22")["options"] == \
        '-c search_path="My\\ ""S"""'


def test_conninfo_parse_error_does_not_leak_a_fragment_of_the_password():
    with pytest.raises(ConfigError) as exc:
        connection_params("host=db user=app password=S3cr3t Pw9 dbname=shop")
    assert "S3cr3t" not in exc.value.message and "Pw9" not in exc.value.message


def test_url_schema_and_schema_from_compose():
    from migtool.database import schema_from_compose, url_schema

    assert url_schema("postgresql://u@h/db?schema=MySchema&x=1") == "MySchema"
    assert url_schema("postgresql://u@h/db") is None
    model = {"services": {
        "migrate": {"environment": ["DATABASE_URL=postgresql://u:p@postgres/db?schema=Tenant"]},
        "app": {"environment": {"DATABASE_URL": "postgresql://u:p@postgres/db?schema=Other"}},
        "postgres": {"environment": {"POSTGRES_USER": "u"}},
    }}
    assert schema_from_compose(model, ["migrate", "app"]) == "Tenant"
    assert schema_from_compose(model, ["app"]) == "Other"
    assert schema_from_compose(model, ["postgres", "missing"]) is None


def test_compose_exec_problems_are_environment_problems():
    from migtool.compose import ComposeProject
    from migtool.database import ComposeDatabase, compose_exec_problem
    from migtool.errors import ExitCode

    db = ComposeDatabase(ComposeProject(["x.yml"]), "postgres", "app", "shop")
    down = compose_exec_problem(db, "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.")
    assert down is not None and down.exit_code == ExitCode.ENVIRONMENT and "docker info" in down.hint
    wrong = compose_exec_problem(db, 'psql: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432"'
                                     ' failed: FATAL:  database "shopp" does not exist')
    assert wrong is not None and wrong.exit_code == ExitCode.ENVIRONMENT and "db_name" in wrong.hint
    role = compose_exec_problem(db, 'FATAL:  role "ap" does not exist')
    assert role is not None and "db_user" in role.hint
    assert compose_exec_problem(db, 'ERROR:  relation "x" does not exist') is None


def test_query_parameter_password_with_a_space_reaches_libpq_intact():
    p = connection_params("postgresql://app@db/shop?schema=x&password=a%20b%2Bc")
    assert p["password"] == "a b+c"
