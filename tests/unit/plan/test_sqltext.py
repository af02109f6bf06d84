import pytest

from migtool.errors import ConfigError
from migtool.plan.sqltext import canonical_type, column_type, default_expression


@pytest.mark.parametrize(("given", "sql"), [
    ("UNKNOWN", "'UNKNOWN'"), ("hello world", "'hello world'"), ("it's", "'it''s'"),
    ("0", "0"), ("-1.5", "-1.5"), ("true", "true"), ("'x'", "'x'"), ("now()", "now()"),
    ("gen_random_uuid()", "gen_random_uuid()"), ("CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP"),
    ("'{}'::jsonb", "'{}'::jsonb"),
])
def test_defaults(given, sql):
    assert default_expression(given) == sql


def test_null_default_is_refused():
    with pytest.raises(ConfigError, match="--default NULL"):
        default_expression("null")


def test_column_types():
    assert column_type("VARCHAR(20)") == "VARCHAR(20)"
    assert column_type(' "OrderStatus" ') == '"OrderStatus"'
    for bad in ("TEXT NOT NULL", "TEXT; DROP TABLE x", "", "no such (("):
        with pytest.raises(ConfigError, match="not a column type"):
            column_type(bad)


def test_canonical_types_compare_aliases_equal():
    assert canonical_type("DECIMAL(10,2)") == canonical_type("numeric(10, 2)")
    assert canonical_type("int4") == canonical_type("INTEGER")
    assert canonical_type("timestamp(3) without time zone") == canonical_type("TIMESTAMP(3)")
    assert canonical_type("bigint") != canonical_type("integer")
