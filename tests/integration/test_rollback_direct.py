"""`migtool rollback` on the direct target against a real PostgreSQL: a migration that drops a column is
rolled back beside-and-swap (content hashes equal the pre-migration ones, the migration is pending
again, the row diff counts what the rollback threw away), undone, cleaned up; a failed Prisma row is
resolved; a rollback that fails half-way leaves everything as it was. Prisma's table is written the
way Prisma writes it (tests/support/prisma_table.py); `resolve_command: ""` makes migtool resolve natively."""

from __future__ import annotations

import json

import psycopg
import pytest

from migtool.runs import read_runs
from tests.support.backupdb import cli_env, content_hashes, run_cli
from tests.support.rollback_project import DROP_BIO as DROP
from tests.support.rollback_project import drop_bio_project

pytestmark = pytest.mark.integration

INIT = "CREATE TABLE notes (id int PRIMARY KEY, body text);\n"


@pytest.fixture
def project(tmp_path, pg_url):
    """A migrations folder with init (applied) and drop_bio (not yet), and a migtool.yaml for it."""
    return tmp_path, drop_bio_project(tmp_path, pg_url, INIT)


def cli(args, url, cwd):
    return run_cli([*args], cli_env(url), cwd)


def databases(pg_server):
    with pg_server.admin() as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}


def status(url, cwd):
    res = cli(["status", "--json"], url, cwd)
    return {m["name"]: m["state"] for m in json.loads(res.stdout)["migrations"]}


def test_rollback_before_a_drop_column_then_undo_then_cleanup(pg_server, pg_dbname, pg_url, project):
    cwd, table = project
    res = cli(["backup", "--reason", "before drop bio", "--json"], pg_url, cwd)
    assert res.returncode == 0, res.stderr
    backup = json.loads(res.stdout)
    assert backup["migrations"]["pending"] == ["20250102000000_drop_bio"]
    before = content_hashes(pg_url)
    # The migration, and writes after it
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(DROP)
        conn.execute("INSERT INTO notes VALUES (1, 'written after the backup'), (2, 'me too')")
    table.apply("20250102000000_drop_bio", DROP.encode())
    after = content_hashes(pg_url)
    assert status(pg_url, cwd)["20250102000000_drop_bio"] == "applied"
    dbs = databases(pg_server)

    res = cli(["rollback", "--before", "20250102000000_drop_bio", "--yes", "--json"], pg_url, cwd)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert content_hashes(pg_url) == before
    assert out["backup"] == backup["name"] and out["method"] == "beside-and-swap"
    [kept] = databases(pg_server) - dbs
    assert kept == out["kept"] and kept.startswith(f"{pg_dbname}_before_rollback_")
    assert content_hashes(pg_server.url(kept)) == after
    assert out["pending"] == ["20250102000000_drop_bio"]
    assert status(pg_url, cwd)["20250102000000_drop_bio"] == "pending"
    assert any("nothing to repair" in line for line in out["prisma"])
    diffs = {d["table"]: d for d in out["row_diff"]}
    assert diffs["public.notes"]["only_in_kept"] == 2 and diffs["public.notes"]["only_in_restored"] == 0
    assert diffs["public.users"]["columns_only_in_restored"] == ["bio"]
    assert diffs["public.users"]["only_in_kept"] == 0  # same rows on the columns both copies have
    assert "public.Orders" not in diffs
    assert "notes: 2 rows only in the kept copy" in res.stderr
    record = read_runs(cwd / "backups")[-1]
    assert record["operation"] == "rollback" and record["result"] == "rolled-back"
    assert [s["name"] for s in record["steps"]] == ["pick", "verify", "room", "confirm", "restore", "check",
                                                    "analyze", "stop app", "swap", "start app", "prisma", "status",
                                                    "row diff"]
    assert record["steps"][7]["status"] == "skipped"  # direct target: no app services
    assert record["kept"] == kept

    res = cli(["rollback", "--undo", "--yes", "--json"], pg_url, cwd)
    assert res.returncode == 0, res.stderr
    undo = json.loads(res.stdout)
    assert content_hashes(pg_url) == after
    assert status(pg_url, cwd)["20250102000000_drop_bio"] == "applied"
    assert undo["kept"].startswith(f"{pg_dbname}_before_undo_")
    assert content_hashes(pg_server.url(undo["kept"])) == before

    res = cli(["rollback", "--cleanup", "--dry-run", "--json"], pg_url, cwd)
    assert json.loads(res.stdout)["dropped"] == [undo["kept"]]  # kept was swapped back in: it is live again
    assert databases(pg_server) - dbs == {undo["kept"]}
    res = cli(["rollback", "--cleanup", "--older-than", "1d", "--yes", "--json"], pg_url, cwd)
    assert json.loads(res.stdout)["dropped"] == []
    res = cli(["rollback", "--cleanup", "--yes", "--json"], pg_url, cwd)
    assert res.returncode == 0, res.stderr
    assert databases(pg_server) == dbs
    assert content_hashes(pg_url) == after


def test_a_restored_failed_row_is_marked_rolled_back(pg_server, pg_url, project):
    cwd, table = project
    table.fail("20250102000000_drop_bio", DROP.encode())
    assert status(pg_url, cwd)["20250102000000_drop_bio"] == "failed"
    res = cli(["backup", "--reason", "after failed", "--json"], pg_url, cwd)
    assert res.returncode == 0, res.stderr
    name = json.loads(res.stdout)["name"]
    dbs = databases(pg_server)
    res = cli(["rollback", "--to", name, "--yes", "--json"], pg_url, cwd)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["prisma"] == ["20250102000000_drop_bio: marked rolled back (native)"]
    assert status(pg_url, cwd)["20250102000000_drop_bio"] == "rolled-back"
    assert out["pending"] == ["20250102000000_drop_bio"]  # deploy applies it again
    for extra in databases(pg_server) - dbs:
        pg_server.drop_database(extra)


def test_a_rollback_that_fails_half_way_changes_nothing(pg_server, pg_dbname, pg_url, project):
    cwd, table = project
    role = f"gone_{pg_dbname}"
    with pg_server.admin() as conn:
        conn.execute(f'CREATE ROLE "{role}"')
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE zz (id int); ALTER TABLE zz OWNER TO "{role}"')
    res = cli(["backup", "--reason", "with role", "--json"], pg_url, cwd)
    assert res.returncode == 0, res.stderr
    name = json.loads(res.stdout)["name"]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP TABLE zz; DROP OWNED BY "{role}"')
        conn.execute(DROP)
    with pg_server.admin() as conn:
        conn.execute(f'DROP ROLE "{role}"')
    state = content_hashes(pg_url)
    dbs = databases(pg_server)
    res = cli(["rollback", "--to", name, "--yes"], pg_url, cwd)
    assert res.returncode == 1, res.stderr
    assert "step restore failed" in res.stderr and role in res.stderr
    assert f"database {pg_dbname} unchanged" in res.stderr
    assert content_hashes(pg_url) == state
    assert databases(pg_server) == dbs
    record = read_runs(cwd / "backups")[-1]
    assert record["result"] == "failed" and record["steps"][-1]["name"] == "restore"


def test_usage_errors(pg_url, project):
    cwd, _ = project
    res = cli(["rollback"], pg_url, cwd)
    assert res.returncode == 2 and "--to BACKUP or --before MIGRATION" in res.stderr
    res = cli(["rollback", "--before", "20250101000000_init", "--yes"], pg_url, cwd)
    assert res.returncode == 1 and "no backup of" in res.stderr
    res = cli(["rollback", "--undo", "--yes"], pg_url, cwd)
    assert res.returncode == 1 and "no kept copy" in res.stderr
    res = cli(["rollback", "--cleanup", "--older-than", "soon"], pg_url, cwd)
    assert res.returncode == 2


def test_in_place_takes_a_safety_backup_first(pg_server, pg_dbname, pg_url, project):
    cwd, table = project
    res = cli(["backup", "--reason", "before drop bio", "--json"], pg_url, cwd)
    assert res.returncode == 0, res.stderr
    before = content_hashes(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(DROP)
    table.apply("20250102000000_drop_bio", DROP.encode())
    after = content_hashes(pg_url)
    dbs = databases(pg_server)
    res = cli(["rollback", "--before", "20250102000000_drop_bio", "--in-place", "--yes", "--json"], pg_url, cwd)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["method"] == "in place" and out["kept"] is None
    assert content_hashes(pg_url) == before
    assert databases(pg_server) == dbs  # no second copy
    assert out["pending"] == ["20250102000000_drop_bio"]
    # The safety backup holds the state the rollback replaced: restoring it brings that back.
    res = cli(["restore", out["safety_backup"], "--clean", "--yes"], pg_url, cwd)
    assert res.returncode == 0, res.stderr
    assert content_hashes(pg_url) == after
    for extra in databases(pg_server) - dbs:
        pg_server.drop_database(extra)
