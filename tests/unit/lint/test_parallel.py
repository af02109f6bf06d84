"""The forked parse of the later files gives exactly the report of the sequential run."""

import json
import os

import pytest

from migtool.lint import parallel
from migtool.lint.engine import lint_sources
from migtool.lint.source import ParsedFile, parse_source

needs_fork = pytest.mark.skipif(not hasattr(os, "fork") or (os.cpu_count() or 1) < 2,
                                reason="needs os.fork and two cores")


@pytest.fixture(autouse=True)
def fork_despite_other_threads(monkeypatch):
    """Earlier tests in the same session may leave threads running (an S3 server, say), which makes
    the real check refuse to fork; these tests are about the forked path, so take it regardless
    (the child only parses, and touches no lock another thread could hold)."""
    monkeypatch.setattr(parallel, "_can_fork", lambda: True)


def _sources() -> list[tuple[str, str]]:
    files = []
    for n in range(12):
        files.append((f"{n:02}_create/migration.sql",
                      f'-- CreateTable\nCREATE TABLE "T{n}" ("id" SERIAL NOT NULL, "x" TEXT);\n'
                      f'CREATE INDEX "T{n}_x" ON "T{n}"("x");\n'))
        # A table created by an earlier file (maybe parsed by the other process) is new: no finding.
        files.append((f"{n:02}_alter_new/migration.sql",
                      f'ALTER TABLE "T{n}" ADD COLUMN "y" TEXT NOT NULL;\n'))
        files.append((f"{n:02}_alter_old/migration.sql",
                      f'ALTER TABLE "User" ADD COLUMN "y{n}" TEXT NOT NULL;\n'
                      f'ALTER TABLE "User" ALTER COLUMN "id" SET DATA TYPE BIGINT;\n'))
    files[20:20] = [
        ("bad_syntax/migration.sql", 'CREATE TABLE "x" (id int;\n'),
        ("nul/migration.sql", 'SELECT 1;\x00\nDROP TABLE "x";\n'),
        ("not_utf8/migration.sql", '-- caf\ufffd\nALTER TABLE "User" DROP COLUMN "a\ufffd";\n'),
        ("allows/migration.sql", '-- migtool:allow drop-column the column is unused since v2\n'
                                 'ALTER TABLE "User" DROP COLUMN "b";\n-- migtool:allow nonsense\nSELECT 1;\n'),
        ("empty/migration.sql", ""),
    ]
    return files


def _report(sources, **kwargs) -> str:
    return json.dumps(lint_sources(sources, **kwargs).to_dict(), sort_keys=True)


def _no_children_left() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


@needs_fork
@pytest.mark.parametrize("share", [0.3, 0.65, 0.99])
@pytest.mark.parametrize("isolated", [False, True])
def test_forked_parse_gives_the_sequential_report(monkeypatch, share, isolated):
    sources = _sources()
    sequential = _report(sources, isolated=isolated)
    monkeypatch.setattr(parallel, "CHILD_SHARE", share)
    monkeypatch.setattr(parallel, "CHUNK", 4)
    assert _report(sources, isolated=isolated, parallel_min_files=2) == sequential
    rules = {f["rule"] for f in json.loads(sequential)["findings"]}
    assert {"syntax-error", "add-required-column", "change-column-type", "invalid-allow"} <= rules
    assert _no_children_left()


@needs_fork
def test_the_tail_really_comes_from_the_child(monkeypatch):
    monkeypatch.setattr(parallel, "CHUNK", 3)

    def prepare(item: int) -> ParsedFile:
        return parse_source("SELECT 1;", f"{item}@{os.getpid()}")

    names = [p.name for p in parallel.parsed_in_order(list(range(20)), prepare, min_files=2)]
    assert [int(n.split("@")[0]) for n in names] == list(range(20))
    pids = {n.split("@")[1] for n in names}
    assert str(os.getpid()) in pids and len(pids) == 2
    assert _no_children_left()


@needs_fork
def test_a_failure_in_the_tail_is_raised_by_the_parent_after_the_files_before_it():
    def prepare(item: int) -> ParsedFile:
        if item == 15:
            raise ValueError(f"cannot read {item}")
        return parse_source("SELECT 1;", str(item))

    seen = []
    with pytest.raises(ValueError, match="cannot read 15"):
        for parsed in parallel.parsed_in_order(list(range(20)), prepare, min_files=2):
            seen.append(int(parsed.name))
    assert seen == list(range(15))
    assert _no_children_left()


@needs_fork
def test_stopping_early_reaps_the_child():
    files = parallel.parsed_in_order(list(range(50)), lambda i: parse_source("SELECT 1;", str(i)), min_files=2)
    assert next(files).name == "0"
    files.close()
    assert _no_children_left()


def test_short_lists_are_parsed_in_this_process():
    names = [p.name for p in parallel.parsed_in_order(list(range(5)), lambda i: parse_source("", f"{os.getpid()}"),
                                                      min_files=10)]
    assert names == [str(os.getpid())] * 5
