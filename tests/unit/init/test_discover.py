"""`migtool init`'s discovery and rendering on the example project and on two differently laid-out ones."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from migtool.config import load_config
from migtool.init.discover import discover
from migtool.init.render import render
from tests.support.sample_projects import no_migrate_service, root_compose_db

REPO = Path(__file__).resolve().parents[3]


def _example(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "deploy", tmp_path / "deploy", ignore=shutil.ignore_patterns(".env"))
    shutil.copytree(REPO / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("node_modules"))
    return tmp_path


def _written_config(tmp_path: Path, text: str):
    path = tmp_path / "migtool.yaml"
    path.write_text(text)
    return load_config(path, environ={}, cwd=tmp_path)


def test_example_project(tmp_path):
    root = _example(tmp_path)
    d = discover(root)
    assert d.target.value == "compose"
    assert [d.rel(p) for p in d.compose_files.value] == ["deploy/docker-compose.yml"]
    assert d.postgres_service.value == "postgres"
    assert "pg_isready" in d.postgres_service.why
    assert d.migrate_service.value == "migrate" and "prisma migrate deploy" in d.migrate_service.why
    assert d.app_services.value == ["app"]
    assert d.rel(d.migrations_dir.value) == "examples/prisma-app/prisma/migrations"
    assert "prisma.config.ts" in d.migrations_dir.why
    assert not d.migrate_missing and d.migrate_snippet is None
    assert any("DB_PASSWORD" in line and "services.app.environment" in line for line in d.database_url)

    config = _written_config(root, render(d))
    assert config.compose_file == (root / "deploy/docker-compose.yml",)
    assert config.migrations_dir == root / "examples/prisma-app/prisma/migrations"
    assert (config.postgres_service, config.migrate_service, config.app_services) == ("postgres", "migrate", ("app",))


def test_root_compose_with_service_named_db(tmp_path):
    root = root_compose_db(tmp_path)
    d = discover(root)
    assert [d.rel(p) for p in d.compose_files.value] == ["compose.yaml"]
    assert d.postgres_service.value == "db"
    assert "postgres:16-alpine" in d.postgres_service.why and "pg_isready" in d.postgres_service.why
    assert d.migrate_service.value == "migrate"
    # worker neither sets DATABASE_URL nor depends on db: not an app service
    assert d.app_services.value == ["web"]
    assert d.rel(d.migrations_dir.value) == "prisma/migrations"
    assert any("PGPASS" in line and "come from .env" in line for line in d.database_url)
    text = render(d)
    assert "not-a-real-secret-123" not in text  # the .env's value is read only to resolve images, never shown
    config = _written_config(root, text)
    assert config.postgres_service == "db" and config.compose_file == (root / "compose.yaml",)


def test_project_without_migrate_service(tmp_path):
    root = no_migrate_service(tmp_path)
    d = discover(root)
    assert d.postgres_service.value == "database"
    assert d.migrate_missing and d.migrate_service.value == "migrate" and not d.migrate_service.sure
    assert d.app_services.value == ["api"]
    assert d.rel(d.migrations_dir.value) == "app/db/migrations"
    assert any("env_file .env.api" in line for line in d.database_url)
    snippet = yaml.safe_load(d.migrate_snippet)
    assert snippet["migrate"]["image"] == "acme/api:1.2"
    assert snippet["migrate"]["env_file"] == [".env.api"]
    assert snippet["migrate"]["profiles"] == ["migrate"]
    assert snippet["migrate"]["command"] == ["pnpm", "exec", "prisma", "migrate", "deploy"]
    assert snippet["migrate"]["depends_on"] == {"database": {"condition": "service_started"}}
    assert "example" not in d.migrate_snippet  # the password in .env.api stays there
    config = _written_config(root, render(d))
    assert config.migrate_service == "migrate"


def test_literal_password_in_app_url_is_not_copied_into_the_snippet(tmp_path):
    (tmp_path / "compose.yaml").write_text(
        "services:\n  pg:\n    image: postgres:15\n  app:\n    image: me/app\n"
        "    environment:\n      DATABASE_URL: postgresql://u:hunter2@pg/app\n")
    d = discover(tmp_path)
    assert d.migrate_missing
    assert "hunter2" not in d.migrate_snippet and "${DATABASE_URL}" in d.migrate_snippet
    assert "hunter2" not in render(d)
    assert any("literal URL" in line for line in d.database_url)


def test_no_compose_file_means_direct_target(tmp_path):
    (tmp_path / "prisma" / "migrations").mkdir(parents=True)
    (tmp_path / "prisma" / "schema.prisma").write_text('datasource db { url = env("DATABASE_URL") }\n')
    (tmp_path / ".env").write_text("DATABASE_URL=postgresql://u:pw@localhost/app\n")
    d = discover(tmp_path)
    assert d.target.value == "direct" and d.compose_files is None
    assert any(".env defines DATABASE_URL" in line for line in d.database_url)
    config = _written_config(tmp_path, render(d))
    assert config.target == "direct" and config.database_url is None  # never copied from .env
