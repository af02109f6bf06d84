from migtool.lint import lint_sql


def fired(sql):
    return [f for f in lint_sql(sql) if f.rule == "change-column-type"]


def test_type_change_is_danger_with_expand_contract_fix():
    f = fired('ALTER TABLE "Order" ALTER COLUMN "total" SET DATA TYPE DECIMAL(12,2);')[0]
    assert f.severity == "danger"
    assert 'ALTER TABLE "Order" ADD COLUMN "total_new" numeric(12,2);' in f.fix
    assert 'ALTER TABLE "Order" DROP COLUMN "total";' in f.fix


def test_probable_widening_is_only_a_warning_and_says_how_to_acknowledge_it():
    for sql in ('ALTER TABLE "User" ALTER COLUMN "name" SET DATA TYPE VARCHAR(500);',
                'ALTER TABLE "User" ALTER COLUMN "name" TYPE text;'):
        f = fired(sql)[0]
        assert f.severity == "warning"
        assert "widen" in f.message and "migtool:allow change-column-type" in f.fix


def test_using_clause_is_always_danger():
    f = fired('ALTER TABLE "User" ALTER COLUMN "name" TYPE text USING upper("name");')[0]
    assert f.severity == "danger" and "USING" in f.message


def test_each_altered_column_is_reported():
    found = fired('ALTER TABLE "T" ALTER COLUMN "a" TYPE bigint, ALTER COLUMN "b" TYPE bigint;')
    assert [('"a"' in f.message, '"b"' in f.message) for f in found] == [(True, False), (False, True)]
