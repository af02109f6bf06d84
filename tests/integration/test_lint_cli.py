"""`migtool lint` end to end: files on disk, every output format, exit codes, suppressions, and the
no-path mode against a real PostgreSQL with a `_prisma_migrations` table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from migtool.cli import main
from migtool.lint import lint_files
from tests.support.prisma_table import PrismaTable, write_migration

pytestmark = pytest.mark.integration

INIT = """-- CreateTable
CREATE TABLE "User" (
    "id" SERIAL NOT NULL,
    "email" TEXT NOT NULL,
    "name" TEXT,
    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);
"""
ADD_INDEX = '-- CreateIndex\nCREATE INDEX "User_email_idx" ON "User"("email");\n'
DROP_NAME = '-- AlterTable\nALTER TABLE "User" DROP COLUMN "name";\n'
NEW_TABLE_WITH_INDEX = ('CREATE TABLE "Tag" ("id" SERIAL NOT NULL, "label" TEXT);\n'
                        'CREATE UNIQUE INDEX "Tag_label_key" ON "Tag"("label");\n')
EXAMPLE_MIGRATIONS = Path(__file__).resolve().parents[2] / "examples" / "prisma-app" / "prisma" / "migrations"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder as cwd, with no configuration or database settings leaking in."""
    for var in list(os.environ):
        if var.startswith("MIGTOOL_") or var in ("DATABASE_URL", "DB_USER", "DB_NAME"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_lint(capsys, *argv):
    code = main(["lint", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_output_and_exit_code_for_a_dangerous_migration(project, capsys):
    mig = project / "prisma" / "migrations"
    write_migration(mig, "20250101000000_drop", DROP_NAME)
    code, out, _ = run_lint(capsys, "--format", "json", "prisma/migrations")
    assert code == 1
    data = json.loads(out)
    rules = [f["rule"] for f in data["findings"]]
    assert rules == ["drop-column", "missing-lock-timeout"]
    first = data["findings"][0]
    assert first["file"] == "prisma/migrations/20250101000000_drop/migration.sql"
    assert (first["line"], first["column"], first["severity"]) == (2, 1, "danger")
    assert data["summary"]["files"] == 1 and data["summary"]["danger"] == 1 and data["summary"]["pg_version"] == 15


def test_a_history_folder_treats_earlier_migrations_as_existing_unless_together(project, capsys):
    mig = project / "m"
    write_migration(mig, "20250101000000_init", INIT)
    write_migration(mig, "20250102000000_index", ADD_INDEX)
    # Each migration is its own release: "User" exists by the time the index is built.
    code, out, err = run_lint(capsys, "--json", "m")
    assert code == 1
    data = json.loads(out)
    assert data["summary"]["existing"] == "earlier migrations"
    assert [(f["rule"], f["file"]) for f in data["findings"] if f["severity"] != "advice"] == [
        ("create-index-blocking", "m/20250102000000_index/migration.sql")]
    # The same as linting the second migration alone.
    code, out, _ = run_lint(capsys, "--json", "m/20250102000000_index")
    assert code == 1
    assert "create-index-blocking" in [f["rule"] for f in json.loads(out)["findings"]]
    # --together: both deploy at once, so "User" is new for the index.
    code, out, err = run_lint(capsys, "--together", "m")
    assert code == 0
    assert "existing: before these files" in err and "no problems found" in err
    code, out, err = run_lint(capsys, "m")
    assert "existing: earlier migrations" in " ".join(err.split())


def test_earlier_migrations_in_the_folder_supply_validated_checks(project, capsys):
    """The example project's contract step: SET NOT NULL after a validated CHECK two migrations back."""
    last = sorted(p for p in EXAMPLE_MIGRATIONS.iterdir() if p.is_dir())[-1]
    assert last.name.endswith("user_phone_set_not_null")
    code, out, _ = run_lint(capsys, "--json", str(last))
    assert code == 0, out
    assert json.loads(out)["findings"] == []
    # The same file copied out of its folder has no history: set-not-null fires.
    lone = project / "set_not_null.sql"
    lone.write_text((last / "migration.sql").read_text())
    code, out, _ = run_lint(capsys, "--json", str(lone))
    assert code == 1 and "set-not-null" in [f["rule"] for f in json.loads(out)["findings"]]


def test_example_project_passes_as_a_whole(capsys):
    code, out, _ = run_lint(capsys, "--json", str(EXAMPLE_MIGRATIONS))
    assert code == 0
    assert json.loads(out)["summary"]["files"] == 7


def test_text_output_groups_by_file_and_shows_the_fix(project, capsys):
    write_migration(project / "m", "1_drop", DROP_NAME)
    code, out, err = run_lint(capsys, "m")
    assert code == 1
    assert out.startswith("m/1_drop/migration.sql\n")
    assert "2:1  danger  drop-column" in out
    assert 'fix: 1. Release code that no longer reads or writes "name"' in out
    assert ("1 file linted (PostgreSQL 15; existing: earlier migrations): 1 danger, 0 warning, 1 advice: "
            "fails (--fail-on warning)") in " ".join(err.split())


def test_github_annotations(project, capsys):
    write_migration(project / "m", "1_drop", DROP_NAME)
    code, out, _ = run_lint(capsys, "--format", "github", "m")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("::error file=m/1_drop/migration.sql,line=2,col=1,title=drop-column (danger)::")
    assert lines[1].startswith("::notice file=m/1_drop/migration.sql,line=2,col=1,title=missing-lock-timeout")


def test_sarif_output_with_a_suppressed_finding(project, capsys):
    write_migration(project / "m", "1_drop",
                    "SET lock_timeout = '5s';\n-- migtool:allow drop-column unused since v3\n" + DROP_NAME)
    code, out, _ = run_lint(capsys, "--format", "sarif", "m")
    assert code == 0  # the only finding is suppressed
    log = json.loads(out)
    assert log["version"] == "2.1.0"
    (result,) = log["runs"][0]["results"]
    assert result["ruleId"] == "drop-column"
    assert result["suppressions"] == [{"kind": "inSource", "justification": "unused since v3"}]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "m/1_drop/migration.sql"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 4


def test_fail_on_threshold(project, capsys):
    (project / "advice.sql").write_text('ALTER TABLE "User" ADD COLUMN "bio" TEXT;\n')
    (project / "warn.sql").write_text("SET lock_timeout = '5s';\nCREATE INDEX \"i\" ON \"User\"(\"email\");\n")
    assert run_lint(capsys, "advice.sql")[0] == 0
    assert run_lint(capsys, "--fail-on", "advice", "advice.sql")[0] == 1
    assert run_lint(capsys, "warn.sql")[0] == 1
    assert run_lint(capsys, "--fail-on", "danger", "warn.sql")[0] == 0


def test_pg_version_flag_changes_version_dependent_rules(project, capsys):
    (project / "a.sql").write_text("SET lock_timeout = '5s';\nALTER TABLE \"User\" ADD COLUMN \"on\" BOOLEAN NOT NULL DEFAULT true;\n")
    code, out, _ = run_lint(capsys, "--json", "a.sql")
    assert code == 0 and json.loads(out)["findings"] == []
    code, out, _ = run_lint(capsys, "--json", "--pg-version", "10", "a.sql")
    assert code == 1
    assert [f["rule"] for f in json.loads(out)["findings"]] == ["add-column-volatile-default"]
    assert json.loads(out)["summary"]["pg_version"] == 10


def test_pg_version_from_the_config_file(project, capsys):
    (project / "migtool.yaml").write_text("pg_version: 10\n")
    (project / "a.sql").write_text("SET lock_timeout = '5s';\nALTER TABLE \"User\" ADD COLUMN \"on\" BOOLEAN DEFAULT true;\n")
    code, out, _ = run_lint(capsys, "--json", "a.sql")
    assert code == 1 and json.loads(out)["summary"]["pg_version"] == 10


def test_syntax_error_fails_with_file_and_line(project, capsys):
    (project / "bad.sql").write_text("CREATE TABLE \"A\" (id int);\nALTER TABLE \"A\" ADD COLUMN ;\n")
    code, out, _ = run_lint(capsys, "--json", "bad.sql")
    assert code == 1
    (f,) = json.loads(out)["findings"]
    assert (f["rule"], f["file"], f["line"]) == ("syntax-error", "bad.sql", 2)
    assert json.loads(out)["summary"]["parse_errors"] == 1


def test_missing_path_is_a_usage_error_naming_it(project, capsys):
    code, out, err = run_lint(capsys, "prisma/nope")
    assert code == 2 and out == ""
    assert "prisma/nope" in err and "error:" in err


def test_bad_pg_version_is_a_usage_error(project, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["lint", "--pg-version", "fifteen", "x.sql"])
    assert exc.value.code == 2


def test_list_rules_text_and_json(project, capsys):
    code, out, _ = run_lint(capsys, "--list-rules")
    assert code == 0 and "drop-column" in out and "missing-lock-timeout" in out
    code, out, _ = run_lint(capsys, "--list-rules", "--format", "json")
    ids = [r["id"] for r in json.loads(out)["rules"]]
    assert "add-foreign-key" in ids and "syntax-error" in ids


def test_files_are_linted_in_the_order_given_and_once(project, capsys):
    (project / "b.sql").write_text('CREATE TABLE "T" ("a" INT);\n')
    (project / "a.sql").write_text('CREATE INDEX "i" ON "T"("a");\n')
    code, out, _ = run_lint(capsys, "--json", "--together", "b.sql", "a.sql", "b.sql")
    assert code == 0 and json.loads(out)["summary"]["files"] == 2
    code, out, _ = run_lint(capsys, "--json", "--together", "a.sql", "b.sql")
    assert code == 1


def test_lint_files_api_raises_config_error_for_unreadable_paths(project):
    from migtool.errors import ConfigError

    with pytest.raises(ConfigError, match="nope.sql"):
        lint_files([project / "nope.sql"])
    report = lint_files([EXAMPLE_MIGRATIONS / "20250106090000_init" / "migration.sql"])
    assert report.max_severity is None and not report.has_danger


# ---------------------------------------------------------------- no PATH: the project's pending migrations


def test_no_path_lints_only_pending_migrations(project, capsys, monkeypatch, pg_url):
    mig = project / "prisma" / "migrations"
    write_migration(mig, "20250101000000_init", INIT)
    write_migration(mig, "20250102000000_index", ADD_INDEX)
    write_migration(mig, "20250103000000_tags", NEW_TABLE_WITH_INDEX)
    table = PrismaTable(pg_url)
    table.create()
    table.apply("20250101000000_init", (mig / "20250101000000_init" / "migration.sql").read_bytes())
    monkeypatch.setenv("MIGTOOL_TARGET", "direct")
    monkeypatch.setenv("DATABASE_URL", pg_url)
    code, out, err = run_lint(capsys, "--json")
    data = json.loads(out)
    assert data["summary"]["files"] == 2, err
    assert [f["file"] for f in data["findings"] if f["rule"] == "create-index-blocking"] == [
        "prisma/migrations/20250102000000_index/migration.sql"]
    assert data["summary"]["pg_version"] == 15  # asked the server (the fixture runs PostgreSQL 15)
    assert code == 1
    assert pg_url not in err and pg_url not in out


def test_no_path_with_nothing_pending(project, capsys, monkeypatch, pg_url):
    mig = project / "prisma" / "migrations"
    write_migration(mig, "20250101000000_init", INIT)
    table = PrismaTable(pg_url)
    table.create()
    table.apply("20250101000000_init", (mig / "20250101000000_init" / "migration.sql").read_bytes())
    monkeypatch.setenv("MIGTOOL_TARGET", "direct")
    monkeypatch.setenv("DATABASE_URL", pg_url)
    code, out, err = run_lint(capsys, "--json")
    assert code == 0 and json.loads(out)["summary"]["files"] == 0
    assert "no pending migrations" in err


def test_no_path_falls_back_to_every_migration_when_the_database_is_down(project, capsys, monkeypatch, pg_server):
    mig = project / "prisma" / "migrations"
    write_migration(mig, "20250101000000_init", INIT)
    write_migration(mig, "20250102000000_drop", DROP_NAME)
    monkeypatch.setenv("MIGTOOL_TARGET", "direct")
    # A port nobody listens on: connection refused at once.
    from tests.support.pgserver import free_port

    monkeypatch.setenv("DATABASE_URL", f"postgresql://nobody:secret@127.0.0.1:{free_port()}/none")
    code, out, err = run_lint(capsys, "--json")
    assert "warning:" in err and "linting every migration" in err
    assert "secret" not in err
    data = json.loads(out)
    assert data["summary"]["files"] == 2 and data["summary"]["pg_version"] == 15
    # Which migrations ran is unknown, so each is judged alone: "User" from the older one exists.
    assert [f["rule"] for f in data["findings"] if f["severity"] == "danger"] == ["drop-column"]
    assert code == 1


def test_no_path_with_a_missing_migrations_folder_is_a_config_error(project, capsys):
    code, _, err = run_lint(capsys)
    assert code == 2 and "migrations folder not found" in err


# ---------------------------------------------------------------- staying light and fast


def test_lint_imports_nothing_heavy(project):
    (project / "a.sql").write_text(DROP_NAME)
    code = (
        "import sys\n"
        "from migtool.cli import main\n"
        "rc = main(['lint', '--format', 'json', 'a.sql'])\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'rich', 'psycopg', 'boto3', 'botocore', 'docker',"
        " 'plumbum', 'yaml', 'zstandard'})\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=project)
    assert res.returncode == 1, res.stderr
    assert "HEAVY []" in res.stderr
    assert json.loads(res.stdout)["findings"][0]["rule"] == "drop-column"


def test_no_path_falls_back_when_migration_status_cannot_be_imported(project, capsys, monkeypatch):
    write_migration(project / "prisma" / "migrations", "20250101000000_init", INIT)
    monkeypatch.setitem(sys.modules, "migtool.migration_status", None)  # import now raises ImportError
    code, out, err = run_lint(capsys, "--json")
    assert code == 0 and json.loads(out)["summary"]["files"] == 1
    assert "warning:" in err and "cannot ask the database" in err


def test_docs_describe_every_rule_with_its_severity():
    from migtool.lint.rules import RULES

    doc = (Path(__file__).resolve().parents[2] / "docs" / "lint-rules.md").read_text()
    for rule in RULES:
        assert f"\n### {rule.id}\n**{rule.severity}" in doc, rule.id
        assert f"| [{rule.id}](#{rule.id}) | {rule.severity} |" in doc, rule.id


# ---------------------------------------------------------------- issue 10: what counts as existing, odd paths

def test_db_flag_with_paths_lints_the_pending_ones_as_one_deploy(project, capsys, monkeypatch, pg_url):
    mig = project / "prisma" / "migrations"
    write_migration(mig, "20250101000000_init", INIT)
    write_migration(mig, "20250102000000_tags", NEW_TABLE_WITH_INDEX)
    write_migration(mig, "20250103000000_drop", DROP_NAME + 'CREATE INDEX "Tag_id_idx" ON "Tag"("id");\n')
    table = PrismaTable(pg_url)
    table.create()
    table.apply("20250101000000_init", (mig / "20250101000000_init" / "migration.sql").read_bytes())
    monkeypatch.setenv("MIGTOOL_TARGET", "direct")
    monkeypatch.setenv("DATABASE_URL", pg_url)
    code, out, err = run_lint(capsys, "--json", "--db", "prisma/migrations")
    data = json.loads(out)
    assert data["summary"]["existing"] == "applied in database"
    assert data["summary"]["files"] == 2  # the applied init is read for facts only
    # "Tag" comes from a pending migration of the same deploy: new. "User" is applied: existing.
    assert [f["rule"] for f in data["findings"] if f["severity"] != "advice"] == ["drop-column"]
    assert code == 1
    # Without --db each migration is its own release: the index on "Tag" now blocks writes.
    code, out, err = run_lint(capsys, "--json", "prisma/migrations")
    data = json.loads(out)
    assert data["summary"]["existing"] == "earlier migrations"
    assert "create-index-blocking" in [f["rule"] for f in data["findings"]]


def test_db_flag_with_the_database_down_is_an_environment_error(project, capsys, monkeypatch):
    from tests.support.pgserver import free_port

    write_migration(project / "m", "20250101000000_init", INIT)
    monkeypatch.setenv("MIGTOOL_TARGET", "direct")
    monkeypatch.setenv("DATABASE_URL", f"postgresql://nobody:secret@127.0.0.1:{free_port()}/none")
    code, out, err = run_lint(capsys, "--db", "m")
    assert code == 3 and "secret" not in err


def test_together_without_paths_is_a_usage_error(project, capsys):
    code, _, err = run_lint(capsys, "--together")
    assert code == 2 and "--together needs PATHs" in err


def test_pg_version_with_paths_is_the_servers_when_reachable(project, capsys, monkeypatch, pg_url):
    from migtool.commands import lint as lint_command

    write_migration(project / "m", "20250101000000_init", INIT)
    monkeypatch.setattr(lint_command, "FALLBACK_PG_VERSION", 11)  # the server runs 15: tell them apart
    code, out, _ = run_lint(capsys, "--json", "m")
    assert json.loads(out)["summary"]["pg_version"] == 11  # no database configured
    monkeypatch.setenv("MIGTOOL_TARGET", "direct")
    monkeypatch.setenv("DATABASE_URL", pg_url)
    code, out, _ = run_lint(capsys, "--json", "m")
    assert json.loads(out)["summary"]["pg_version"] == 15
    code, out, _ = run_lint(capsys, "--json", "--pg-version", "13", "m")
    assert json.loads(out)["summary"]["pg_version"] == 13


def test_a_fifo_dev_null_and_process_substitution_are_linted_as_files(project):
    import threading

    fifo = project / "pipe.sql"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_text(DROP_NAME))
    writer.start()
    proc = subprocess.run([sys.executable, "-m", "migtool", "lint", "--json", str(fifo)], cwd=project,
                          capture_output=True, text=True, timeout=60)
    writer.join(timeout=10)
    assert proc.returncode == 1, proc.stderr
    assert [f["rule"] for f in json.loads(proc.stdout)["findings"]] == ["drop-column", "missing-lock-timeout"]
    proc = subprocess.run([sys.executable, "-m", "migtool", "lint", "/dev/null"], cwd=project,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "1 file linted" in proc.stderr and "no problems found" in proc.stderr
    proc = subprocess.run(["bash", "-c", f"'{sys.executable}' -m migtool lint --json <(printf '%s' 'TRUNCATE x;')"],
                          cwd=project, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["findings"][0]["rule"] == "truncate"


def test_a_byte_order_mark_is_stripped_with_an_advice(project, capsys):
    (project / "bom.sql").write_bytes(b"\xef\xbb\xbf" + DROP_NAME.encode())
    code, out, _ = run_lint(capsys, "--json", "bom.sql")
    rules = [(f["rule"], f["line"]) for f in json.loads(out)["findings"]]
    assert ("byte-order-mark", 1) in rules and ("drop-column", 2) in rules
