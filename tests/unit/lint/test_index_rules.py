from migtool.lint import lint_sql


def by_rule(sql, rule):
    return [f for f in lint_sql(sql) if f.rule == rule]


def test_create_index_fix_is_the_same_statement_concurrently():
    f = by_rule('CREATE UNIQUE INDEX "User_email_key"\n  ON "User"("email") WHERE "deleted" IS NULL;',
                "create-index-blocking")[0]
    assert 'CREATE UNIQUE INDEX CONCURRENTLY "User_email_key" ON "User"("email") WHERE "deleted" IS NULL;' in f.fix
    assert 'DROP INDEX CONCURRENTLY IF EXISTS "User_email_key"' in f.fix
    assert "own" in f.fix


def test_create_index_on_a_schema_qualified_table():
    f = by_rule('CREATE INDEX ON app."User" ("a");', "create-index-blocking")[0]
    assert '"app"."User"' in f.message and "CREATE INDEX CONCURRENTLY ON app." in f.fix


def test_drop_index_lists_each_index_concurrently():
    f = by_rule('DROP INDEX "a", app."b";', "drop-index-blocking")[0]
    assert 'DROP INDEX CONCURRENTLY IF EXISTS "a"; DROP INDEX CONCURRENTLY IF EXISTS "app"."b";' in f.fix


def test_unique_constraint_fix_builds_the_index_concurrently_then_attaches_it():
    f = by_rule('ALTER TABLE "User" ADD UNIQUE ("email", "tenant");', "add-unique-constraint")[0]
    assert 'CREATE UNIQUE INDEX CONCURRENTLY "User_email_tenant_key" ON "User" ("email", "tenant");' in f.fix
    assert 'ADD CONSTRAINT "User_email_tenant_key" UNIQUE USING INDEX "User_email_tenant_key";' in f.fix


def test_primary_key_fix_uses_using_index():
    f = by_rule('ALTER TABLE "Event" ADD PRIMARY KEY ("id");', "add-primary-key")[0]
    assert 'CREATE UNIQUE INDEX CONCURRENTLY "Event_pkey" ON "Event" ("id");' in f.fix
    assert 'ADD CONSTRAINT "Event_pkey" PRIMARY KEY USING INDEX "Event_pkey";' in f.fix
    assert "@unique" not in f.fix
