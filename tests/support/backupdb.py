"""Databases worth backing up, and how to tell two of them hold the same data (backup tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

# Types and values that break naive dumps: NULLs, tabs/newlines/backslashes, unicode, bytea,
# jsonb, arrays, enums, a second schema, mixed-case names, a partitioned table, FKs, a view.
VARIED_SQL = r"""
CREATE TYPE mood AS ENUM ('happy', 'sad', 'it''s complicated');
CREATE SCHEMA billing;
CREATE TABLE users (
    id bigserial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    bio text,
    avatar bytea,
    prefs jsonb NOT NULL DEFAULT '{}',
    tags text[],
    mood mood,
    created_at timestamptz NOT NULL
);
CREATE TABLE "Orders" (
    "Id" bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id),
    amount numeric(12, 2) NOT NULL,
    placed_on date NOT NULL
);
CREATE TABLE billing.invoices (
    id int PRIMARY KEY,
    order_id bigint REFERENCES "Orders" ("Id"),
    lines jsonb,
    paid boolean
) ;
CREATE TABLE events (id bigint NOT NULL, at date NOT NULL, payload jsonb) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE empty_table (id int);
INSERT INTO users (email, bio, avatar, prefs, tags, mood, created_at)
SELECT 'u' || g || '@example.com',
       CASE WHEN g % 7 = 0 THEN NULL ELSE E'line one\n\tline two \\ back ' || g || ' ünïcødé ✓' END,
       CASE WHEN g % 5 = 0 THEN decode(md5(g::text), 'hex') END,
       jsonb_build_object('n', g, 'dark', g % 2 = 0, 'nested', jsonb_build_object('q', 'a"b')),
       ARRAY['t' || (g % 3), 'comma,inside'],
       (ARRAY['happy', 'sad', 'it''s complicated']::mood[])[1 + g % 3],
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'
FROM generate_series(1, 3000) g;
INSERT INTO "Orders" (user_id, amount, placed_on)
SELECT 1 + g % 3000, (g % 1000) / 7.0, date '2024-01-01' + g % 400 FROM generate_series(1, 8000) g;
INSERT INTO billing.invoices SELECT g, g, jsonb_build_array(g, 'x'), CASE g % 3 WHEN 0 THEN NULL ELSE g % 2 = 0 END
FROM generate_series(1, 2000) g;
INSERT INTO events SELECT g, date '2024-06-01' + (g % 300), jsonb_build_object('k', g) FROM generate_series(1, 5000) g;
CREATE INDEX users_prefs_gin ON users USING gin (prefs);
CREATE VIEW big_orders AS SELECT * FROM "Orders" WHERE amount > 100;
SELECT setval('users_id_seq', 5000);
"""

# Every ordinary table's content, order-independent, as one md5 per table.
_TABLES = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
ORDER BY 1, 2
"""


def seed_varied(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(VARIED_SQL)


def seed_bulk(url: str, rows: int, table: str = "bulk") -> None:
    """Rows of hard-to-compress hex text (about 100 bytes each): a dump that takes a while."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, a text, b text, c text)")
        conn.execute(f"INSERT INTO {table} SELECT g, md5(random()::text), md5(random()::text), md5(g::text) "
                     f"FROM generate_series(1, {rows}) g")


def content_hashes(url: str) -> dict[str, object]:
    """{'schema.table': md5 of all rows} plus sequence positions, views and enum labels."""
    out: dict[str, object] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for schema, name in conn.execute(_TABLES).fetchall():
            ident = f'"{schema}"."{name}"'
            h, n = conn.execute(
                f"SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')), count(*) FROM {ident} t"
            ).fetchone()
            out[f"{schema}.{name}"] = (h, n)
        for (seq,) in conn.execute("SELECT sequencename FROM pg_sequences ORDER BY 1").fetchall():
            out[f"seq:{seq}"] = conn.execute(f'SELECT last_value FROM "{seq}"').fetchone()[0]
        out["views"] = conn.execute("SELECT viewname, definition FROM pg_views WHERE schemaname = 'public' "
                                    "ORDER BY 1").fetchall()
        out["enums"] = conn.execute("SELECT enumlabel FROM pg_enum ORDER BY enumsortorder").fetchall()
        out["indexes"] = conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname NOT IN "
                                      "('pg_catalog') ORDER BY 1").fetchall()
    return out


def cli_env(url: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MIGTOOL_", "AWS_")) and k != "DATABASE_URL"}
    if url is not None:
        env["DATABASE_URL"] = url
    env.update(extra)
    return env


def run_cli(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "migtool", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def start_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "migtool", *args], env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def children(pid: int) -> list[int]:
    """Direct child processes of `pid` (Linux /proc)."""
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(x) for x in f.read().split()]
    except FileNotFoundError:
        pass
    return out


def process_name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def visible_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []
