"""migtool's compose adapter against the real docker compose stack."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import urllib.request

import pytest

from migtool.compose import ComposeProject
from migtool.errors import ConfigError, EnvironmentProblem

pytestmark = pytest.mark.e2e


@pytest.fixture
def project(compose_stack) -> ComposeProject:
    return ComposeProject(compose_stack.compose_files, compose_stack.project_name, compose_stack.env_file)


def test_run_rm_propagates_the_exit_code_and_streams_output(project, capfd):
    assert project.run_service("migrate", args=["sh", "-c", "echo hello-from-migrate; exit 7"]) == 7
    assert "hello-from-migrate" in capfd.readouterr().out
    assert project.run_service("migrate", args=["true"]) == 0
    # --rm: no container of the one-off run is left behind
    assert not [s for s in project.ps() if s.service == "migrate"]


def test_exec_streams_100_mb_of_stdin_without_buffering(project):
    size = 100 * 1024 * 1024
    chunk = os.urandom(1024 * 1024)
    expected = hashlib.sha256()
    proc = project.exec_stream("postgres", ["sh", "-c", "sha256sum; wc -c </dev/null"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def feed() -> None:
        for i in range(size // len(chunk)):
            block = bytes([i % 256]) + chunk[1:]
            expected.update(block)
            proc.stdin.write(block)
        proc.stdin.close()

    writer = threading.Thread(target=feed)
    writer.start()
    out = proc.stdout.read()
    writer.join()
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    assert out.split()[0].decode() == expected.hexdigest()


def test_exec_streams_large_stdout(project):
    proc = project.exec_stream("postgres", ["sh", "-c", "head -c 52428800 /dev/zero"], stdout=subprocess.PIPE)
    total = 0
    while block := proc.stdout.read(1 << 20):
        total += len(block)
    assert proc.wait(timeout=120) == 0
    assert total == 50 * 1024 * 1024


def test_stop_and_start_the_app_service(project, compose_stack):
    assert "app" in project.running_services()
    project.stop(["app"])
    try:
        states = {s.service: s for s in project.ps()}
        assert states["app"].state != "running"
        assert "postgres" in project.running_services()  # only what was asked
    finally:
        project.start(["app"])
    states = {s.service: s for s in project.ps()}
    assert states["app"].state == "running" and states["app"].health == "healthy"
    # The app gets a new ephemeral host port when its container is recreated.
    port = compose_stack.compose("port", "app", "3000").stdout.strip().rsplit(":", 1)[1]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as resp:
        assert resp.status == 200


def test_exec_in_a_stopped_service_is_an_environment_error(project):
    project.stop(["app"])
    try:
        res = project.exec("app", ["true"])
        assert res.returncode != 0
        assert b"not running" in res.stderr
    finally:
        project.start(["app"])


def test_config_lists_services_and_missing_file_is_a_config_error(project, tmp_path):
    assert {"postgres", "app", "migrate"} <= set(project.service_names())
    missing = ComposeProject([tmp_path / "nope.yml"])
    with pytest.raises(ConfigError, match="compose file not found"):
        missing.ps()


def test_invalid_compose_file_is_an_environment_error_with_compose_message(tmp_path):
    bad = tmp_path / "compose.yml"
    bad.write_text("services:\n  x:\n    image: [unclosed\n")
    with pytest.raises(EnvironmentProblem, match="docker compose config"):
        ComposeProject([bad]).config()


def _cli(compose_stack, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGTOOL_") and k != "DATABASE_URL"}
    env.update(MIGTOOL_TARGET="compose", MIGTOOL_COMPOSE_PROJECT=compose_stack.project_name,
               MIGTOOL_COMPOSE_ENV_FILE=str(compose_stack.env_file),
               MIGTOOL_COMPOSE_FILE=os.pathsep.join(str(f) for f in compose_stack.compose_files),
               MIGTOOL_MIGRATIONS_DIR=str(compose_stack.example_migrations_dir
                                          if hasattr(compose_stack, "example_migrations_dir") else
                                          "examples/prisma-app/prisma/migrations"))
    return subprocess.run([sys.executable, "-m", "migtool", *args], env=env, capture_output=True, text=True,
                          timeout=300, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


def test_doctor_compose_target_all_ticks(compose_stack):
    res = _cli(compose_stack, "doctor", "--json")
    data = json.loads(res.stdout)
    assert res.returncode == 0, res.stdout + res.stderr
    assert all(c["status"] == "ok" for c in data["checks"]), data
    assert len(data["checks"]) == 9  # 9th: no leftovers from interrupted runs (issue 9)
    assert compose_stack.db_password not in res.stdout + res.stderr


def test_doctor_compose_target_stopped_database_exits_3(compose_stack):
    compose_stack.compose("stop", "postgres")
    try:
        res = _cli(compose_stack, "doctor")
        assert res.returncode == 3, res.stdout + res.stderr
        assert "✘ database reachable" in res.stdout
        assert "up -d --wait postgres" in res.stdout and compose_stack.project_name in res.stdout
    finally:
        compose_stack.compose("up", "-d", "--wait", "postgres", "app")
