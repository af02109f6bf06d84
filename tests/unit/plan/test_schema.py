import pytest
from pglast import parse_sql

from migtool.errors import ExitCode
from migtool.plan.schema import NameNotFound, Schema, apply_statement, closest, estimate_rows

SQL = """
CREATE TABLE "User" ("id" SERIAL NOT NULL, "email" TEXT NOT NULL, "name" TEXT,
    CONSTRAINT "User_pkey" PRIMARY KEY ("id"));
CREATE TABLE "Order" ("id" SERIAL PRIMARY KEY, "userId" INTEGER NOT NULL, "total" DECIMAL(10,2) NOT NULL);
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
ALTER TABLE "Order" ADD CONSTRAINT "Order_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id");
ALTER TABLE "User" ADD COLUMN "phone" TEXT;
ALTER TABLE "User" ALTER COLUMN "phone" SET DEFAULT 'unknown';
ALTER TABLE "User" ALTER COLUMN "phone" SET NOT NULL;
ALTER TABLE "User" RENAME COLUMN "name" TO "fullName";
CREATE TABLE "Old" ("id" INT);
DROP TABLE "Old";
ALTER TABLE "Order" ALTER COLUMN "total" TYPE DECIMAL(12,2);
"""


def folder_schema() -> Schema:
    schema = Schema()
    for raw in parse_sql(SQL):
        apply_statement(schema, raw.stmt)
    return schema


def test_the_folder_schema_follows_the_migrations():
    s = folder_schema()
    assert sorted(s.tables) == ["Order", "User"]
    user = s.tables["User"]
    assert list(user.columns) == ["id", "email", "phone", "fullName"]
    assert user.primary_key == ["id"]
    assert user.columns["id"].type == "integer" and user.columns["id"].not_null
    assert user.columns["phone"].not_null and user.columns["phone"].default == "'unknown'"
    assert [i.name for i in user.indexes] == ["User_email_key"] and user.indexes[0].unique
    assert user.referenced_by == [("Order", "Order_userId_fkey")]
    assert s.tables["Order"].columns["total"].type == "numeric(12, 2)"
    assert s.tables["Order"].primary_key == ["id"]


def test_closest_match():
    names = ["User", "Order", "OrderItem"]
    assert closest("user", names) == "User"
    assert closest("Oder", names) == "Order"
    assert closest("Invoice", names) is None


def test_a_missing_name_is_a_usage_error_naming_the_closest():
    s = folder_schema()
    with pytest.raises(NameNotFound) as exc:
        s.column("User", "emial")
    assert exc.value.exit_code == ExitCode.USAGE
    assert str(exc.value) == 'column "emial" not found in table "User" (the migrations folder); did you mean "email"?'
    assert exc.value.suggestion == "email"


def test_row_estimates():
    assert estimate_rows(1500, 1400) == 1500
    assert estimate_rows(-1, 2000) == 2000  # never analyzed: the collector's count
    assert estimate_rows(0, 5000) == 5000  # 0 since an index was built on the empty table
    assert estimate_rows(0, 0) == 0
    assert estimate_rows(-1, None) is None
