from migtool.lint import lint_sources, lint_sql

SET = 'ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;'
ADD_CHECK = 'ALTER TABLE "User" ADD CONSTRAINT "User_phone_not_null" CHECK ("phone" IS NOT NULL) NOT VALID;'
VALIDATE = 'ALTER TABLE "User" VALIDATE CONSTRAINT "User_phone_not_null";'


def fired(findings):
    return [f for f in findings if f.rule == "set-not-null"]


def test_validated_check_in_earlier_files_skips_the_finding():
    report = lint_sources([("1.sql", ADD_CHECK), ("2.sql", VALIDATE), ("3.sql", SET)])
    assert fired(report.findings) == []


def test_validated_check_from_already_applied_migrations_counts():
    report = lint_sources([("3.sql", SET)], applied=[ADD_CHECK, VALIDATE])
    assert fired(report.findings) == []
    # ...and applied migrations are never reported on themselves.
    assert report.files == ["3.sql"]


def test_check_not_validated_or_dropped_or_on_another_column_does_not_count():
    assert fired(lint_sources([("1.sql", ADD_CHECK), ("2.sql", SET)]).findings)
    dropped = 'ALTER TABLE "User" DROP CONSTRAINT "User_phone_not_null";'
    assert fired(lint_sources([("1.sql", ADD_CHECK), ("2.sql", VALIDATE), ("3.sql", dropped), ("4.sql", SET)]).findings)
    other = 'ALTER TABLE "User" ADD CONSTRAINT "c" CHECK ("email" IS NOT NULL);'
    assert fired(lint_sql(other + SET))
    other_table = 'ALTER TABLE "Order" ADD CONSTRAINT "c" CHECK ("phone" IS NOT NULL);'
    assert fired(lint_sql(other_table + SET))


def test_unnamed_check_validated_later_by_its_generated_name():
    sql = ('ALTER TABLE "User" ADD CHECK ("phone" IS NOT NULL) NOT VALID;'
           'ALTER TABLE "User" VALIDATE CONSTRAINT "User_phone_check";' + SET)
    assert fired(lint_sql(sql)) == []


def test_before_postgres_12_the_check_does_not_help():
    report = lint_sources([("1.sql", ADD_CHECK), ("2.sql", VALIDATE), ("3.sql", SET)], pg_version=11)
    found = fired(report.findings)
    assert len(found) == 1 and "PostgreSQL 11" in found[0].message


def test_fix_walks_through_the_check_constraint_steps_with_real_names():
    f = fired(lint_sql(SET))[0]
    assert f.severity == "warning"
    assert 'ADD CONSTRAINT "User_phone_not_null" CHECK ("phone" IS NOT NULL) NOT VALID' in f.fix
    assert 'VALIDATE CONSTRAINT "User_phone_not_null"' in f.fix
    assert 'ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL' in f.fix
