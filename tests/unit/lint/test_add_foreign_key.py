from migtool.lint import lint_sql


def fired(sql):
    return [f for f in lint_sql(sql) if f.rule == "add-foreign-key"]


def test_fix_keeps_the_whole_constraint_and_adds_not_valid_then_validate():
    f = fired('ALTER TABLE "Order" ADD CONSTRAINT "Order_userId_fkey" FOREIGN KEY ("userId") '
              'REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;')[0]
    assert ('ALTER TABLE "Order" ADD CONSTRAINT "Order_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") '
            'ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;') in f.fix
    assert 'ALTER TABLE "Order" VALIDATE CONSTRAINT "Order_userId_fkey";' in f.fix
    assert '"User"' in f.message


def test_unnamed_foreign_key_in_a_multi_clause_alter_gets_postgres_default_name():
    f = fired('ALTER TABLE "Order" ADD COLUMN "note" TEXT, ADD FOREIGN KEY ("userId", "shopId") '
              'REFERENCES "Member"("userId", "shopId");')[0]
    assert 'ADD CONSTRAINT "Order_userId_shopId_fkey" FOREIGN KEY ("userId", "shopId") REFERENCES "Member"' in f.fix
    assert ", ADD COLUMN" not in f.fix and "NOT VALID;" in f.fix


def test_column_with_references_on_an_existing_table():
    f = fired('ALTER TABLE "Order" ADD COLUMN "couponId" INTEGER REFERENCES "Coupon"("id");')[0]
    assert 'ADD COLUMN "couponId" integer;' in f.fix
    assert 'CONSTRAINT "Order_couponId_fkey" FOREIGN KEY ("couponId") REFERENCES "Coupon" ("id") NOT VALID' in f.fix


def test_foreign_key_on_a_new_table_to_an_existing_one_is_fine():
    assert fired('CREATE TABLE "Post" ("authorId" INT REFERENCES "User"("id"));') == []
