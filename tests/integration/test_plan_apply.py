"""Each `migtool plan` kind, generated against a live database holding data, lints clean and applies
in order while an app-like writer (its own connection, inserting, updating and reading in a loop with
the columns the running release's code knows) keeps working: not a single error.

Each migration file is executed the way Prisma executes it: the whole file sent as one script (simple
query protocol), so a file of several statements runs as one implicit transaction and a lone DO block
or CREATE INDEX CONCURRENTLY runs outside any transaction block.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from migtool.cli import main
from migtool.lint import lint_files

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "prisma-app" / "prisma" / "migrations"
USERS, ORDERS = 3000, 6000

# What the app's tables hold beyond the example: a nullable reference without a foreign key yet, and a
# Coupon table that Order references (for drop-table).
EXTRA = """
CREATE TABLE "Coupon" ("id" SERIAL NOT NULL, "code" TEXT NOT NULL, CONSTRAINT "Coupon_pkey" PRIMARY KEY ("id"));
ALTER TABLE "Order" ADD COLUMN "referrerId" INTEGER;
ALTER TABLE "Order" ADD COLUMN "couponId" INTEGER;
ALTER TABLE "Order" ADD CONSTRAINT "Order_couponId_fkey" FOREIGN KEY ("couponId") REFERENCES "Coupon"("id")
    ON DELETE SET NULL ON UPDATE CASCADE;
"""


def apply_like_prisma(conn: psycopg.Connection, sql: str) -> None:
    """One script, no parameters: psycopg then uses the simple query protocol, as Prisma's migrate does."""
    conn.execute(sql)


@pytest.fixture
def app_db(pg_url, tmp_path, monkeypatch):
    """A database built by the example's migrations plus EXTRA, holding users and orders; a copy of the
    migrations folder (with EXTRA as a migration) as the project's; migtool pointed at both."""
    migrations = tmp_path / "prisma" / "migrations"
    shutil.copytree(EXAMPLE, migrations)
    extra = migrations / "20250301090000_coupons_and_referrer"
    extra.mkdir()
    (extra / "migration.sql").write_text(EXTRA)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for folder in sorted(p for p in migrations.iterdir() if p.is_dir()):
            apply_like_prisma(conn, (folder / "migration.sql").read_text())
        conn.execute("""INSERT INTO "Coupon" ("code") SELECT 'C' || g FROM generate_series(1, 50) g""")
        conn.execute(f"""INSERT INTO "User" ("email", "name", "phone")
                         SELECT 'u' || g || '@example.com', CASE WHEN g % 7 = 0 THEN NULL ELSE 'name ' || g END,
                                '+1-' || g FROM generate_series(1, {USERS}) g""")
        conn.execute(f"""INSERT INTO "Order" ("userId", "total", "status", "referrerId", "couponId")
                         SELECT 1 + g % {USERS}, (g % 500) + 0.25, 'PENDING',
                                CASE WHEN g % 3 = 0 THEN 1 + g % 100 END, CASE WHEN g % 5 = 0 THEN 1 + g % 50 END
                           FROM generate_series(1, {ORDERS}) g""")
        conn.execute("ANALYZE")
    for var in list(os.environ):
        if var.startswith("MIGTOOL_") or var in ("DB_USER", "DB_NAME"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIGTOOL_TARGET", "direct")
    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("MIGTOOL_MIGRATIONS_DIR", str(migrations))
    return pg_url


class Writer(threading.Thread):
    """The application: one connection, a tiny transaction per statement, as the running release's
    code writes. `code` is swapped when a release ships."""

    def __init__(self, url: str, code: Callable[[psycopg.Connection, random.Random], None]):
        super().__init__(daemon=True)
        self.conn = psycopg.connect(url, autocommit=True)
        self.code = code
        self.errors: list[str] = []
        self.ops = 0
        self._halt = threading.Event()
        self.rng = random.Random(7)

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self.code(self.conn, self.rng)
                self.ops += 1
            except psycopg.Error as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}".strip())
            time.sleep(0.002)

    def stop(self) -> None:
        self._halt.set()
        self.join(10)
        self.conn.close()


def plan(capsys, *argv: str) -> dict:
    code = main(["plan", *argv, "--out", "plan", "--batch-size", "200", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def lint_clean(data: dict) -> None:
    files = [Path("plan") / m["folder"] / "migration.sql" for r in data["releases"] for m in r["migrations"]]
    report = lint_files(files, 15)
    bad = [f"{f.file}:{f.line} {f.rule} {f.severity}" for f in report.findings
           if not f.suppressed and f.severity in ("danger", "warning")]
    assert bad == []
    for f in report.findings:
        if f.suppressed:  # the intentional contract steps say why
            assert f.suppression_reason and "contract step" in f.suppression_reason or f.rule == "backfill-in-migration"


def roll_out(url: str, data: dict, codes: list[Callable]) -> Writer:
    """Deploy release after release: each release's migrations run while the previous release's code
    (codes[i]) writes; then the release's own code (codes[i + 1]) takes over."""
    assert len(codes) == len(data["releases"]) + 1
    writer = Writer(url, codes[0])
    writer.start()
    try:
        with psycopg.connect(url, autocommit=True) as migrate:
            for i, release in enumerate(data["releases"]):
                writer.code = codes[i]
                for m in release["migrations"]:
                    time.sleep(0.15)  # the app writes between migrations too
                    before = writer.ops
                    apply_like_prisma(migrate, (Path("plan") / m["folder"] / "migration.sql").read_text())
                    assert writer.errors == [], (m["folder"], writer.errors[:3])
                    if "DO $$" in m["sql"]:
                        # a batched backfill commits between batches: the app keeps writing meanwhile
                        assert writer.ops > before, (m["folder"], "the writer made no progress during the backfill")
                time.sleep(0.15)
                writer.code = codes[i + 1]
        time.sleep(0.2)
    finally:
        writer.stop()
    assert writer.errors == []
    assert writer.ops > 50
    return writer


def columns(url: str, table: str) -> dict[str, tuple[str, bool, str | None]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """SELECT attname, format_type(atttypid, atttypmod), attnotnull, pg_get_expr(adbin, adrelid)
                 FROM pg_attribute LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum
                WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped""", (f'"{table}"',)).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def scalar(url: str, sql: str):
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchone()[0]


def _user_id(rng) -> int:
    return rng.randint(1, USERS)


# --- the app's code, release by release ------------------------------------------------------------

def order_v0(conn, rng):
    """Old code: knows userId, total, status."""
    conn.execute('INSERT INTO "Order" ("userId", "total") VALUES (%s, %s)', (_user_id(rng), 9.5))
    conn.execute('UPDATE "Order" SET "status" = \'PAID\' WHERE "id" = %s', (rng.randint(1, ORDERS),))
    conn.execute('SELECT "id", "userId", "total", "status", "createdAt" FROM "Order" WHERE "id" = %s',
                 (rng.randint(1, ORDERS),)).fetchall()


def test_add_required_column_applies_under_load(app_db, capsys):
    data = plan(capsys, "add-required-column", "Order", "currency", "TEXT", "--default", "EUR", "--small-below", "0")
    assert [len(r["migrations"]) for r in data["releases"]] == [1, 1, 4]
    assert "DO $$" in data["releases"][1]["migrations"][0]["sql"]  # batched: small-below 0
    lint_clean(data)

    def order_v2(conn, rng):  # release 2: always sets currency
        conn.execute('INSERT INTO "Order" ("userId", "total", "currency") VALUES (%s, %s, %s)',
                     (_user_id(rng), 3, "USD"))
        conn.execute('UPDATE "Order" SET "currency" = \'GBP\' WHERE "id" = %s', (rng.randint(1, ORDERS),))

    roll_out(app_db, data, [order_v0, order_v0, order_v2, order_v2])
    assert columns(app_db, "Order")["currency"] == ("text", True, "'EUR'::text")
    assert scalar(app_db, 'SELECT count(*) FROM "Order" WHERE "currency" IS NULL') == 0
    assert scalar(app_db, "SELECT count(*) FROM pg_constraint WHERE conname = 'Order_currency_not_null'") == 0


def test_add_required_column_small_table_is_one_update(app_db, capsys):
    data = plan(capsys, "add-required-column", "Coupon", "kind", "TEXT", "--default", "percent")
    backfill = data["releases"][1]["migrations"][0]["sql"]
    assert 'UPDATE "Coupon" SET "kind" = \'percent\' WHERE "kind" IS NULL;' in backfill
    assert "DO $$" not in backfill
    lint_clean(data)

    def coupon_v0(conn, rng):
        conn.execute('INSERT INTO "Coupon" ("code") VALUES (%s)', (f"X{rng.random()}",))

    def coupon_v2(conn, rng):
        conn.execute('INSERT INTO "Coupon" ("code", "kind") VALUES (%s, %s)', (f"Y{rng.random()}", "fixed"))

    roll_out(app_db, data, [coupon_v0, coupon_v0, coupon_v2, coupon_v2])
    assert columns(app_db, "Coupon")["kind"][1] is True


def test_rename_column_with_unique_index_applies_under_load(app_db, capsys):
    data = plan(capsys, "rename-column", "User", "email", "emailAddress")
    sql = [m["sql"] for r in data["releases"] for m in r["migrations"]]
    assert any('CREATE UNIQUE INDEX CONCURRENTLY "User_emailAddress_key"' in s for s in sql)
    lint_clean(data)
    written: dict[str, str] = {}

    def user_v0(conn, rng):  # old code: email
        email = f"old{rng.random()}@example.com"
        conn.execute('INSERT INTO "User" ("email", "name") VALUES (%s, %s)', (email, "old"))
        written[email] = email
        conn.execute('UPDATE "User" SET "email" = "email" || \'.x\' WHERE "id" = %s', (_user_id(rng),))
        conn.execute('SELECT "id", "email", "name" FROM "User" WHERE "id" = %s', (_user_id(rng),)).fetchall()

    def user_v2(conn, rng):  # new code: emailAddress only
        email = f"new{rng.random()}@example.com"
        conn.execute('INSERT INTO "User" ("emailAddress", "name") VALUES (%s, %s)', (email, "new"))
        written[email] = email
        conn.execute('UPDATE "User" SET "emailAddress" = "emailAddress" || \'.y\' WHERE "id" = %s', (_user_id(rng),))
        conn.execute('SELECT "id", "emailAddress" FROM "User" WHERE "id" = %s', (_user_id(rng),)).fetchall()

    roll_out(app_db, data, [user_v0, user_v0, user_v2, user_v2])
    cols = columns(app_db, "User")
    assert "email" not in cols and cols["emailAddress"] == ("text", True, None)
    assert scalar(app_db, 'SELECT count(*) FROM "User"') == USERS + len(written)
    assert scalar(app_db, """SELECT count(*) FROM pg_index WHERE indexrelid = '"User_emailAddress_key"'::regclass
                             AND indisvalid AND indisunique""") == 1
    with psycopg.connect(app_db) as conn:  # every row inserted by either release kept its address
        present = {r[0] for r in conn.execute('SELECT "emailAddress" FROM "User"')}
    assert all(any(p.startswith(e) for p in present) for e in list(written)[:200])


def test_change_column_type_applies_under_load(app_db, capsys):
    data = plan(capsys, "change-column-type", "Order", "total", "DECIMAL(12,2)")
    lint_clean(data)

    def order_v2(conn, rng):  # new code: total_decimal only (Prisma: total Decimal @map("total_decimal"))
        conn.execute('INSERT INTO "Order" ("userId", "total_decimal") VALUES (%s, %s)', (_user_id(rng), 12345678.5))
        conn.execute('UPDATE "Order" SET "total_decimal" = 1.5 WHERE "id" = %s', (rng.randint(1, ORDERS),))

    roll_out(app_db, data, [order_v0, order_v0, order_v2, order_v2])
    cols = columns(app_db, "Order")
    assert "total" not in cols and cols["total_decimal"][:2] == ("numeric(12,2)", True)
    assert scalar(app_db, 'SELECT count(*) FROM "Order" WHERE "total_decimal" IS NULL') == 0
    assert scalar(app_db, 'SELECT count(*) FROM "Order" WHERE "id" <= 6000 AND "total_decimal" = 0.25') > 0


def test_add_foreign_key_applies_under_load(app_db, capsys):
    data = plan(capsys, "add-foreign-key", "Order", "referrerId", "User")
    assert "when planned: none" in data["releases"][0]["before_deploy"][0]
    lint_clean(data)

    def order_ref(conn, rng):
        conn.execute('INSERT INTO "Order" ("userId", "total", "referrerId") VALUES (%s, 1, %s)',
                     (_user_id(rng), _user_id(rng)))
        order_v0(conn, rng)

    roll_out(app_db, data, [order_ref, order_ref])
    assert scalar(app_db, "SELECT convalidated FROM pg_constraint WHERE conname = 'Order_referrerId_fkey'") is True


def test_add_index_applies_under_load(app_db, capsys):
    data = plan(capsys, "add-index", "Order", "status,createdAt")
    [migration] = data["releases"][0]["migrations"]
    assert migration["sql"].rstrip().splitlines()[-1] == \
        'CREATE INDEX CONCURRENTLY "Order_status_createdAt_idx" ON "Order"("status", "createdAt");'
    lint_clean(data)
    roll_out(app_db, data, [order_v0, order_v0])
    assert scalar(app_db, """SELECT indisvalid FROM pg_index
                             WHERE indexrelid = '"Order_status_createdAt_idx"'::regclass""") is True


def test_drop_column_not_null_applies_under_load(app_db, capsys):
    data = plan(capsys, "drop-column", "User", "email")
    assert "DROP NOT NULL" in data["releases"][0]["migrations"][0]["sql"]  # so release 1 may omit it
    lint_clean(data)

    def user_v0(conn, rng):
        conn.execute('INSERT INTO "User" ("email", "name") VALUES (%s, %s)', (f"a{rng.random()}", "a"))
        conn.execute('SELECT "id", "email" FROM "User" WHERE "id" = %s', (_user_id(rng),)).fetchall()

    def user_v1(conn, rng):  # stopped using email
        conn.execute('INSERT INTO "User" ("name") VALUES (%s)', ("b",))
        conn.execute('UPDATE "User" SET "name" = \'c\' WHERE "id" = %s', (_user_id(rng),))

    roll_out(app_db, data, [user_v0, user_v1, user_v1])
    assert "email" not in columns(app_db, "User")


def test_drop_table_referenced_applies_under_load(app_db, capsys):
    data = plan(capsys, "drop-table", "Coupon")
    sql = data["releases"][1]["migrations"][0]["sql"]
    assert 'ALTER TABLE "Order" DROP CONSTRAINT "Order_couponId_fkey";' in sql
    lint_clean(data)

    def order_coupon(conn, rng):
        conn.execute('INSERT INTO "Order" ("userId", "total", "couponId") VALUES (%s, 2, %s)',
                     (_user_id(rng), rng.randint(1, 50)))
        conn.execute('SELECT "code" FROM "Coupon" WHERE "id" = %s', (rng.randint(1, 50),)).fetchall()

    roll_out(app_db, data, [order_coupon, order_v0, order_v0])
    assert scalar(app_db, "SELECT to_regclass('\"Coupon\"') IS NULL") is True


def test_a_table_without_primary_key_is_backfilled_by_ctid(app_db, capsys):
    with psycopg.connect(app_db, autocommit=True) as conn:
        conn.execute('CREATE TABLE "Log" ("at" TIMESTAMP(3) NOT NULL DEFAULT now(), "line" TEXT)')
        conn.execute("""INSERT INTO "Log" ("line") SELECT 'l' || g FROM generate_series(1, 3000) g""")
        conn.execute('ANALYZE "Log"')
    data = plan(capsys, "add-required-column", "Log", "level", "TEXT", "--default", "info", "--small-below", "0")
    assert "WHERE ctid = ANY" in data["releases"][1]["migrations"][0]["sql"]
    lint_clean(data)

    def log_v0(conn, rng):
        conn.execute('INSERT INTO "Log" ("line") VALUES (%s)', ("x",))
        conn.execute('UPDATE "Log" SET "line" = \'y\' WHERE "line" = %s', (f"l{rng.randint(1, 3000)}",))

    def log_v2(conn, rng):
        conn.execute('INSERT INTO "Log" ("line", "level") VALUES (%s, %s)', ("z", "warn"))

    roll_out(app_db, data, [log_v0, log_v0, log_v2, log_v2])
    assert scalar(app_db, 'SELECT count(*) FROM "Log" WHERE "level" IS NULL') == 0
    assert columns(app_db, "Log")["level"][1] is True
