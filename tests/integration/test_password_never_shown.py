"""No command ever shows a password (issue 9, item 4).

One role with a password that is hard to mask (a space, a quote-free punctuation mix) is given to
migtool in every form a DATABASE_URL takes: URL user info, a `?password=` query parameter, a
key=value conninfo string with a quoted value, and PGPASSWORD beside a password-less URL. Every
command runs (CLI in a subprocess, always with -v: debug logs and tracebacks on), also with
--json, and also on error paths (server down, an unparsable conninfo). Then we grep stdout,
stderr, the argv of every pg tool migtool started (wrappers on PATH log them), and every file
written (names and contents: dumps' manifests, checksums, verification records, configs).
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from migtool.cli import COMMANDS
from tests.support.backupdb import cli_env, run_cli, seed_varied
from tests.support.prisma_table import PrismaTable, write_lock_file, write_migration

pytestmark = pytest.mark.integration

PASSWORD = f"Gr3p s3cret-{secrets.token_hex(4)}#x"  # a space and a '#', never in any output
FRAGMENTS = [PASSWORD, quote(PASSWORD, safe=""), *[w for w in PASSWORD.split() if len(w) >= 4]]

# Commands this test drives with arguments that reach the database; any other registered command
# (a new one included) is still run, bare and with --json.
FULL = [
    ["config"], ["config", "--json"],
    ["doctor"], ["doctor", "--json"],
    ["status"], ["status", "--json"],
    ["history"], ["history", "--json"],
    ["lint"],
    ["backup", "--reason", "grep test"], ["backup", "--json", "--format", "sql"],
    ["backups", "list"], ["backups", "list", "--json"],
    ["backups", "verify", "latest", "--restore-test"], ["backups", "verify", "latest", "--json"],
    ["backups", "prune", "--dry-run"], ["backups", "prune", "--yes", "--json"],
    ["backups", "upload", "latest"],
]
# The other forms differ only in how the URL is masked and passed on: one run of each place
# that shows or passes it on is enough there (the full list runs for the first form).
SHORT = [["config", "--json"], ["doctor"], ["status"], ["history", "--json"], ["backup"],
         ["backups", "verify", "latest", "--restore-test"]]
MINE = {"config", "doctor", "status", "history", "lint", "backup", "backups"}


@pytest.fixture(scope="module")
def role(pg_server):
    name = f"grep_{secrets.token_hex(3)}"
    db = pg_server.create_database()
    with pg_server.admin() as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN SUPERUSER PASSWORD '{PASSWORD}'")
        conn.execute(f'ALTER DATABASE "{db}" OWNER TO {name}')
    url = f"postgresql://{name}:{quote(PASSWORD, safe='')}@{pg_server.host}:{pg_server.port}/{db}"
    seed_varied(url)
    PrismaTable(url).create()
    yield name, db
    pg_server.drop_database(db)
    with pg_server.admin() as conn:
        conn.execute(f"DROP ROLE {name}")


def forms(pg_server, role) -> dict[str, tuple[str, dict[str, str]]]:
    user, db = role
    h, p = pg_server.host, pg_server.port
    return {
        "url-userinfo": (f"postgresql://{user}:{quote(PASSWORD, safe='')}@{h}:{p}/{db}", {}),
        "query-parameter": (f"postgresql://{user}@{h}:{p}/{db}?sslmode=disable&password={quote(PASSWORD, safe='')}",
                            {}),
        "conninfo-quoted": (f"host={h} port={p} user={user} password='{PASSWORD}' dbname={db}", {}),
        "pgpassword": (f"postgresql://{user}@{h}:{p}/{db}", {"PGPASSWORD": PASSWORD}),
    }


def pg_tool_wrappers(folder: Path, log: Path) -> Path:
    """psql, pg_dump, pg_restore... that log their argv, then run the real tool."""
    folder.mkdir(parents=True)
    for tool in ("psql", "pg_dump", "pg_restore", "pg_isready"):
        real = shutil.which(tool)
        if real is None:
            continue
        w = folder / tool
        w.write_text(f'#!/bin/sh\nprintf "%s\\n" "{tool} $*" >> "{log}"\nexec "{real}" "$@"\n')
        w.chmod(w.stat().st_mode | stat.S_IXUSR)
    return folder


def leaks(text: str) -> list[str]:
    return [f for f in FRAGMENTS if f in text]


def run_in_process(args, capfd, caplog) -> str:
    """migtool's main() in this process (fast); stdout, stderr (fd level: child tools too) and logs."""
    from migtool.cli import main

    caplog.clear()
    try:
        main([*args, "-v"])
    except SystemExit:  # argparse: a command that needs arguments we did not give
        pass
    out, err = capfd.readouterr()
    return out + err + caplog.text


def run_all(runs: list[list[str]], url: str, extra_env: dict[str, str], work: Path, monkeypatch, capfd,
            caplog) -> list[str]:
    """Every command in `runs` against `url`; returns what leaked where."""
    import logging

    argv_log = work / "argv.log"
    wrappers = pg_tool_wrappers(work / "bin", argv_log)
    mdir = work / "prisma" / "migrations"
    write_lock_file(mdir)
    write_migration(mdir, "20250101000000_init", "CREATE TABLE grep_t (id int);\n")
    env = cli_env(url, **extra_env, PATH=f"{wrappers}{os.pathsep}{os.environ['PATH']}",
                  MIGTOOL_TARGET="direct", MIGTOOL_BACKUP_DIR=str(work / "backups"),
                  MIGTOOL_MIGRATIONS_DIR=str(mdir))
    for key in list(os.environ):
        if key not in env:
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(work)
    caplog.set_level(logging.DEBUG)
    found = []
    for args in runs:
        for f in leaks(run_in_process(args, capfd, caplog)):
            found.append(f"{' '.join(args)}: {f!r}")
    # Two in a process of their own, as users run them: the real stderr handler and exit path.
    for args in (["backup", "-v"], ["status", "-v", "--json"]):
        res = run_cli(args, env, work)
        for f in leaks(res.stdout + res.stderr):
            found.append(f"{' '.join(args)} (subprocess): {f!r}")
    for path in sorted(work.rglob("*")):
        if path.is_symlink() or not path.is_file() or path.parent == wrappers:
            continue
        for f in leaks(str(path.relative_to(work))):
            found.append(f"file name {path}: {f!r}")
        if path.suffix in (".zst", ".gz"):
            continue  # compressed dump data: holds table rows, never the connection string
        for f in leaks(path.read_bytes().decode(errors="replace")):
            found.append(f"file {path}: {f!r}")
    assert argv_log.exists(), "no pg tool ran: the wrappers were not used"
    return found


@pytest.mark.parametrize("form", ["url-userinfo", "query-parameter", "conninfo-quoted", "pgpassword"])
def test_no_command_shows_the_password(pg_server, role, form, tmp_path, monkeypatch, capfd, caplog):
    url, extra = forms(pg_server, role)[form]
    runs = [*FULL, *([[n] for n in sorted(set(COMMANDS) - MINE)] + [[n, "--json"] for n in sorted(set(COMMANDS) - MINE)])]
    found = run_all(runs if form == "url-userinfo" else SHORT, url, extra, tmp_path, monkeypatch, capfd, caplog)
    assert found == []
    # it really was this password that worked (else we only grepped connection errors)
    backups = list((tmp_path / "backups").glob("*.json"))
    assert backups, "no backup was written"


@pytest.mark.parametrize("form", ["url-userinfo", "query-parameter", "conninfo-quoted", "pgpassword"])
def test_error_paths_do_not_show_the_password(pg_server, role, form, tmp_path):
    url, extra = forms(pg_server, role)[form]
    down = url.replace(f":{pg_server.port}/", ":1/").replace(f"port={pg_server.port}", "port=1")
    env = cli_env(down, **extra)
    for args in (["status"], ["status", "--json"], ["backup"], ["doctor"], ["doctor", "--json"], ["history"],
                 ["backups", "verify", "latest"], ["config", "--json"]):
        res = run_cli([*args, "-v", "--target", "direct", "--backup-dir", str(tmp_path / "b")], env, tmp_path)
        assert leaks(res.stdout + res.stderr) == [], (args, res.stderr)


def test_an_unparsable_conninfo_does_not_show_a_fragment(pg_server, role, tmp_path):
    user, db = role
    # unquoted space: libpq's error quotes the piece after it
    broken = f"host={pg_server.host} port={pg_server.port} user={user} password={PASSWORD} dbname={db}"
    for args in (["status", "-v"], ["config", "--json"], ["doctor", "--json"], ["backup", "-v"]):
        res = run_cli([*args, "--target", "direct", "--backup-dir", str(tmp_path / "b")], cli_env(broken), tmp_path)
        assert leaks(res.stdout + res.stderr) == [], (args, res.stdout + res.stderr)
    res = run_cli(["status", "--target", "direct"], cli_env(broken), tmp_path)
    assert res.returncode == 2 and "not a valid connection string" in res.stderr


def test_python_api_describe_never_shows_it(pg_server, role):
    from migtool.config import Secret
    from migtool.database import DirectDatabase

    for url, _ in forms(pg_server, role).values():
        db = DirectDatabase(Secret(url))
        assert leaks(db.describe() + db.with_database("other").describe()) == []
    assert sys.version_info >= (3, 11)
