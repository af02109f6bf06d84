from migtool.lint import lint_sql


def fired(sql):
    return [f for f in lint_sql(sql) if f.rule == "concurrently-in-transaction"]


def test_alone_in_its_file_is_fine_even_with_comments():
    assert fired('-- CreateIndex\n-- built concurrently\nCREATE INDEX CONCURRENTLY "i" ON "Order"("userId");\n') == []


def test_with_other_statements_prisma_runs_it_in_one_transaction():
    found = fired('SET lock_timeout = \'5s\';\nCREATE INDEX CONCURRENTLY "i" ON "Order"("userId");')
    assert len(found) == 1
    assert "2 statements" in found[0].message and "Prisma" in found[0].message
    assert found[0].line == 2


def test_inside_begin_commit_names_the_transaction_block():
    found = fired('BEGIN;\nDROP INDEX CONCURRENTLY "i";\nCOMMIT;')
    assert len(found) == 1 and "BEGIN" in found[0].message


def test_create_index_concurrently_is_not_reported_as_blocking():
    rules = {f.rule for f in lint_sql('CREATE INDEX CONCURRENTLY "i" ON "Order"("userId");')}
    assert "create-index-blocking" not in rules and "missing-lock-timeout" not in rules
