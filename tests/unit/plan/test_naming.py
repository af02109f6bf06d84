from datetime import UTC, datetime

from migtool.plan.naming import (
    foreign_key_name,
    index_name,
    prisma_default,
    prisma_type,
    qi,
    slug,
    timestamps,
    truncate,
)


def test_identifiers_are_quoted_as_prisma_writes_them():
    assert qi("User") == '"User"'
    assert qi("phone") == '"phone"'
    assert qi('we"ird') == '"we""ird"'


def test_prisma_default_names():
    assert index_name("Order", ["userId"]) == "Order_userId_idx"
    assert index_name("User", ["email"], unique=True) == "User_email_key"
    assert foreign_key_name("Order", ["userId"]) == "Order_userId_fkey"


def test_names_are_cut_at_63_bytes_like_postgresql():
    long = index_name("T" * 40, ["c" * 40])
    assert len(long.encode()) == 63
    assert truncate("é" * 40).encode().__len__() <= 63  # never half a character


def test_slug_is_snake_case():
    assert slug("User", "phone") == "user_phone"
    assert slug("Order", "userId") == "order_user_id"
    assert slug("DECIMAL") == "decimal"


def test_timestamps_follow_the_newest_migration_and_increase():
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert timestamps(2, ["20240101000000_a"], now) == ["20250101120000", "20250101120001"]
    # a migration from "later" than now (clock skew, a teammate in another zone): go after it
    assert timestamps(2, ["20250101120005_b", "not_a_migration"], now) == ["20250101120006", "20250101120007"]


def test_prisma_types():
    assert prisma_type("TEXT") == "String"
    assert prisma_type("integer") == "Int"
    assert prisma_type("numeric(10, 2)") == "Decimal @db.Decimal(10, 2)"
    assert prisma_type("VARCHAR(20)") == "String @db.VarChar(20)"
    assert prisma_type("timestamp(3)") == "DateTime"
    assert prisma_type("timestamp(3) without time zone") == "DateTime"
    assert prisma_type("timestamptz") == "DateTime @db.Timestamptz"
    assert prisma_type('"OrderStatus"') == "OrderStatus"
    assert prisma_type("text[]") == "String[]"


def test_prisma_defaults():
    assert prisma_default("'UNKNOWN'") == '@default("UNKNOWN")'
    assert prisma_default("'unknown'::text") == '@default("unknown")'
    assert prisma_default("0") == "@default(0)"
    assert prisma_default("TRUE") == "@default(true)"
    assert prisma_default("CURRENT_TIMESTAMP") == "@default(now())"
    assert prisma_default("gen_random_uuid()") == '@default(dbgenerated("gen_random_uuid()"))'
