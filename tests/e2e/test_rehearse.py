"""rehearse end to end: a backup of 1M users, restored into a throwaway copy, the example app's old
code under load while real Prisma migrates the copy, then the new code and a rollback drill.

One backup for the module (taking and restoring 1M rows is the slow part); each test rehearses a
different migration on it and checks that nothing the rehearsal started is left behind.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_deploy_migrate import add_migration, env_for

pytestmark = pytest.mark.e2e

USERS = 1_000_000
CONFIG = """\
rehearse:
  requests:
    - {method: GET, path: /users}
    - {method: POST, path: /users, body: {email: "rehearse-{{n}}@example.com", name: "Rehearsal {{n}}"}}
    - {method: GET, path: "/users/{{id}}"}
    - {method: PATCH, path: "/users/{{id}}", body: {name: "Renamed {{n}}"}}
  old_env: {USER_COLUMNS: "{{columns User}}"}
  new_env: {USER_COLUMNS: "{{columns User}}"}
"""


def leftovers() -> list[str]:
    found = []
    for args in (["ps", "-a"], ["volume", "ls"], ["network", "ls"]):
        out = subprocess.run(["docker", *args, "--format", "{{.Names}}" if args[0] == "ps" else "{{.Name}}"],
                             capture_output=True, text=True, timeout=60, check=True).stdout
        found += [n for n in out.split() if n.startswith("migtool-rehearse-")]
    return found


@pytest.fixture(scope="module")
def production(compose_stack, tmp_path_factory):
    """The example stack with every example migration applied, 1M users, and a verified backup."""
    root = tmp_path_factory.mktemp("rehearse")
    base = root / "migrations"
    shutil.copytree(Path(__file__).resolve().parents[2] / "examples/prisma-app/prisma/migrations", base)
    backups = root / "backups"
    compose_stack.reset_database()
    compose_stack.with_migrations(base).migrate()
    compose_stack.psql(f"""INSERT INTO "User" (email, name, phone)
        SELECT 'user' || i || '@example.com', 'User ' || i, '+1555' || i FROM generate_series(1, {USERS}) i;
        ANALYZE "User";""")
    (root / "migtool.yaml").write_text(CONFIG)
    for args in (["backup", "--reason", "rehearse"], ["backups", "verify", "latest"]):
        res = subprocess.run([sys.executable, "-m", "migtool", *args], env=env_for(compose_stack, base, backups),
                             capture_output=True, text=True, timeout=600, cwd=root)
        assert res.returncode == 0, res.stderr
    yield compose_stack, root, base, backups
    compose_stack.reset_database()


def rehearse(production, migrations: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    stack, root, base, backups = production
    mdir = root / f"m-{time.monotonic_ns()}"
    shutil.copytree(base, mdir)
    for name, sql in migrations.items():
        add_migration(mdir, name, sql)
    report_file = root / f"{mdir.name}.md"
    res = subprocess.run([sys.executable, "-m", "migtool", "rehearse", "--duration", "4", "--rate", "20",
                          "--json", "--report", str(report_file), *args],
                         env=env_for(stack, mdir, backups), capture_output=True, text=True, timeout=900, cwd=root)
    assert res.stdout, res.stderr
    report = json.loads(res.stdout)
    assert report_file.read_text().startswith("# Migration rehearsal")
    assert stack.db_password not in res.stdout + res.stderr + report_file.read_text()
    return res, report


def explain(report: dict) -> str:
    return "\n".join(f"{q['id']}: {q['answer']}: {q['evidence']}" for q in report["questions"])


def answers(report: dict) -> dict[str, str]:
    return {q["id"]: q["answer"] for q in report["questions"]}


def by_name(report: dict) -> dict[str, dict]:
    return {row["migration"]: row for row in report["migrations"]}


def test_a_pure_expand_rehearses_with_no_failed_request_and_yes_everywhere(production):
    stack = production[0]
    before = stack.psql_rows('SELECT count(*) AS n FROM "User"')[0]["n"]
    res, report = rehearse(production, {
        "20250301090000_expand": 'ALTER TABLE "User" ADD COLUMN "nickname" TEXT;\n'
                                 'CREATE TABLE "Tag" ("id" SERIAL PRIMARY KEY, "label" TEXT NOT NULL);\n',
        "20250302090000_name_index_concurrently": 'CREATE INDEX CONCURRENTLY "User_name_idx" ON "User"("name");\n',
    }, "--check-new-on-old")
    assert res.returncode == 0, explain(report)
    assert set(answers(report).values()) == {"yes"}, explain(report)
    assert report["old_code"]["during_and_after"]["failed"] == 0
    assert report["old_code"]["during_and_after"]["requests"] > 50
    concurrent = by_name(report)["20250302090000_name_index_concurrently"]
    assert concurrent["locks"]["blocked_max_s"] < 1.0, concurrent
    assert not concurrent["locks"]["tables"].get("User", {}).get("blocks_writes"), concurrent
    # Production itself was not touched.
    assert stack.psql_rows('SELECT count(*) AS n FROM "User"')[0]["n"] == before
    assert stack.psql_rows("SELECT count(*) AS n FROM pg_indexes WHERE indexname = 'User_name_idx'")[0]["n"] == "0"
    assert leftovers() == []


def test_a_blocking_index_blocks_writers_and_a_rename_fails_the_old_code(production):
    res, report = rehearse(production, {
        "20250301090000_name_index_blocking": 'CREATE INDEX "User_name_idx" ON "User"("name");\n',
        "20250302090000_rename_name": 'ALTER TABLE "User" RENAME COLUMN "name" TO "fullName";\n',
    })
    assert res.returncode == 1, res.stderr[-3000:]
    got = answers(report)
    assert got["migration-applies"] == "yes"
    assert got["old-code-on-new-schema"] == "no"
    # The example has one image, so the "new" code still writes "name": it fails the same way.
    assert got["new-code-on-new-schema"] == "no", explain(report)
    assert got["rollback-tested"] == "yes", report["questions"]  # the old code works on the restored state
    evidence = next(q["evidence"] for q in report["questions"] if q["id"] == "old-code-on-new-schema")
    assert 'column \\"name\\" does not exist' in evidence or 'column "name" does not exist' in evidence, evidence
    rows = by_name(report)
    blocking = rows["20250301090000_name_index_blocking"]
    assert blocking["locks"]["tables"]["User"]["lock"] == "ShareLock", blocking
    # Writers waited behind the build for most of it.
    assert blocking["locks"]["blocked_max_s"] >= 0.5 * blocking["seconds"] > 0, blocking
    assert leftovers() == []


def test_ctrl_c_in_the_middle_leaves_nothing_running(production):
    stack, root, base, backups = production
    mdir = root / "m-interrupt"
    shutil.copytree(base, mdir)
    add_migration(mdir, "20250301090000_expand", 'ALTER TABLE "User" ADD COLUMN "nickname" TEXT;\n')
    proc = subprocess.Popen([sys.executable, "-m", "migtool", "rehearse", "--duration", "30"],
                            env=env_for(stack, mdir, backups), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=root)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not leftovers():
        time.sleep(0.5)
    assert leftovers(), "the rehearsal never started its copy"
    time.sleep(3)  # in the middle of restoring
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert leftovers() == []
    record = [json.loads(line) for line in (backups / "history.jsonl").read_text().splitlines() if line.strip()][-1]
    assert record["operation"] == "rehearse" and record["result"] == "interrupted"
