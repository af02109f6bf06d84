"""Which data checks the planner asks for, and what it derives from earlier statements of the deploy."""

from __future__ import annotations

from migtool.datacheck.plan import plan_sources


def plan(*sources: str, sizes: bool = False):
    checks = plan_sources([(f"m{i}.sql", sql) for i, sql in enumerate(sources)])
    return checks if sizes else [c for c in checks if c.kind != "table-size"]


def one(*sources: str):
    checks = plan(*sources)
    assert len(checks) == 1, [(c.kind, c.line) for c in checks]
    return checks[0]


def test_set_not_null_counts_nulls_of_the_column():
    c = one('ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;')
    assert (c.kind, c.table.sql, c.column, c.value_sql, c.rules) == (
        "not-null", '"User"', "phone", '"phone" IS NULL', ("set-not-null",))
    assert c.known is None and c.position == (1, 1)


def test_schema_qualified_tables_keep_their_schema():
    c = one('ALTER TABLE app."User" ALTER COLUMN "phone" SET NOT NULL;')
    assert c.table.sql == '"app"."User"'


def test_required_column_without_default_is_null_everywhere():
    c = one('ALTER TABLE "User" ADD COLUMN "tenant" TEXT NOT NULL;')
    assert (c.kind, c.value_sql, c.rules) == ("not-null", "true", ("add-required-column",))
    assert plan('ALTER TABLE "User" ADD COLUMN "tenant" TEXT NOT NULL DEFAULT \'x\';') == []
    assert plan('ALTER TABLE "User" ADD COLUMN "n" SERIAL NOT NULL;') == []


def test_unique_constraint_and_index_keys():
    c = one('ALTER TABLE "User" ADD CONSTRAINT "u" UNIQUE ("email", "org");')
    assert (c.kind, c.keys, c.key_labels, c.rules) == ("unique", ('"email"', '"org"'), ("email", "org"),
                                                       ("add-unique-constraint",))
    idx = one('CREATE UNIQUE INDEX CONCURRENTLY "i" ON "User" (lower("email")) WHERE "deleted" IS NULL;')
    assert (idx.keys, idx.predicate, idx.rules, idx.nulls_distinct) == (("(lower(email))",), "deleted IS NULL", (), True)
    nnd = one('CREATE UNIQUE INDEX "i" ON "User" ("email") NULLS NOT DISTINCT;')
    assert nnd.nulls_distinct is False and nnd.rules == ("create-index-blocking",)
    assert plan('CREATE INDEX "i" ON "User" ("email");') == []  # not unique: only its size
    assert plan('ALTER TABLE "User" ADD CONSTRAINT "u" UNIQUE USING INDEX "i";') == []


def test_primary_key_is_unique_and_not_null():
    kinds = [(c.kind, c.rules) for c in plan('ALTER TABLE "T" ADD PRIMARY KEY ("a", "b");')]
    assert kinds == [("unique", ("add-primary-key",)), ("not-null", ("add-primary-key",)),
                     ("not-null", ("add-primary-key",))]


def test_foreign_key_validated_now_or_later():
    c = one('ALTER TABLE "Order" ADD CONSTRAINT "fk" FOREIGN KEY ("userId") REFERENCES "User"("id");')
    assert (c.kind, c.keys, c.ref_table.sql, c.ref_columns, c.rules) == (
        "foreign-key", ('"userId"',), '"User"', ("id",), ("add-foreign-key",))
    # NOT VALID checks nothing; the VALIDATE later in the deploy does, with the definition from above.
    later = one('ALTER TABLE "Order" ADD CONSTRAINT "fk" FOREIGN KEY ("userId") REFERENCES "User" NOT VALID;',
                'ALTER TABLE "Order" VALIDATE CONSTRAINT "fk";')
    assert (later.kind, later.file, later.line, later.ref_columns, later.rules) == ("foreign-key", "m1.sql", 1, (), ())


def test_validate_of_an_applied_constraint_reads_the_catalog():
    c = one('ALTER TABLE "Order" VALIDATE CONSTRAINT "Order_total_check";')
    assert (c.kind, c.constraint) == ("validate-constraint", "Order_total_check")


def test_foreign_key_to_a_table_created_in_the_deploy():
    c = one('CREATE TABLE "Org" (id int PRIMARY KEY);',
            'ALTER TABLE "User" ADD CONSTRAINT "fk" FOREIGN KEY ("orgId") REFERENCES "Org"("id");')
    assert c.ref_is_new


def test_check_constraint_expression_and_its_columns():
    c = one('ALTER TABLE "Order" ADD CONSTRAINT "c" CHECK ("total" >= 0 AND "qty" > 0);')
    assert (c.kind, c.expression, c.example_columns) == ("check", "total >= 0 AND qty > 0", ("qty", "total"))
    assert plan('ALTER TABLE "Order" ADD CONSTRAINT "c" CHECK ("total" >= 0) NOT VALID;') == []


def test_type_change_with_and_without_using():
    c = one('ALTER TABLE "User" ALTER COLUMN "age" TYPE integer USING "age"::integer;')
    assert (c.kind, c.column, c.new_type, c.using, c.using_is_plain_cast) == (
        "type-change", "age", "integer", "CAST(age AS integer)", True)
    d = one('ALTER TABLE "User" ALTER COLUMN "nick" SET DATA TYPE varchar(10);')
    assert (d.new_type, d.using) == ("varchar(10)", None)
    e = one('ALTER TABLE "User" ALTER COLUMN "age" TYPE integer USING nullif("age", \'\')::integer;')
    assert not e.using_is_plain_cast


def test_tables_created_in_the_deploy_need_no_checks():
    assert plan('CREATE TABLE "T" (a int);', 'ALTER TABLE "T" ALTER COLUMN "a" SET NOT NULL;', sizes=True) == []
    assert plan('TRUNCATE "T";', 'ALTER TABLE "T" ADD CONSTRAINT "c" CHECK (a > 0);') == []


def test_a_backfill_of_an_added_column_is_followed():
    c = one('ALTER TABLE "User" ADD COLUMN "tenant" TEXT;',
            'UPDATE "User" SET "tenant" = \'t\' WHERE "tenant" IS NULL;',
            'ALTER TABLE "User" ALTER COLUMN "tenant" SET NOT NULL;')
    assert c.known.result == "ok" and c.derived_from == "m1.sql:1"
    copy = one('ALTER TABLE "User" ADD COLUMN "tenant" TEXT;',
               'UPDATE "User" SET "tenant" = "phone";',
               'ALTER TABLE "User" ALTER COLUMN "tenant" SET NOT NULL;')
    assert copy.known is None and copy.value_sql == "(phone) IS NULL"
    partial = one('UPDATE "User" SET "phone" = \'?\' WHERE "id" > 10;',
                  'ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;')
    assert partial.value_sql == 'CASE WHEN (id > 10) THEN false ELSE ("phone" IS NULL) END'
    filled = one('UPDATE "User" SET "phone" = coalesce("phone", \'?\');',
                 'ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;')
    assert filled.value_sql == "(COALESCE(phone, '?')) IS NULL"


def test_what_cannot_be_followed_is_unknown():
    joined = one('UPDATE "User" u SET "phone" = p."phone" FROM "Profile" p WHERE p."userId" = u."id";',
                 'ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;')
    assert joined.known.result == "unknown"
    deleted = one('DELETE FROM "User" WHERE "phone" IS NULL;', 'ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;')
    assert deleted.known.result == "unknown" and "m0.sql:1" in deleted.known.reason
    rewritten = one('UPDATE "User" SET "email" = lower("email");',
                    'CREATE UNIQUE INDEX "e" ON "User" ("email");')
    assert rewritten.known.result == "unknown" and "email is changed" in rewritten.known.reason


def test_new_null_columns_cannot_collide():
    c = one('ALTER TABLE "User" ADD COLUMN "code" TEXT;', 'CREATE UNIQUE INDEX "c" ON "User" ("code");')
    assert (c.known.result, c.known.count) == ("ok", 0)


def test_renamed_tables_and_columns_are_checked_under_their_database_names():
    c = one('ALTER TABLE "Account" RENAME TO "User";', 'ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;')
    assert c.table.sql == '"Account"'
    col = one('ALTER TABLE "User" RENAME COLUMN "tel" TO "phone";',
              'ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;')
    assert (col.column, col.value_sql) == ("tel", '"tel" IS NULL')


def test_statements_that_lock_a_table_get_its_size():
    sizes = [(c.kind, c.line) for c in plan('ALTER TABLE "User" DROP COLUMN "x";\nCREATE INDEX "i" ON "User" ("a");\n'
                                            'VACUUM FULL "User";\nCLUSTER "User" USING "i";\nSELECT 1;',
                                            sizes=True)]
    assert sizes == [("table-size", 1), ("table-size", 2), ("table-size", 3), ("table-size", 4)]


def test_a_file_that_does_not_parse_plans_nothing():
    assert plan("ALTER TABLE oops", sizes=True) == []


def test_check_is_not_null_is_counted_like_not_null_and_follows_a_backfill():
    c = one('ALTER TABLE "User" ADD CONSTRAINT "c" CHECK ("phone" IS NOT NULL);')
    assert (c.kind, c.value_sql, c.rules) == ("not-null", '"phone" IS NULL', ("add-check-constraint",))
    later = one('ALTER TABLE "User" ADD CONSTRAINT "c" CHECK ("phone" IS NOT NULL) NOT VALID;',
                'UPDATE "User" SET "phone" = \'unknown\' WHERE "phone" IS NULL;',
                'ALTER TABLE "User" VALIDATE CONSTRAINT "c";')
    assert (later.kind, later.file, later.known.result) == ("not-null", "m2.sql", "ok")


def test_validate_of_an_applied_constraint_carries_what_the_deploy_changed():
    c = one('UPDATE "User" SET "phone" = \'unknown\' WHERE "phone" IS NULL;',
            'ALTER TABLE "User" VALIDATE CONSTRAINT "User_phone_not_null";')
    assert c.kind == "validate-constraint" and c.column_nulls == {"phone": "false"} and c.known is None
