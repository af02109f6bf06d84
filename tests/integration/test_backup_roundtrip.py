"""migtool backup on a real database: dump, drop, restore, and every table's content is the same."""

import json
import os
import stat
import subprocess
from datetime import UTC, datetime

import pytest

from migtool.backup import naming
from migtool.backup.catalog import load
from migtool.backup.dump import BackupRequest, create_backup
from migtool.backup.restore import restore_backup
from migtool.config import Secret
from migtool.database import DirectDatabase
from migtool.errors import MigtoolError
from tests.support.backupdb import cli_env, content_hashes, run_cli, seed_varied, visible_files
from tests.support.prisma_table import PrismaTable, write_migration

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("fmt", "comp"), [("custom", "zstd"), ("custom", "gzip"), ("sql", "zstd"), ("sql", "gzip")])
def test_round_trip_keeps_every_table(pg_server, pg_dbname, pg_url, tmp_path, fmt, comp):
    seed_varied(pg_url)
    before = content_hashes(pg_url)
    backups = tmp_path / "backups"
    res = run_cli(["backup", "--target", "direct", "--backup-dir", str(backups), "--reason", "round trip",
                   "--format", fmt, "--compression", comp, "--json"], cli_env(pg_url), tmp_path)
    assert res.returncode == 0, res.stderr
    manifest = json.loads(res.stdout)
    path = backups / manifest["name"]
    assert manifest["path"] == str(path)

    pg_server.drop_database(pg_dbname)
    pg_server.create_database(pg_dbname)
    seconds = restore_backup(DirectDatabase(Secret(pg_url)), path, fmt=fmt, compression=comp, jobs=2,
                             uncompressed_size=manifest["uncompressed_size"])
    assert seconds > 0
    after = content_hashes(pg_url)
    assert after == before
    assert before["public.users"][1] == 3000 and before["seq:users_id_seq"] == 5000
    assert visible_files(backups) == [manifest["name"], manifest["name"] + ".json", manifest["name"] + ".sha256"]


def test_backup_files_manifest_and_checksum(pg_server, pg_url, tmp_path):
    seed_varied(pg_url)
    backups = tmp_path / "backups"
    old_umask = os.umask(0)  # a careless umask must not make the dump readable by others
    try:
        res = run_cli(["backup", "--target", "direct", "--backup-dir", str(backups), "--reason", "Before v2!",
                       "--json"], cli_env(pg_url), tmp_path)
    finally:
        os.umask(old_umask)
    assert res.returncode == 0, res.stderr
    m = json.loads(res.stdout)
    name = m["name"]
    assert name.endswith("-before-v2.dump.zst")  # the default: custom format, zstd
    parsed = naming.parse_name(name)
    assert parsed.database == m["database"]
    for f in (name, name + ".json", name + ".sha256"):
        assert stat.S_IMODE((backups / f).stat().st_mode) == 0o600, f
    assert json.loads((backups / (name + ".json")).read_text()) == {k: v for k, v in m.items()
                                                                     if k not in ("path", "upload")}
    check = subprocess.run(["sha256sum", "-c", name + ".sha256"], cwd=backups, capture_output=True, text=True)
    assert check.returncode == 0 and f"{name}: OK" in check.stdout
    assert m["size"] == (backups / name).stat().st_size
    assert m["format"] == "custom" and m["compression"] == "zstd" and m["compression_level"] == 1
    assert m["reason"] == "Before v2!" and m["target"] == "direct" and m["created_by"] == "migtool"
    assert m["server_version"].startswith("15") and "pg_dump (PostgreSQL) 15" in m["pg_dump_version"]
    assert m["uncompressed_size"] > m["size"]
    assert datetime.fromisoformat(m["started_at"].replace("Z", "+00:00")) <= \
        datetime.fromisoformat(m["finished_at"].replace("Z", "+00:00"))
    assert m["row_counts"] == "exact"  # a small database: exact count(*) in the dump's snapshot
    tables = {f"{t['schema']}.{t['name']}": t["rows"] for t in m["tables"]}
    counts = {k: v[1] for k, v in content_hashes(pg_url).items() if isinstance(v, tuple)}
    assert tables == counts
    assert tables["public.Orders"] == 8000 and tables["public.empty_table"] == 0
    assert tables["public.events_2024"] + tables["public.events_2025"] == 5000  # partitions, not the parent
    # no password anywhere: output, manifest, names
    everything = res.stdout + res.stderr + "".join(p.name + p.read_text(errors="replace")
                                                    for p in backups.iterdir() if not p.name.endswith(".zst"))
    assert pg_server.password not in everything
    assert "backup written" not in res.stdout  # --json prints only the manifest


def test_human_output_names_path_size_sha_and_duration(pg_url, tmp_path):
    seed_varied(pg_url)
    res = run_cli(["backup", "--target", "direct", "--backup-dir", "b", "--reason", "x"], cli_env(pg_url), tmp_path)
    assert res.returncode == 0, res.stderr
    name = next(p for p in (tmp_path / "b").iterdir() if naming.parse_name(p.name)).name
    sha = (tmp_path / "b" / (name + ".sha256")).read_text().split()[0]
    last = res.stdout.strip().splitlines()[-1]
    assert last.startswith(f"backup written: {tmp_path / 'b' / name} (")
    assert f"sha256 {sha}" in last and last.endswith(" s)")


def test_migration_state_is_recorded(pg_url, tmp_path):
    migrations = tmp_path / "prisma" / "migrations"
    write_migration(migrations, "20240101000000_init", "CREATE TABLE a (id int);\n")
    write_migration(migrations, "20240201000000_second", "CREATE TABLE b (id int);\n")
    table = PrismaTable(pg_url)
    table.create()
    table.apply("20240101000000_init", b"CREATE TABLE a (id int);\n")
    res = run_cli(["backup", "--target", "direct", "--backup-dir", "b", "--migrations-dir", str(migrations),
                   "--json"], cli_env(pg_url), tmp_path)
    assert res.returncode == 0, res.stderr
    m = json.loads(res.stdout)
    assert m["migrations"] == {"last_applied": "20240101000000_init", "pending": ["20240201000000_second"],
                               "failed": []}
    assert m["migrations_note"] is None


def test_missing_migrations_folder_records_null_with_reason(pg_url, tmp_path):
    res = run_cli(["backup", "--target", "direct", "--backup-dir", "b", "--migrations-dir", "nowhere", "--json"],
                  cli_env(pg_url), tmp_path)
    assert res.returncode == 0, res.stderr
    m = json.loads(res.stdout)
    assert m["migrations"] is None and "nowhere" in m["migrations_note"]


def test_same_second_same_reason_gets_a_suffix_and_never_overwrites(pg_url, tmp_path):
    seed_varied(pg_url)
    db = DirectDatabase(Secret(pg_url))
    frozen = datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC)
    request = BackupRequest(tmp_path, "same", "sql", "zstd")
    first = create_backup(db, request, clock=lambda: frozen)
    first_bytes = first.path.read_bytes()
    second = create_backup(db, request, clock=lambda: frozen)
    third = create_backup(db, request, clock=lambda: frozen)
    assert first.path.name.endswith("-20240304T050607Z-same.sql.zst")
    assert second.path.name.endswith("-20240304T050607Z-same-2.sql.zst")
    assert third.path.name.endswith("-20240304T050607Z-same-3.sql.zst")
    assert first.path.read_bytes() == first_bytes
    assert load(second.path).manifest.reason == "same"


def test_claimed_partial_name_is_skipped(pg_url, tmp_path):
    """Another run that is still writing `.NAME.partial` owns NAME: we take the next one."""
    seed_varied(pg_url)
    frozen = datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC)
    db = DirectDatabase(Secret(pg_url))
    name = naming.build_name(db.name, frozen, "busy", "custom", "zstd").filename
    (tmp_path / naming.partial_name(name)).write_bytes(b"someone else's dump in progress")
    result = create_backup(db, BackupRequest(tmp_path, "busy"), clock=lambda: frozen)
    assert result.path.name.endswith("-busy-2.dump.zst")
    assert (tmp_path / naming.partial_name(name)).read_bytes() == b"someone else's dump in progress"


def test_unreachable_database_exits_3_and_leaves_nothing(pg_server, tmp_path):
    from tests.support.pgserver import free_port

    url = f"postgresql://postgres:{pg_server.password}@127.0.0.1:{free_port()}/postgres"
    res = run_cli(["backup", "--target", "direct", "--backup-dir", "b"], cli_env(url), tmp_path)
    assert res.returncode == 3, res.stderr
    assert "not reachable" in res.stderr
    assert pg_server.password not in res.stdout + res.stderr
    assert visible_files(tmp_path / "b") == []


def test_pg_dump_error_leaves_nothing(pg_url, tmp_path):
    """pg_dump fails (a table its role may not read): no backup, no partial file, pg_dump's reason shown."""
    seed_varied(pg_url)
    db = DirectDatabase(Secret(pg_url))
    db.execute("CREATE ROLE backup_limited; GRANT USAGE ON SCHEMA billing TO backup_limited;"
               "GRANT SELECT ON ALL TABLES IN SCHEMA public, billing TO backup_limited;"
               "REVOKE SELECT ON billing.invoices FROM backup_limited")
    try:
        with pytest.raises(MigtoolError) as info:
            create_backup(_AsRole(db, "backup_limited"), BackupRequest(tmp_path, "denied", "sql", "gzip"))
        assert "pg_dump failed" in info.value.message and "permission denied" in info.value.message
        assert visible_files(tmp_path) == []
    finally:
        db.execute("DROP OWNED BY backup_limited; DROP ROLE backup_limited")


class _AsRole:
    """The same database, with pg_dump running as another role (SET ROLE through PGOPTIONS)."""

    def __init__(self, db: DirectDatabase, role: str):
        self._db = db
        self._role = role
        self.name = db.name
        self.user = db.user

    def __getattr__(self, item):
        return getattr(self._db, item)

    def tool(self, argv, **kw):
        if argv[0] == "pg_dump" and "--version" not in argv:
            argv = [*argv, f"--role={self._role}"]
        return self._db.tool(argv, **kw)


def test_streamed_archive_gets_the_offsets_pg_dump_writes_to_a_file(pg_url, tmp_path):
    """pg_dump fills in data offsets only when it can seek; ours, added after the fact, must be the same."""
    import mmap

    from migtool.backup.pgarchive import OFFSET_SET, add_data_offsets, read_toc
    from migtool.database import libpq_env

    seed_varied(pg_url)
    env = {**os.environ, **libpq_env(pg_url)}
    seekable, streamed = tmp_path / "seekable.dump", tmp_path / "streamed.dump"
    subprocess.run(["pg_dump", "-Fc", "-Z0", "-f", str(seekable)], env=env, check=True)
    piped = subprocess.run(["pg_dump", "-Fc", "-Z0"], env=env, check=True, stdout=subprocess.PIPE).stdout
    streamed.write_bytes(piped)  # through a pipe, as migtool backup runs it

    def entries(path):
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return [(e.dump_id, e.state, e.offset) for e in read_toc(buf).entries]

    before = entries(streamed)
    assert before and all(state == 1 for _, state, _ in before)  # a pipe: no offsets
    assert add_data_offsets(streamed) == len(before)
    assert entries(streamed) == entries(seekable)
    assert all(state == OFFSET_SET for _, state, _ in entries(streamed))
    assert add_data_offsets(streamed) == 0  # already set: nothing to do
    listing = subprocess.run(["pg_restore", "-l", str(streamed)], capture_output=True, text=True)
    assert listing.returncode == 0 and "TABLE DATA public users" in listing.stdout
