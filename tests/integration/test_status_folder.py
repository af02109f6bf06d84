"""Reading a Prisma migrations folder from disk (no database needed, but real files)."""

import pytest

from migtool.errors import ConfigError
from migtool.migrations.folder import lock_file_provider, read_migrations_folder
from tests.support.prisma_table import write_lock_file, write_migration

pytestmark = pytest.mark.integration


def test_reads_folders_in_name_order_with_raw_bytes(tmp_path):
    write_migration(tmp_path, "20250102000000_b", b"SELECT 2;\r\n")
    write_migration(tmp_path, "20250101000000_a", b"SELECT 1;\n")
    write_lock_file(tmp_path)
    (tmp_path / "README.md").write_text("not a migration")
    folder = read_migrations_folder(tmp_path)
    assert [m.name for m in folder.migrations] == ["20250101000000_a", "20250102000000_b"]
    assert folder.migrations[1].script == b"SELECT 2;\r\n"  # line endings kept for the checksum
    assert folder.migrations[0].path == tmp_path / "20250101000000_a"
    assert folder.problems == ()


def test_folder_without_script_is_kept_with_a_problem(tmp_path):
    (tmp_path / "20250101000000_empty").mkdir()
    (tmp_path / "20250102000000_odd" / "migration.sql").mkdir(parents=True)
    folder = read_migrations_folder(tmp_path)
    assert [(m.name, m.script) for m in folder.migrations] == [("20250101000000_empty", None),
                                                               ("20250102000000_odd", None)]
    assert "no migration.sql" in folder.migrations[0].problem
    assert "is a directory" in folder.migrations[1].problem


def test_unreadable_script_is_a_problem(tmp_path):
    folder = tmp_path / "20250101000000_a"
    folder.mkdir()
    (folder / "migration.sql").symlink_to(folder / "migration.sql")  # a loop: unreadable even as root
    assert "cannot read migration.sql" in read_migrations_folder(tmp_path).migrations[0].problem


def test_symlinked_folders_are_ignored_like_prisma_does(tmp_path):
    real = write_migration(tmp_path / "elsewhere", "20250101000000_a", b"SELECT 1;\n")
    mdir = tmp_path / "migrations"
    mdir.mkdir()
    (mdir / "20250101000000_a").symlink_to(real)
    assert read_migrations_folder(mdir).migrations == ()


def test_lock_file_for_another_provider_is_a_problem(tmp_path):
    write_lock_file(tmp_path, "sqlite")
    problems = read_migrations_folder(tmp_path).problems
    assert len(problems) == 1 and "sqlite" in problems[0]


def test_lock_file_provider_parsing():
    assert lock_file_provider('# comment\nprovider = "postgresql"\n') == "postgresql"
    assert lock_file_provider("provider=mysql\n") == "mysql"
    assert lock_file_provider("# nothing\n") == ""


def test_missing_folder_is_config_error_with_hint(tmp_path):
    with pytest.raises(ConfigError) as info:
        read_migrations_folder(tmp_path / "nope")
    assert "--migrations-dir" in info.value.hint


def test_file_instead_of_folder_is_config_error(tmp_path):
    (tmp_path / "migrations").write_text("")
    with pytest.raises(ConfigError, match="not a directory"):
        read_migrations_folder(tmp_path / "migrations")
