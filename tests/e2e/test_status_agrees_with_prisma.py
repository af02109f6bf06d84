"""`migtool status` (compose target, no Node) agrees with real Prisma 6.19.3 in the migrate container.

One story, as an operator lives it: a fresh database, a deploy, two new migrations of which the second
fails, `prisma migrate resolve --rolled-back`, a fixed file and a successful deploy. At every step the
pending and failed migrations migtool reports are the ones `prisma migrate status` reports.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import COMPOSE_FILE, REPO_ROOT

pytestmark = pytest.mark.e2e

GOOD = "20990101000000_add_user_note"
BROKEN = "20990102000000_add_note_index"
BROKEN_SQL = 'CREATE INDEX "Note_text_idx" ON "NoSuchTable" ("text");\n'
FIXED_SQL = 'CREATE INDEX "User_note_idx" ON "User" ("note");\n'
NAME = re.compile(r"^\d{14}_\S+$")


@dataclass
class PrismaStatus:
    exit_code: int
    pending: list[str]
    failed: list[str]
    output: str


def _names_after(lines: list[str], header: re.Pattern) -> list[str]:
    for i, line in enumerate(lines):
        if header.match(line.strip()):
            names = []
            for following in lines[i + 1 :]:
                if not NAME.match(following.strip()):
                    break
                names.append(following.strip())
            return names
    return []


def parse_prisma_status(code: int, text: str) -> PrismaStatus:
    lines = text.splitlines()
    pending = _names_after(lines, re.compile(r"^Following migrations? ha(?:ve|s) not yet been applied:$"))
    failed = _names_after(lines, re.compile(r"^Following migrations? ha(?:ve|s) failed:$"))
    return PrismaStatus(code, pending, failed, text)


def test_parse_prisma_status_output():
    text = (
        "8 migrations found in prisma/migrations\nFollowing migrations have not yet been applied:\n"
        "20990101000000_a\n20990102000000_b\n\nTo apply migrations in production run prisma migrate deploy.\n"
    )
    assert parse_prisma_status(1, text).pending == ["20990101000000_a", "20990102000000_b"]
    text = "Following migration have failed:\n20990102000000_b\n\nDuring development ..."
    parsed = parse_prisma_status(1, text)
    assert parsed.failed == ["20990102000000_b"] and parsed.pending == []


def prisma_status(stack) -> PrismaStatus:
    res = stack.compose("run", "--rm", "migrate", "pnpm", "db:migrate:status", check=False)
    return parse_prisma_status(res.returncode, res.stdout + res.stderr)


def migtool_env(stack, extra: dict[str, str] | None = None) -> dict[str, str]:
    # Nothing inherited may point migtool elsewhere: no MIGTOOL_*, no DATABASE_URL, and no COMPOSE_*
    # (the flags or MIGTOOL_* variables given here are what must select the project).
    env = {
        k: v
        for k, v in stack.env.items()
        if not k.startswith(("MIGTOOL_", "COMPOSE_")) and k != "DATABASE_URL"
    }
    env.update(extra or {})
    return env


def migtool(stack, migrations_dir: Path, *args: str, via_env: bool = False) -> subprocess.CompletedProcess:
    if via_env:
        env = migtool_env(
            stack,
            {
                "MIGTOOL_TARGET": "compose",
                "MIGTOOL_COMPOSE_FILE": str(COMPOSE_FILE),
                "MIGTOOL_COMPOSE_PROJECT": stack.project_name,
                "MIGTOOL_COMPOSE_ENV_FILE": str(stack.env_file),
                "MIGTOOL_MIGRATIONS_DIR": str(migrations_dir),
            },
        )
        argv = list(args)
    else:
        env = migtool_env(stack)
        argv = [
            *args,
            "--target",
            "compose",
            "--compose-file",
            str(COMPOSE_FILE),
            "--compose-project",
            stack.project_name,
            "--compose-env-file",
            str(stack.env_file),
            "--migrations-dir",
            str(migrations_dir),
        ]
    return subprocess.run(
        [sys.executable, "-m", "migtool", *argv],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def migtool_status(stack, migrations_dir: Path, via_env: bool = False) -> tuple[int, dict]:
    res = migtool(stack, migrations_dir, "status", "--json", via_env=via_env)
    assert res.stdout.strip(), f"exit {res.returncode}: {res.stderr}"
    return res.returncode, json.loads(res.stdout)


def names_in(data: dict, state: str) -> list[str]:
    return [m["name"] for m in data["migrations"] if m["state"] == state]


def assert_agree(prisma: PrismaStatus, data: dict) -> None:
    assert names_in(data, "pending") == prisma.pending, prisma.output
    assert names_in(data, "failed") == prisma.failed, prisma.output
    assert data["summary"]["pending"] == len(prisma.pending)
    assert data["summary"]["failed"] == len(prisma.failed)


def add_migration(migrations_dir: Path, name: str, sql: str) -> None:
    folder = migrations_dir / name
    folder.mkdir(exist_ok=True)
    folder.chmod(0o755)
    (folder / "migration.sql").write_text(sql)
    (folder / "migration.sql").chmod(0o644)  # the container reads it as an unprivileged user


@pytest.mark.timeout(1800)  # may be the first user of the session stack, which bootstraps docker
def test_status_agrees_with_prisma_through_failure_and_resolve(compose_stack, migrations_dir):
    stack = compose_stack.with_migrations(migrations_dir)
    example = sorted(p.name for p in migrations_dir.iterdir() if p.is_dir())
    stack.reset_database()
    try:
        # 1. A fresh database: no _prisma_migrations table, everything pending.
        prisma = prisma_status(stack)
        code, data = migtool_status(stack, migrations_dir)
        assert prisma.exit_code == 1 and prisma.pending == example, prisma.output
        assert code == 1 and data["has_migrations_table"] is False
        assert_agree(prisma, data)

        # 2. Real Prisma applies the example's history: up to date on both sides.
        stack.migrate()
        prisma = prisma_status(stack)
        code, data = migtool_status(stack, migrations_dir)
        assert prisma.exit_code == 0 and "Database schema is up to date" in prisma.output, prisma.output
        assert code == 0 and names_in(data, "applied") == example
        assert_agree(prisma, data)

        # 3. Two new migrations, the second one broken: both pending.
        add_migration(migrations_dir, GOOD, 'ALTER TABLE "User" ADD COLUMN "note" TEXT;\n')
        add_migration(migrations_dir, BROKEN, BROKEN_SQL)
        prisma = prisma_status(stack)
        code, data = migtool_status(stack, migrations_dir)
        assert prisma.pending == [GOOD, BROKEN], prisma.output
        assert code == 1
        assert_agree(prisma, data)

        # 4. The deploy applies the first and fails on the second.
        deploy = stack.migrate(check=False)
        assert deploy.returncode != 0, deploy.stdout + deploy.stderr
        prisma = prisma_status(stack)
        code, data = migtool_status(stack, migrations_dir)
        assert prisma.failed == [BROKEN] and prisma.pending == [], prisma.output
        assert code == 2
        assert_agree(prisma, data)
        failed = next(m for m in data["migrations"] if m["name"] == BROKEN)
        assert failed["finished_at"] is None and failed["logs"]
        assert "NoSuchTable" in failed["note"], failed
        assert next(m for m in data["migrations"] if m["name"] == GOOD)["state"] == "applied"
        human = migtool(stack, migrations_dir, "status")
        assert human.returncode == 2
        assert f"prisma migrate resolve --rolled-back {BROKEN}" in " ".join(human.stderr.split())

        # 5. resolve --rolled-back: Prisma's status calls this up to date; the next deploy re-applies
        #    it, so migtool shows it rolled-back and exits 1. Pending and failed counts agree (0, 0).
        stack.compose("run", "--rm", "migrate", "pnpm", "db:migrate:resolve", "--rolled-back", BROKEN)
        prisma = prisma_status(stack)
        code, data = migtool_status(stack, migrations_dir, via_env=True)
        assert prisma.exit_code == 0 and prisma.failed == [] and prisma.pending == [], prisma.output
        assert code == 1 and names_in(data, "rolled-back") == [BROKEN]
        assert_agree(prisma, data)

        # 6. The file is fixed and the deploy succeeds: a second attempt, and everything applied.
        add_migration(migrations_dir, BROKEN, FIXED_SQL)
        stack.migrate()
        prisma = prisma_status(stack)
        code, data = migtool_status(stack, migrations_dir)
        assert prisma.exit_code == 0, prisma.output
        assert code == 0 and names_in(data, "applied") == [*example, GOOD, BROKEN]
        assert_agree(prisma, data)
        assert next(m for m in data["migrations"] if m["name"] == BROKEN)["attempts"] == 2

        history = migtool(stack, migrations_dir, "history", "-n", "3", "--json")
        assert history.returncode == 0, history.stderr
        entries = json.loads(history.stdout)["entries"]
        assert [(e["name"], e["state"]) for e in entries] == [
            (BROKEN, "applied"),
            (BROKEN, "rolled-back"),
            (GOOD, "applied"),
        ]
        assert "NoSuchTable" in entries[1]["log_summary"]

        # 7. Git on Windows checks the files out with CRLF: still applied. A real edit: modified.
        for script in migrations_dir.glob("*/migration.sql"):
            script.write_bytes(script.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        code, data = migtool_status(stack, migrations_dir)
        assert code == 0, data["summary"]
        first = migrations_dir / example[0] / "migration.sql"
        first.write_bytes(first.read_bytes() + b"-- edited after it was applied\r\n")
        code, data = migtool_status(stack, migrations_dir)
        assert code == 2 and names_in(data, "modified") == [example[0]]
    finally:
        stack.reset_database()


@pytest.mark.timeout(1800)
def test_status_with_postgres_stopped_exits_3_with_a_hint(compose_stack, migrations_dir):
    compose_stack.compose("stop", "postgres")
    try:
        res = migtool(compose_stack, migrations_dir, "status")
    finally:
        compose_stack.compose("up", "--detach", "--wait", "postgres")
    assert res.returncode == 3, res.stdout + res.stderr
    assert "not reachable" in res.stderr and "next:" in res.stderr
    assert compose_stack.db_password not in res.stdout + res.stderr
