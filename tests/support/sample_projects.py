"""Small projects laid out differently from the example, for `migtool init` tests."""

from __future__ import annotations

from pathlib import Path

MIGRATION = "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);\n"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def root_compose_db(root: Path, postgres_image: str = "postgres:16-alpine") -> Path:
    """compose.yaml at the root, postgres service named `db` (found by its pg_isready healthcheck and
    image), an app built from the folder, a migrate service with a `tools` profile; schema.prisma only."""
    _write(root / "compose.yaml", f"""\
services:
  db:
    image: ${{PG_IMAGE:-{postgres_image}}}
    environment:
      POSTGRES_PASSWORD: ${{PGPASS:?set PGPASS}}
    healthcheck:
      test: ["CMD", "pg_isready", "-U", "postgres"]
  web:
    build: .
    environment:
      DATABASE_URL: postgres://postgres:${{PGPASS}}@db:5432/postgres
    depends_on: [db]
  worker:
    build: .
    command: node worker.js
  migrate:
    build: .
    command: npx prisma migrate deploy
    profiles: [tools]
    depends_on: [db]
""")
    _write(root / ".env", "PGPASS=not-a-real-secret-123\n")
    _write(root / "Dockerfile", "FROM scratch\n")
    _write(root / "prisma" / "schema.prisma",
           'datasource db {\n  provider = "postgresql"\n  url      = env("DATABASE_URL")\n}\n')
    _write(root / "prisma" / "migrations" / "20250101000000_init" / "migration.sql", MIGRATION)
    return root


def no_migrate_service(root: Path) -> Path:
    """docker-compose.yml at the root with a bitnami postgres named `database`, an `api` service whose
    DATABASE_URL comes from an env_file, and prisma.config.ts pointing at app/db/migrations."""
    _write(root / "docker-compose.yml", """\
services:
  database:
    image: bitnami/postgresql:16
    environment:
      POSTGRESQL_PASSWORD: example
  api:
    image: acme/api:1.2
    env_file: [.env.api]
    depends_on:
      - database
""")
    _write(root / ".env.api", "DATABASE_URL=postgresql://app:example@database:5432/app\n")
    _write(root / "app" / "package.json", '{"name": "api", "scripts": {"start": "node index.js"}}\n')
    _write(root / "app" / "pnpm-lock.yaml", "lockfileVersion: '9.0'\n")
    _write(root / "app" / "prisma.config.ts", """\
import { defineConfig } from "prisma/config";
export default defineConfig({
  // schema: "ignored/schema.prisma",
  schema: "db/schema.prisma",
  migrations: { path: "db/migrations" },
});
""")
    _write(root / "app" / "db" / "schema.prisma", 'datasource db {\n  provider = "postgresql"\n}\n')
    _write(root / "app" / "db" / "migrations" / "20250101000000_init" / "migration.sql", MIGRATION)
    # A decoy that must not win: dependencies are never searched.
    _write(root / "app" / "node_modules" / "x" / "prisma" / "schema.prisma", "")
    return root
