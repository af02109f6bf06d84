"""Objects created earlier in the same run are new: changes to them are safe and must not fire."""

from migtool.lint import lint_sources, lint_sql


def rules(findings):
    return sorted({f.rule for f in findings if not f.suppressed})


def test_table_created_in_an_earlier_file_is_new_in_later_files():
    report = lint_sources([
        ("1/migration.sql", 'CREATE TABLE "Post" ("id" SERIAL NOT NULL, "authorId" INTEGER, "slug" TEXT);'),
        ("2/migration.sql", 'CREATE UNIQUE INDEX "Post_slug_key" ON "Post"("slug");\n'
                            'ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") '
                            'REFERENCES "Post"("id");\n'
                            'ALTER TABLE "Post" ALTER COLUMN "slug" SET NOT NULL;'),
    ])
    assert report.findings == []
    assert report.files == ["1/migration.sql", "2/migration.sql"]


def test_the_same_statements_on_an_existing_table_fire():
    report = lint_sources([
        ("2/migration.sql", 'CREATE UNIQUE INDEX "Post_slug_key" ON "Post"("slug");\n'
                            'ALTER TABLE "Post" ALTER COLUMN "slug" SET NOT NULL;'),
    ])
    assert rules(report.findings) == ["create-index-blocking", "missing-lock-timeout", "set-not-null"]


def test_order_matters_a_table_created_later_is_not_new_before():
    report = lint_sources([
        ("1.sql", 'CREATE INDEX "i" ON "T"("a");'),
        ("2.sql", 'CREATE TABLE "T" ("a" INT);'),
    ])
    assert rules(report.findings) == ["create-index-blocking", "missing-lock-timeout"]


def test_renamed_new_table_stays_new_and_renamed_existing_table_is_not_new():
    assert rules(lint_sql('CREATE TABLE "Tmp" ("a" INT); ALTER TABLE "Tmp" RENAME TO "Final";\n'
                          'CREATE INDEX "i" ON "Final"("a");')) == []
    found = rules(lint_sql('ALTER TABLE "Old" RENAME TO "New"; CREATE INDEX "i" ON "New"("a");'))
    assert "create-index-blocking" in found and "rename-table" in found


def test_dropped_new_table_recreated_is_new_and_drop_of_new_table_is_fine():
    assert rules(lint_sql('CREATE TABLE "T" ("a" INT); DROP TABLE "T"; CREATE TABLE "T" ("b" INT);'
                          'CREATE INDEX "i" ON "T"("b");')) == []


def test_schema_qualified_names_match_unqualified_ones():
    assert rules(lint_sql('CREATE TABLE public."T" ("a" INT); CREATE INDEX "i" ON "T"("a");')) == []


def test_unquoted_names_fold_to_lower_case_like_postgres():
    assert rules(lint_sql("CREATE TABLE Accounts (a int); CREATE INDEX i ON accounts (a);")) == []
    assert "create-index-blocking" in rules(lint_sql('CREATE TABLE Accounts (a int); CREATE INDEX i ON "Accounts" (a);'))


def test_table_created_as_select_is_new():
    assert rules(lint_sql('CREATE TABLE "Copy" AS SELECT * FROM "User"; CREATE INDEX "i" ON "Copy"("id");')) == []


def test_index_created_earlier_can_be_dropped_without_concurrently():
    report = lint_sources([("1.sql", 'CREATE INDEX CONCURRENTLY "i" ON "User"("a");'), ("2.sql", 'DROP INDEX "i";')])
    assert rules(report.findings) == []


def test_isolated_mode_judges_each_file_alone_but_keeps_facts():
    sources = [
        ("1.sql", 'CREATE TABLE "T" ("a" INT);\n'
                  'ALTER TABLE "T" ADD CONSTRAINT "T_a_nn" CHECK ("a" IS NOT NULL);\n'
                  'CREATE INDEX "T_a_idx" ON "T"("a");'),
        ("2.sql", 'SET lock_timeout = \'5s\';\nALTER TABLE "T" ALTER COLUMN "a" SET NOT NULL;\n'
                  'CREATE INDEX "T_b_idx" ON "T"("a");\nDROP INDEX "T_a_idx";'),
    ]
    assert lint_sources(sources).findings == []
    isolated = lint_sources(sources, isolated=True)
    # The validated CHECK from file 1 still lets SET NOT NULL skip its scan.
    assert rules(isolated.findings) == ["create-index-blocking", "drop-index-blocking"]
    assert {f.file for f in isolated.findings} == {"2.sql"}
