"""`migtool runbook` against a real database: at a real terminal (pexpect) it walks from "look" to a
rolled-back database; with answers piped in it refuses on end of input; with a broken migtool.yaml it
gives the script path; without a terminal it prints docs/runbook.md."""

from __future__ import annotations

import json
import sys

import pexpect
import psycopg
import pytest

from tests.support.backupdb import cli_env, content_hashes, run_cli
from tests.support.rollback_project import DROP_BIO as DROP
from tests.support.rollback_project import drop_bio_project

pytestmark = pytest.mark.integration

NAME = "20250102000000_drop_bio"


@pytest.fixture
def project(tmp_path, pg_url):
    table = drop_bio_project(tmp_path, pg_url, "SELECT 1;\n")
    res = run_cli(["backup", "--reason", "before drop", "--json"], cli_env(pg_url), tmp_path)
    assert res.returncode == 0, res.stderr
    before = content_hashes(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(DROP)
    table.apply(NAME, DROP.encode())
    return tmp_path, before, json.loads(res.stdout)["name"]


def test_walk_through_at_a_terminal_rolls_back(pg_server, pg_dbname, pg_url, project):
    cwd, before, backup = project
    child = pexpect.spawn(sys.executable, ["-m", "migtool", "runbook"], cwd=str(cwd), env=cli_env(pg_url),
                          encoding="utf-8", timeout=120, dimensions=(40, 200))
    try:
        child.expect("== 1. Look")
        child.expect(f"last applied {NAME}")
        child.expect("== 2. Pick the backup")
        child.expect(backup)
        child.expect("> ")
        child.sendline("m no_such_migration")
        child.expect("no backup of")
        child.expect("> ")
        child.sendline(f"m {NAME}")
        child.expect(f"-> {backup}")
        child.expect("is whole")
        child.expect("1. roll back")
        child.expect("> ")
        child.sendline("1")
        child.expect(rf"Type the database name \({pg_dbname}\)")
        child.sendline(pg_dbname)
        child.expect("rolled back; kept copy")
        child.expect(f"pending: {NAME}")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, child.before
    assert content_hashes(pg_url) == before
    with pg_server.admin() as conn:
        for (name,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                    (f"{pg_dbname}_before_%",)).fetchall():
            pg_server.drop_database(name)


def test_piped_answers_that_run_out_change_nothing(pg_url, project):
    cwd, _, _ = project
    state = content_hashes(pg_url)
    res = run_cli(["runbook", "--interactive"], cli_env(pg_url), cwd)  # stdin: end of input at once
    assert res.returncode == 1 and "nothing was changed" in res.stderr
    assert content_hashes(pg_url) == state


def test_broken_config_gives_the_script_path(pg_url, project):
    cwd, _, _ = project
    (cwd / "migtool.yaml").write_text("target: direct\nbogus_key: 1\n")
    res = run_cli(["runbook", "--interactive"], cli_env(pg_url), cwd)
    assert res.returncode == 1
    assert "configuration is broken" in res.stderr and "scripts/restore/postgres-restore.sh" in res.stderr


def test_without_a_terminal_it_prints_the_runbook(pg_url, project):
    cwd, _, _ = project
    res = run_cli(["runbook"], cli_env(pg_url), cwd)
    assert res.returncode == 0 and res.stdout.startswith("# Emergency runbook")
