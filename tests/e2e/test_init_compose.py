"""`migtool init` end to end: writes migtool.yaml, then the doctor runs on it with real docker compose."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.sample_projects import no_migrate_service, root_compose_db

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def migtool(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MIGTOOL_", "COMPOSE_")) and k != "DATABASE_URL"}
    return subprocess.run([sys.executable, "-m", "migtool", *args], env={**base, **(env or {})}, cwd=cwd,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


def _doctor(cwd: Path, env: dict[str, str] | None = None) -> dict[str, dict]:
    res = migtool(cwd, "doctor", "--json", env=env)
    return {c["name"]: c for c in json.loads(res.stdout)["checks"]}


def test_init_on_the_example_project_passes_the_doctor(compose_stack, tmp_path):
    shutil.copytree(REPO / "deploy", tmp_path / "deploy")
    shutil.copytree(REPO / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("node_modules"))
    # The running stack is this compose file under its own project name and env file.
    stack = {"MIGTOOL_COMPOSE_PROJECT": compose_stack.project_name,
             "MIGTOOL_COMPOSE_ENV_FILE": str(compose_stack.env_file)}

    refused = migtool(tmp_path, "init")  # no terminal and no --yes: asks nobody, writes nothing
    assert refused.returncode == 2 and "migtool init --yes" in refused.stderr
    assert not (tmp_path / "migtool.yaml").exists()

    res = migtool(tmp_path, "init", "--yes", env=stack)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "migrate_service: migrate" in res.stderr and "prisma.config.ts" in res.stderr
    assert "✔ database reachable" in res.stdout and "✘" not in res.stdout
    written = yaml.safe_load((tmp_path / "migtool.yaml").read_text())
    assert written["compose_file"] == "deploy/docker-compose.yml"
    assert written["migrations_dir"] == "examples/prisma-app/prisma/migrations"
    assert compose_stack.db_password not in res.stdout + res.stderr + (tmp_path / "migtool.yaml").read_text()

    before = (tmp_path / "migtool.yaml").read_text()
    again = migtool(tmp_path, "init", "--yes", env=stack)
    assert again.returncode == 1 and "--force" in again.stderr
    assert (tmp_path / "migtool.yaml").read_text() == before
    (tmp_path / "migtool.yaml").write_text("target: nonsense\n")  # a broken file does not block --force
    forced = migtool(tmp_path, "init", "--yes", "--force", "--no-doctor")
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "migtool.yaml").read_text().count("target: compose") == 1


def test_init_on_root_compose_with_db_service(compose_stack, tmp_path):
    # The official image may not be pullable here: point the sample at the image the stack runs.
    image = compose_stack.compose("config", "--format", "json")
    pg_image = json.loads(image.stdout)["services"]["postgres"]["image"]
    root_compose_db(tmp_path, postgres_image=pg_image)
    res = migtool(tmp_path, "init", "--yes")
    assert "postgres_service: db" in res.stderr
    checks = _doctor(tmp_path)
    # Every configuration check passes; only the database is down, because nobody started this project.
    for name in ("compose file valid", "postgres and migrate services defined", "migrations dir readable",
                 "backup dir writable"):
        assert checks[name]["status"] == "ok", checks[name]
    assert checks["database reachable"]["status"] == "fail"
    assert "up -d --wait db" in checks["database reachable"]["fix"]
    assert res.returncode == 3  # the doctor's environment failure, nothing else


def test_init_without_migrate_service_prints_the_service_to_add(compose_stack, tmp_path):
    no_migrate_service(tmp_path)
    res = migtool(tmp_path, "init", "--yes")
    assert "No migrate service in docker-compose.yml" in res.stdout
    assert res.returncode == 2  # the doctor: migrate service not defined (configuration)
    assert _doctor(tmp_path)["postgres and migrate services defined"]["status"] == "fail"

    # What init printed is a valid compose service: added under services:, the doctor accepts it.
    snippet = res.stdout[res.stdout.index("  migrate:"):res.stdout.index("migtool doctor")].rstrip() + "\n"
    assert yaml.safe_load(snippet)["migrate"]["profiles"] == ["migrate"]
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(compose.read_text() + snippet)
    checks = _doctor(tmp_path)
    assert checks["compose file valid"]["status"] == "ok", checks["compose file valid"]
    assert checks["postgres and migrate services defined"]["status"] == "ok"
