"""A plan that cannot be written whole (full disk, a file where --out should be) leaves nothing behind."""

import errno
from pathlib import Path

import pytest

from migtool.errors import EnvironmentProblem
from migtool.plan.model import Migration, Plan, Release
from migtool.plan.writer import write_plan


def _plan() -> Plan:
    migrations = [Migration("a", "SELECT 1;\n", "a", "20250101000000_a"),
                  Migration("b", "SELECT 2;\n", "b", "20250101000001_b")]
    return Plan("add-index", "t", "migtool plan", [Release("expand", [], [], migrations)])


def test_disk_full_midway_takes_back_the_folders(tmp_path, monkeypatch):
    real = Path.write_text
    calls = []

    def full_on_second(self, *a, **kw):
        calls.append(self)
        if len(calls) == 2:  # the second migration.sql: created, then the disk fills up
            real(self, "ALTER TABLE", encoding="utf-8")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *a, **kw)

    monkeypatch.setattr(Path, "write_text", full_on_second)
    out = tmp_path / "plans" / "x"
    with pytest.raises(EnvironmentProblem, match="No space left on device; nothing was kept"):
        write_plan(_plan(), out, "# plan\n")
    assert not out.exists() and not out.parent.exists()  # every folder we made is gone, with what was in it
    assert tmp_path.exists()


def test_out_under_a_file_is_an_environment_error(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(EnvironmentProblem, match="cannot write the plan"):
        write_plan(_plan(), tmp_path / "afile" / "x", "# plan\n")
