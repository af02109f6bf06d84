"""The optional `backup` service of deploy/docker-compose.yml, as docker compose reads it.

Building and running it is checked by hand (it takes minutes: apt + pip in the image); this checks
that compose accepts it and that it runs what the scheduler documents.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def _config(*profiles: str, **env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "BACKUP_"))}
    args = ["docker", "compose", "-f", str(REPO / "deploy" / "docker-compose.yml"),
            "--env-file", str(REPO / "deploy" / ".env.example")]
    for p in profiles:
        args += ["--profile", p]
    res = subprocess.run([*args, "config", "--format", "json"], capture_output=True, text=True, timeout=60,
                         env={**base, **env})
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_backup_service_is_opt_in_and_runs_the_scheduler():
    assert "backup" not in _config()["services"]  # `up` alone never starts it
    service = _config("backup", BACKUP_SCHEDULE="*/15 * * * *")["services"]["backup"]
    assert service["command"] == ["migtool", "backup", "--schedule", "*/15 * * * *"]
    assert service["healthcheck"]["test"] == ["CMD", "migtool", "backup", "--healthcheck"]
    assert service["environment"]["MIGTOOL_TARGET"] == "direct"
    assert service["environment"]["DATABASE_URL"].startswith("postgresql://")
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert service["build"]["dockerfile"] == "deploy/backup.Dockerfile"
    assert any(v["target"] == "/backups" for v in service["volumes"])
