"""`migtool resolve` (schema-only rollback) on a real database: natively, as Prisma writes the rows, and
through a local resolve_command that gets DATABASE_URL in its environment, never in argv."""

from __future__ import annotations

import json

import pytest

from tests.support.backupdb import cli_env, run_cli
from tests.support.prisma_table import PrismaTable, write_lock_file, write_migration

pytestmark = pytest.mark.integration

A, B, C = "20250101000000_a", "20250102000000_b", "20250103000000_c"


@pytest.fixture
def project(tmp_path, pg_url):
    mig = tmp_path / "migrations"
    write_lock_file(mig)
    for name in (A, B, C):
        write_migration(mig, name, f"-- {name}\nSELECT 1;\n")
    table = PrismaTable(pg_url)
    table.create()
    table.apply(A, (mig / A / "migration.sql").read_bytes())
    table.fail(B, (mig / B / "migration.sql").read_bytes())
    (tmp_path / "migtool.yaml").write_text(f"target: direct\nmigrations_dir: {mig}\nbackup_dir: {tmp_path / 'b'}\n")
    return tmp_path


def states(url, cwd):
    res = run_cli(["status", "--json"], cli_env(url), cwd)
    return {m["name"]: m["state"] for m in json.loads(res.stdout)["migrations"]}


def test_native_rolled_back_and_applied(pg_url, project):
    assert states(pg_url, project) == {A: "applied", B: "failed", C: "pending"}
    res = run_cli(["resolve", "--rolled-back", B, "--native", "--json"], cli_env(pg_url), project)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"migration": B, "mode": "rolled-back", "how": "native", "state": "rolled-back"}
    res = run_cli(["resolve", "--applied", C, "--native"], cli_env(pg_url), project)
    assert res.returncode == 0, res.stderr
    assert f"{C}: marked applied (native); it is now applied" in res.stdout
    assert states(pg_url, project) == {A: "applied", B: "rolled-back", C: "applied"}  # checksum recorded right


def test_refused_as_prisma_would(pg_url, project):
    res = run_cli(["resolve", "--rolled-back", A, "--native"], cli_env(pg_url), project)
    assert res.returncode == 1 and "not failed" in res.stderr and "rollback --before" in res.stderr
    res = run_cli(["resolve", "--applied", A, "--native"], cli_env(pg_url), project)
    assert res.returncode == 1 and "already applied" in res.stderr
    res = run_cli(["resolve", "--rolled-back", "nope", "--native"], cli_env(pg_url), project)
    assert res.returncode == 1 and "no migration named nope" in res.stderr
    res = run_cli(["resolve"], cli_env(pg_url), project)
    assert res.returncode == 2
    assert states(pg_url, project) == {A: "applied", B: "failed", C: "pending"}


def test_through_a_local_resolve_command(pg_server, pg_url, project):
    log = project / "argv.log"
    fake = project / "fake-prisma"
    fake.write_text(f'#!/bin/sh\necho "$*" >> {log}\n[ -n "$DATABASE_URL" ] && echo "url in env" >> {log}\n'
                    'echo "Error: P3011 pretend" >&2\nexit 1\n')
    fake.chmod(0o755)
    with open(project / "migtool.yaml", "a") as f:
        f.write(f"resolve_command: {fake} migrate resolve\n")
    res = run_cli(["resolve", "--rolled-back", B], cli_env(pg_url), project)
    assert res.returncode == 1
    assert "step resolve failed" in res.stderr and "P3011 pretend" in res.stderr
    logged = log.read_text()
    assert logged == f"migrate resolve --rolled-back {B}\nurl in env\n"
    assert pg_server.password not in logged + res.stderr
