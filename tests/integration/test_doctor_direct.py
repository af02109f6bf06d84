import json
import subprocess
import sys

import pytest

from tests.support.pgserver import free_port

pytestmark = pytest.mark.integration


def run_cli(args, env, cwd):
    return subprocess.run([sys.executable, "-m", "migtool", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "prisma/migrations/20240101000000_init").mkdir(parents=True)
    (tmp_path / "prisma/migrations/20240101000000_init/migration.sql").write_text("CREATE TABLE a (id int);\n")
    return tmp_path


def base_env(url):
    import os
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGTOOL_") and k != "DATABASE_URL"}
    env["DATABASE_URL"] = url
    return env


def test_doctor_direct_all_ticks(pg_url, project, pg_server):
    res = run_cli(["doctor", "--target", "direct"], base_env(pg_url), project)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "✘" not in res.stdout
    assert res.stdout.count("✔") == 5
    assert pg_server.password not in res.stdout + res.stderr


def test_doctor_direct_json(pg_url, project):
    res = run_cli(["doctor", "--target", "direct", "--json"], base_env(pg_url), project)
    data = json.loads(res.stdout)
    assert data["ok"] is True
    names = [c["name"] for c in data["checks"]]
    assert names == ["database reachable", "pg_dump version >= server", "backup dir writable",
                     "no leftovers from interrupted runs", "migrations dir readable"]
    assert "1 migrations" in data["checks"][4]["detail"]


def test_doctor_direct_stopped_database_exits_3_with_fix(project, pg_server):
    url = f"postgresql://postgres:{pg_server.password}@127.0.0.1:{free_port()}/postgres"
    res = run_cli(["doctor", "--target", "direct"], base_env(url), project)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "✘ database reachable" in res.stdout
    assert "fix:" in res.stdout
    assert pg_server.password not in res.stdout + res.stderr


def test_doctor_wrong_password_is_a_cross(project, pg_server):
    url = pg_server.url(password="wrong-password")
    res = run_cli(["doctor", "--target", "direct", "--json"], base_env(url), project)
    assert res.returncode == 3
    check = json.loads(res.stdout)["checks"][0]
    assert check["status"] == "fail" and "authentication failed" in check["detail"]
    assert "wrong-password" not in res.stdout + res.stderr


def test_doctor_missing_migrations_dir_is_configuration_error(pg_url, tmp_path):
    res = run_cli(["doctor", "--target", "direct", "--migrations-dir", "nowhere"], base_env(pg_url), tmp_path)
    assert res.returncode == 2
    assert "✘ migrations dir readable" in res.stdout


def test_doctor_really_stopped_server(pg_server, project, pg_url):
    pg_server.stop()
    try:
        res = run_cli(["doctor", "--target", "direct"], base_env(pg_url), project)
        assert res.returncode == 3
        assert "Connection refused" in res.stdout or "connection" in res.stdout.lower()
    finally:
        pg_server.start()
