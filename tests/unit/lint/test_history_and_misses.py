"""Issue 10: what counts as existing in a history, and the misses found in real migration files.
Each miss has a must-fire and a must-not-fire case."""

import pytest

from migtool.lint import lint_sources, lint_sql
from migtool.lint.api import lint_pending
from migtool.lint.engine import APPLIED, EARLIER, TOGETHER


def rules(findings, *, advice=True):
    return sorted({f.rule for f in findings if not f.suppressed and (advice or f.severity != "advice")})


HISTORY = [
    ("1_init/migration.sql", 'CREATE TABLE "User" ("id" SERIAL NOT NULL, "name" TEXT, "email" TEXT NOT NULL,\n'
                             '  CONSTRAINT "User_pkey" PRIMARY KEY ("id"));\n'
                             'CREATE INDEX "User_name_idx" ON "User"("name");'),
    ("2_drop/migration.sql", 'ALTER TABLE "User" DROP COLUMN "name";'),
    ("3_index/migration.sql", 'CREATE INDEX "User_email_idx" ON "User"("email");\n'
                              'CREATE TABLE "Post" ("id" INT, "userId" INT);\n'
                              'CREATE INDEX "Post_userId_idx" ON "Post"("userId");'),
]


# ---------------------------------------------------------------- item 1: history semantics

def test_a_history_without_database_treats_earlier_migrations_as_existing():
    report = lint_sources(HISTORY, isolated=True)
    assert report.existing == EARLIER
    found = [(f.rule, f.file) for f in report.findings if f.severity != "advice"]
    assert ("drop-column", "2_drop/migration.sql") in found
    assert ("create-index-blocking", "3_index/migration.sql") in found
    # Objects of the same migration stay new: the index on "Post", made two statements earlier.
    assert [f for f in report.findings if "Post" in f.statement] == []


def test_the_whole_history_reports_what_each_migration_alone_does():
    whole = lint_sources(HISTORY, isolated=True)
    alone = []
    for i, source in enumerate(HISTORY):
        alone += lint_sources([source], applied=[text for _, text in HISTORY[:i]]).findings
    key = [(f.rule, f.file, f.line) for f in whole.findings if f.severity == "danger"]
    assert key == [(f.rule, f.file, f.line) for f in alone if f.severity == "danger"]
    assert [(f.rule, f.file, f.line) for f in whole.findings] == [(f.rule, f.file, f.line) for f in alone]


def test_together_makes_earlier_files_new_and_says_so():
    report = lint_sources(HISTORY, existing=TOGETHER)
    assert report.existing == TOGETHER and report.summary()["existing"] == "before these files"
    assert rules(report.findings) == []


def test_lint_pending_uses_applied_names(tmp_path):
    for name, text in HISTORY:
        folder = tmp_path / name.split("/")[0]
        folder.mkdir()
        (folder / "migration.sql").write_text(text)
    report = lint_pending(tmp_path, ["1_init"], 15)
    assert report.existing == APPLIED and report.summary()["existing"] == "applied in database"
    assert [f.rsplit("/", 2)[-2] for f in report.files] == ["2_drop", "3_index"]
    assert ("drop-column", "danger") in {(f.rule, f.severity) for f in report.findings}
    # Pending ones deploy together: "Post" (3) is new, "User" (applied) is not.
    assert not [f for f in report.findings if "Post" in f.statement]
    for f in report.findings:
        assert f.file and f.line >= 1 and f.message and f.fix and f.suppressed is False
    assert lint_pending(tmp_path, ["1_init", "2_drop", "3_index"]).findings == []


def test_unknown_existing_mode_is_refused():
    with pytest.raises(ValueError):
        lint_sources([], existing="sometimes")


# ---------------------------------------------------------------- item 2: misses

def test_required_column_made_in_two_steps_fires_on_drop_default():
    two_files = [("1.sql", 'ALTER TABLE "User" ADD COLUMN "plan" TEXT NOT NULL DEFAULT \'free\';'),
                 ("2.sql", 'ALTER TABLE "User" ALTER COLUMN "plan" DROP DEFAULT;')]
    for kwargs in ({"isolated": True}, {"existing": TOGETHER}):
        report = lint_sources(two_files, **kwargs)
        assert [f.file for f in report.findings if f.rule == "drop-default-required-column"] == ["2.sql"]
    one = 'ALTER TABLE "User" ADD COLUMN "plan" TEXT NOT NULL DEFAULT \'free\', ALTER COLUMN "plan" DROP DEFAULT;'
    assert "drop-default-required-column" in rules(lint_sql(one))
    # Known NOT NULL from a table created in an earlier (released) migration.
    history = [("1.sql", 'CREATE TABLE "T" ("id" INT, "kind" TEXT NOT NULL DEFAULT \'a\');'),
               ("2.sql", 'ALTER TABLE "T" ALTER COLUMN "kind" DROP DEFAULT;')]
    assert "drop-default-required-column" in rules(lint_sources(history, isolated=True).findings)
    # Applied migrations supply the fact too.
    report = lint_sources([history[1]], applied=[history[0][1]])
    assert "drop-default-required-column" in rules(report.findings)


def test_drop_default_stays_quiet_when_it_breaks_nothing():
    assert "drop-default-required-column" not in rules(lint_sql('ALTER TABLE "User" ALTER COLUMN "bio" DROP DEFAULT;'))
    history = [("1.sql", 'CREATE TABLE "T" ("id" INT, "kind" TEXT DEFAULT \'a\');'),
               ("2.sql", 'ALTER TABLE "T" ALTER COLUMN "kind" DROP DEFAULT;')]
    assert "drop-default-required-column" not in rules(lint_sources(history, isolated=True).findings)
    # The table is new in this deploy: no old code inserts into it.
    assert "drop-default-required-column" not in rules(lint_sources(history, existing=TOGETHER).findings)
    renamed = [("1.sql", 'CREATE TABLE "T" ("id" INT, "kind" TEXT NOT NULL DEFAULT \'a\');'),
               ("2.sql", 'ALTER TABLE "T" ALTER COLUMN "kind" DROP NOT NULL;'),
               ("3.sql", 'ALTER TABLE "T" ALTER COLUMN "kind" DROP DEFAULT;')]
    assert "drop-default-required-column" not in rules(lint_sources(renamed, isolated=True).findings)


def test_not_null_default_null_is_a_required_column_without_default():
    assert "add-required-column" in rules(lint_sql('ALTER TABLE "T" ADD COLUMN "c" INT NOT NULL DEFAULT NULL;'))
    assert "add-required-column" not in rules(lint_sql('ALTER TABLE "T" ADD COLUMN "c" INT NOT NULL DEFAULT 0;'))
    assert "add-required-column" not in rules(lint_sql('ALTER TABLE "T" ADD COLUMN "c" INT DEFAULT NULL;'))


def test_newness_is_tracked_by_schema():
    fired = rules(lint_sql('CREATE TABLE a.t (id int); CREATE INDEX i ON b.t (id);'))
    assert "create-index-blocking" in fired
    assert rules(lint_sql('CREATE TABLE a.t (id int); CREATE INDEX i ON a.t (id);')) == []
    # Unqualified names resolve through the search_path (default public).
    assert "create-index-blocking" in rules(lint_sql('CREATE TABLE a.t (id int); CREATE INDEX i ON t (id);'))
    assert rules(lint_sql('CREATE TABLE a.t (id int); SET search_path TO a, public; CREATE INDEX i ON t (id);')) == []
    assert rules(lint_sql('CREATE TABLE t (id int); CREATE INDEX i ON public.t (id);')) == []
    assert rules(lint_sql('SET search_path = app; CREATE TABLE t (id int); CREATE INDEX i ON app.t (id);')) == []
    assert "drop-table" in rules(lint_sql('CREATE TABLE a.t (id int); DROP TABLE b.t;'))
    assert "drop-index-blocking" in rules(lint_sql('CREATE TABLE a.t (id int); CREATE INDEX i ON a.t (id); '
                                                   'DROP INDEX b.i;'))
    assert "drop-index-blocking" not in rules(lint_sql('CREATE TABLE a.t (id int); CREATE INDEX i ON a.t (id); '
                                                       'DROP INDEX a.i;'))


@pytest.mark.parametrize(("sql", "rule"), [
    ('ALTER VIEW "ActiveUser" RENAME TO "Active";', "rename-table"),
    ('ALTER VIEW "ActiveUser" RENAME COLUMN "name" TO "fullName";', "rename-column"),
    ('ALTER TABLE "Order" SET SCHEMA "archive";', "rename-table"),
    ('ALTER TYPE "Role" RENAME TO "UserRole";', "rename-type"),
    ('ALTER TYPE "Role" RENAME VALUE \'ADMIN\' TO \'OWNER\';', "rename-type"),
    ('ALTER TABLE "Booking" ADD CONSTRAINT "x" EXCLUDE USING gist ("during" WITH &&);', "add-exclusion-constraint"),
])
def test_renames_and_exclusion_fire(sql, rule):
    assert rule in rules(lint_sql(sql))


@pytest.mark.parametrize("sql", [
    'CREATE VIEW "V" AS SELECT 1 AS a; ALTER VIEW "V" RENAME TO "W";',
    'CREATE VIEW "V" AS SELECT 1 AS a; ALTER VIEW "V" RENAME COLUMN "a" TO "b";',
    'CREATE TABLE "T" (a int); ALTER TABLE "T" SET SCHEMA "archive";',
    'CREATE TYPE "R" AS ENUM (\'A\'); ALTER TYPE "R" RENAME TO "S"; ALTER TYPE "S" RENAME VALUE \'A\' TO \'B\';',
    'ALTER TYPE "Role" ADD VALUE \'GUEST\';',
    'CREATE TABLE "B" ("during" tstzrange); ALTER TABLE "B" ADD CONSTRAINT "x" EXCLUDE USING gist ("during" WITH &&);',
])
def test_renames_and_exclusion_of_new_objects_are_quiet(sql):
    assert rules(lint_sql(sql), advice=False) == []


def test_do_block_statements_are_linted_at_their_line():
    sql = ('SELECT 1;\nDO $$\nBEGIN\n  ALTER TABLE "User" DROP COLUMN "name";\n'
           "  EXECUTE 'TRUNCATE \"Session\"';\nEND $$;\n")
    findings = lint_sql(sql)
    by_rule = {f.rule: f for f in findings}
    assert by_rule["drop-column"].line == 4
    assert by_rule["truncate"].line == 5
    assert "unchecked-dynamic-sql" not in by_rule
    # A table created in the block is new for the rest of the file.
    assert rules(lint_sql('DO $$ BEGIN CREATE TABLE "T" (a int); END $$; CREATE INDEX "i" ON "T"(a);')) == []


def test_do_block_with_sql_built_at_run_time_says_it_was_not_checked():
    findings = lint_sql("DO $$ BEGIN EXECUTE format('DROP TABLE %I', 'old'); END $$;")
    (f,) = [f for f in findings if f.rule == "unchecked-dynamic-sql"]
    assert f.severity == "advice" and "format(" in f.message
    assert "unchecked-dynamic-sql" in rules(lint_sql("DO LANGUAGE plpython3u $$ print(1) $$;"))
    # Suppressible with a reason, like any rule.
    allowed = lint_sql("-- migtool:allow unchecked-dynamic-sql drops only temp tables\n"
                       "DO $$ BEGIN EXECUTE format('DROP TABLE %I', 'old'); END $$;")
    assert rules(allowed) == []
    # A safe block stays quiet.
    assert rules(lint_sql('DO $$ BEGIN IF 1 > 0 THEN RAISE NOTICE \'ok\'; END IF; END $$;')) == []


def test_a_function_the_migration_creates_and_runs_is_linted():
    create = ('CREATE FUNCTION fix_it() RETURNS void LANGUAGE plpgsql AS $$\nBEGIN\n'
              '  ALTER TABLE "User" DROP COLUMN "name";\nEND $$;\n')
    findings = lint_sql(create + "SELECT fix_it();\nDROP FUNCTION fix_it();")
    assert [(f.rule, f.line) for f in findings if f.rule == "drop-column"] == [("drop-column", 3)]
    assert "drop-column" in rules(lint_sql(create + "CALL fix_it();"))
    # Created but not run by the migration: nothing runs now.
    assert rules(lint_sql(create)) == []
    # An allow above the call covers what it runs.
    allowed = lint_sql(create + "-- migtool:allow drop-column,missing-lock-timeout unused since v3\nSELECT fix_it();")
    assert rules(allowed) == []


def test_concurrently_inside_a_do_block_fails_and_is_flagged():
    found = rules(lint_sql("DO $$ BEGIN EXECUTE 'CREATE INDEX CONCURRENTLY \"i\" ON \"User\"(\"a\")'; END $$;"))
    assert "concurrently-in-transaction" in found


def test_copy_from_stdin_data_is_skipped():
    sql = ('CREATE TABLE "T" (a int, b text);\nCOPY "T" (a, b) FROM stdin;\n1\tx; DROP TABLE y\n2\t\\N\n\\.\n'
           'ALTER TABLE "User" DROP COLUMN "c";\n')
    findings = lint_sql(sql)
    assert "syntax-error" not in rules(findings)
    assert [(f.rule, f.line) for f in findings if f.rule == "drop-column"] == [("drop-column", 6)]
    assert "drop-table" not in rules(findings)
    # Data up to the end of the file (no \.) is data too.
    assert rules(lint_sql('COPY "T" FROM STDIN;\n1\t2\n')) == []


def test_bom_is_stripped_with_an_advice():
    findings = lint_sql('\ufeffALTER TABLE "User" DROP COLUMN "c";')
    assert rules(findings) == ["byte-order-mark", "drop-column", "missing-lock-timeout"]
    assert [f.line for f in findings if f.rule == "drop-column"] == [1]
    assert "byte-order-mark" not in rules(lint_sql("SELECT 1;"))


# ---------------------------------------------------------------- item 3: from squawk's suite

def test_validate_in_the_same_file_as_not_valid_fires():
    sql = ('ALTER TABLE "Order" ADD CONSTRAINT "c" CHECK ("total" >= 0) NOT VALID;\n'
           'ALTER TABLE "Order" VALIDATE CONSTRAINT "c";')
    assert [f.line for f in lint_sql(sql) if f.rule == "validate-in-same-transaction"] == [2]
    two_files = [("1.sql", sql.splitlines()[0]), ("2.sql", sql.splitlines()[1])]
    assert "validate-in-same-transaction" not in rules(lint_sources(two_files).findings)
    committed = sql.replace(";\n", ";\nCOMMIT;\n", 1)
    assert "validate-in-same-transaction" not in rules(lint_sql(committed))


def test_domain_constraint_and_added_primary_key_columns():
    assert "add-domain-constraint" in rules(lint_sql('ALTER DOMAIN d ADD CONSTRAINT c CHECK (VALUE > 0);'))
    assert "add-domain-constraint" not in rules(lint_sql('ALTER DOMAIN d ADD CONSTRAINT c CHECK (VALUE > 0) NOT VALID;'))
    for col in ('"id" SERIAL PRIMARY KEY', '"id" BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY',
                '"id" UUID DEFAULT gen_random_uuid() PRIMARY KEY'):
        assert "add-primary-key" in rules(lint_sql(f'ALTER TABLE "T" ADD COLUMN {col};')), col
    assert "add-primary-key" not in rules(lint_sql('ALTER TABLE "T" ADD COLUMN "id" SERIAL;'))


def test_option_values_are_read():
    assert "vacuum-full" not in rules(lint_sql('VACUUM (FULL FALSE) "T";'))
    assert "vacuum-full" in rules(lint_sql('VACUUM (FULL TRUE) "T";'))
    assert "reindex-blocking" in rules(lint_sql('REINDEX (CONCURRENTLY false) TABLE "T";'))
    assert "reindex-blocking" not in rules(lint_sql('REINDEX (CONCURRENTLY) TABLE "T";'))
    assert "concurrently-in-transaction" not in rules(lint_sql('SELECT 1; REINDEX (CONCURRENTLY off) TABLE "T";'))


def test_views_and_vacuum_in_a_multi_statement_file():
    assert "drop-view" in rules(lint_sql('DROP VIEW "V";'))
    assert "drop-view" in rules(lint_sql('DROP MATERIALIZED VIEW "M";'))
    assert "refresh-matview-blocking" in rules(lint_sql('REFRESH MATERIALIZED VIEW "M";'))
    assert "refresh-matview-blocking" not in rules(lint_sql('REFRESH MATERIALIZED VIEW CONCURRENTLY "M";'))
    assert "concurrently-in-transaction" in rules(lint_sql('SELECT 1; VACUUM "T";'))
    assert "concurrently-in-transaction" not in rules(lint_sql('VACUUM "T";'))
    assert "concurrently-in-transaction" not in rules(lint_sql('SELECT 1; ANALYZE "T";'))


def test_a_real_shaped_history_reports_what_each_migration_alone_does(tmp_path):
    """Issue 10's "done when": the bench's history corpus, whole folder vs one migration at a time."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "bench" / "history_corpus.py"
    spec = importlib.util.spec_from_file_location("history_corpus", path)
    corpus = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(corpus)
    files = corpus.generate_history(tmp_path, small=80, inits=(150, 90, 60), seed=3)
    sources = [(str(p), p.read_text()) for p in files]
    whole = lint_sources(sources, isolated=True)
    alone = []
    for i, source in enumerate(sources):
        alone += lint_sources([source], applied=[text for _, text in sources[:i]]).findings
    dangerous = [(f.rule, f.file, f.line) for f in whole.findings if f.severity == "danger"]
    assert dangerous and dangerous == [(f.rule, f.file, f.line) for f in alone if f.severity == "danger"]
    assert [(f.rule, f.file, f.line) for f in whole.findings] == [(f.rule, f.file, f.line) for f in alone]
    assert whole.parse_errors == 0
