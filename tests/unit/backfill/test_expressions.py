import pytest

from migtool.backfill.expressions import Assignment, parse_set, parse_where
from migtool.errors import ConfigError


def test_set_is_reprinted_from_the_parse_tree():
    assert parse_set("email_lower = lower(email)") == [Assignment("email_lower", "lower(email)")]
    assert parse_set('"Mixed" = 1, b = DEFAULT') == [Assignment("Mixed", "1"), Assignment("b", "DEFAULT")]


def test_a_trailing_comment_cannot_swallow_the_rest_of_the_batch():
    # Spliced raw, `-- x` would comment out the batch's FROM/WHERE and update every row.
    assert parse_set("a = 1 -- x") == [Assignment("a", "1")]
    assert parse_where("a IS NULL /* c */ -- x") == "a IS NULL"


@pytest.mark.parametrize("text", [
    "a = 1; DROP TABLE users",
    "a = 1 WHERE true",
    "a = 1 FROM other",
    "a = 1 RETURNING *",
    "(a, b) = (1, 2)",
    "a[1] = 2",
    "a = 1, a = 2",
    "a = ",
    "",
    "   ",
])
def test_set_refuses_anything_but_assignments(text):
    with pytest.raises(ConfigError):
        parse_set(text)


@pytest.mark.parametrize("text", [
    "true; DROP TABLE users",
    "x IS NULL) UNION SELECT (1",
    "true ORDER BY 1",
    "true GROUP BY 1",
    "true LIMIT 1",
    "true FOR UPDATE",
    "",
])
def test_where_refuses_anything_but_one_condition(text):
    with pytest.raises(ConfigError):
        parse_where(text)


def test_where_keeps_quoting_and_literals():
    assert parse_where("\"Kind\" = $$it's$$ AND n > 2") == "\"Kind\" = 'it''s' AND n > 2"
