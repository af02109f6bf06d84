from migtool.lint import lint_sources, lint_sql


def fired(findings):
    return [f for f in findings if f.rule == "missing-lock-timeout"]


def test_reported_once_per_file_at_the_first_blocking_statement():
    found = fired(lint_sql('SELECT 1;\nALTER TABLE "User" ADD COLUMN "a" TEXT;\nALTER TABLE "Order" ADD COLUMN "b" TEXT;'))
    assert len(found) == 1 and found[0].line == 2 and found[0].severity == "advice"
    assert "SET lock_timeout" in found[0].fix


def test_each_file_needs_its_own_setting():
    report = lint_sources([("1.sql", 'SET lock_timeout = \'5s\'; ALTER TABLE "User" ADD COLUMN "a" TEXT;'),
                           ("2.sql", 'ALTER TABLE "User" ADD COLUMN "b" TEXT;')])
    assert [f.file for f in fired(report.findings)] == ["2.sql"]


def test_zero_reset_and_local_settings():
    assert fired(lint_sql('SET lock_timeout = 0; ALTER TABLE "User" ADD COLUMN "a" TEXT;'))
    assert fired(lint_sql('SET lock_timeout TO \'0\'; ALTER TABLE "User" ADD COLUMN "a" TEXT;'))
    assert fired(lint_sql('SET lock_timeout = \'2s\'; RESET lock_timeout; ALTER TABLE "User" ADD COLUMN "a" TEXT;'))
    assert not fired(lint_sql('SET LOCAL lock_timeout = \'2s\'; ALTER TABLE "User" ADD COLUMN "a" TEXT;'))
    assert not fired(lint_sql('SET lock_timeout = 3000; ALTER TABLE "User" ADD COLUMN "a" TEXT;'))


def test_foreign_key_from_a_new_table_locks_the_existing_one():
    found = fired(lint_sql('CREATE TABLE "Post" ("id" INT, "authorId" INT);\n'
                           'ALTER TABLE "Post" ADD CONSTRAINT "fk" FOREIGN KEY ("authorId") REFERENCES "User"("id");'))
    assert len(found) == 1 and '"User"' in found[0].message and found[0].line == 2


def test_statements_that_do_not_block_the_application():
    for sql in ('CREATE TABLE "Post" ("id" INT);', 'ALTER TABLE "User" VALIDATE CONSTRAINT "c";',
                'DROP INDEX CONCURRENTLY "i";', 'CREATE TYPE "Mood" AS ENUM (\'ok\');', 'SELECT 1;',
                'INSERT INTO "User" ("id") VALUES (1);', 'VACUUM ANALYZE "User";',
                'REFRESH MATERIALIZED VIEW CONCURRENTLY "M";', 'REINDEX TABLE CONCURRENTLY "User";'):
        assert not fired(lint_sql(sql)), sql


def test_advice_never_makes_a_file_fail():
    # A SET before these would turn the file into one transaction, where they cannot run.
    for sql in ('VACUUM FULL "User";', 'ALTER TABLE "Event" DETACH PARTITION "Event_2020" CONCURRENTLY;',
                'REINDEX (CONCURRENTLY) TABLE "User";'):
        assert not fired(lint_sql(sql)), sql
    # Only SHARE UPDATE EXCLUSIVE: reads and writes go on, no advice needed.
    for sql in ('COMMENT ON COLUMN "User"."a" IS \'x\';', 'ALTER TABLE "User" ALTER COLUMN "a" SET STATISTICS 100;',
                'ALTER TABLE "User" SET (fillfactor = 70);', 'ALTER TABLE "User" SET (toast.autovacuum_enabled = false);'):
        assert not fired(lint_sql(sql)), sql
    # A storage parameter that takes ACCESS EXCLUSIVE still gets it.
    assert fired(lint_sql('ALTER VIEW "V" SET (security_barrier = true); ALTER TABLE "User" SET (fillfactor = 70), '
                          'ADD COLUMN "b" INT;'))


def test_other_blocking_statements():
    for sql in ('DROP TABLE "User";', 'TRUNCATE "User";', 'LOCK TABLE "User";', 'DROP VIEW "V";',
                'REFRESH MATERIALIZED VIEW "M";', 'ALTER TABLE "User" SET SCHEMA "x";',
                'CREATE INDEX "i" ON "User"("a");', 'ALTER TABLE "User" RENAME COLUMN "a" TO "b";',
                'DROP INDEX "i";', 'CLUSTER "User";', 'REINDEX TABLE "User";',
                'CREATE TRIGGER t BEFORE INSERT ON "User" FOR EACH ROW EXECUTE FUNCTION f();'):
        assert fired(lint_sql(sql)), sql
