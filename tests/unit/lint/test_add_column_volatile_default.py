import pytest

from migtool.lint import lint_sql


def fired(sql, pg_version=15):
    return [f for f in lint_sql(sql, pg_version=pg_version) if f.rule == "add-column-volatile-default"]


@pytest.mark.parametrize("default", ["gen_random_uuid()", "random()", "clock_timestamp()", "nextval('s')",
                                     "uuid_generate_v4()", "(random() * 10)::int"])
def test_volatile_defaults_rewrite(default):
    found = fired(f'ALTER TABLE "User" ADD COLUMN "x" TEXT DEFAULT {default};')
    assert found and "volatile" in found[0].message
    assert f"SET DEFAULT {default}" in found[0].fix


@pytest.mark.parametrize("default", ["0", "'x'", "true", "now()", "CURRENT_TIMESTAMP", "'{}'::jsonb",
                                     "ARRAY[]::text[]", "-1", "NULL", "now() + interval '1 day'"])
def test_constant_and_stable_defaults_do_not_rewrite_since_pg11(default):
    assert fired(f'ALTER TABLE "User" ADD COLUMN "x" TEXT DEFAULT {default};') == []


def test_before_pg11_any_default_rewrites():
    found = fired('ALTER TABLE "User" ADD COLUMN "active" BOOLEAN NOT NULL DEFAULT true;', pg_version=10)
    assert found and "PostgreSQL 10" in found[0].message
    assert fired('ALTER TABLE "User" ADD COLUMN "bio" TEXT;', pg_version=10) == []


def test_unknown_function_is_reported_with_an_honest_message():
    found = fired('ALTER TABLE "User" ADD COLUMN "code" TEXT DEFAULT make_code();')
    assert found and "cannot tell whether make_code() is volatile" in found[0].message


def test_serial_and_identity_columns_rewrite_and_fix_uses_the_plain_type():
    found = fired('ALTER TABLE "User" ADD COLUMN "n" BIGSERIAL;')
    assert found and 'ADD COLUMN "n" bigint;' in found[0].fix
    assert fired('ALTER TABLE "User" ADD COLUMN "n" INT GENERATED ALWAYS AS IDENTITY;')


def test_new_table_is_fine():
    assert fired('CREATE TABLE "T" ("id" INT); ALTER TABLE "T" ADD COLUMN "u" UUID DEFAULT gen_random_uuid();') == []
