"""The step runner and run records: pure logic with a temporary folder."""

from __future__ import annotations

import io
import json
import os
import signal

import pytest

from migtool.errors import EnvironmentProblem, ExitCode, MigtoolError
from migtool.runs import append_run, read_runs, runs_path
from migtool.steps import StepFailed, StepRunner


def test_steps_are_timed_recorded_and_cleanups_run_last_first(tmp_path):
    order = []
    stream = io.StringIO()
    with StepRunner("deploy-migrate", backup_dir=tmp_path, stream=stream) as run:
        run.on_cleanup("first", lambda: order.append("first"))
        assert run.step("status", lambda: 7) == 7
        run.on_cleanup("second", lambda: order.append("second"))
        run.skip("backup", "no finding needs one")
        run.set("pending", ["a"])
        run.finish("applied")
    assert order == ["second", "first"]
    [record] = read_runs(tmp_path)
    assert record["result"] == "applied" and record["exit_code"] == 0
    assert record["pending"] == ["a"]
    assert [s["name"] for s in record["steps"]] == ["status", "backup"]
    assert record["steps"][1]["status"] == "skipped"
    assert "▶ status" in stream.getvalue() and "✔ status" in stream.getvalue()
    assert oct(os.stat(runs_path(tmp_path)).st_mode & 0o777) == "0o600"


def test_a_failing_step_names_itself_keeps_the_exit_code_and_still_records(tmp_path):
    released = []

    def broken():
        raise EnvironmentProblem("docker is down", hint="start it")

    with pytest.raises(StepFailed) as info:
        with StepRunner("deploy-migrate", backup_dir=tmp_path, stream=io.StringIO()) as run:
            run.on_cleanup("release", lambda: released.append(True))
            run.state = "database unchanged"
            run.step("preflight", broken)
            run.step("never", lambda: None)
    assert info.value.exit_code == ExitCode.ENVIRONMENT
    assert info.value.message == "step preflight failed: docker is down (state: database unchanged)"
    assert info.value.hint == "start it"
    assert released == [True]
    [record] = read_runs(tmp_path)
    assert record["result"] == "failed" and record["exit_code"] == 3
    assert record["steps"] == [{"name": "preflight", "status": "failed", "seconds": record["steps"][0]["seconds"],
                                "detail": "docker is down"}]


def test_a_failing_cleanup_does_not_skip_the_others(tmp_path):
    ran = []

    def bad():
        raise MigtoolError("could not remove container")

    with StepRunner("x", backup_dir=tmp_path, stream=io.StringIO()) as run:
        run.on_cleanup("good", lambda: ran.append("good"))
        run.on_cleanup("bad", bad)
    assert ran == ["good"]
    assert read_runs(tmp_path)[0]["cleanup_errors"] == ["bad: could not remove container"]


def test_cleanup_now_runs_once(tmp_path):
    ran = []
    with StepRunner("x", backup_dir=None, stream=io.StringIO()) as run:
        now = run.on_cleanup("c", lambda: ran.append(1))
        now()
        now()
    assert ran == [1]


def test_sigterm_becomes_an_interrupt_with_cleanups_and_record(tmp_path):
    ran = []
    with pytest.raises(KeyboardInterrupt):
        with StepRunner("x", backup_dir=tmp_path, stream=io.StringIO()) as run:
            run.on_cleanup("c", lambda: ran.append(1))
            run.step("wait", lambda: os.kill(os.getpid(), signal.SIGTERM) or signal.pause())
    assert ran == [1]
    record = read_runs(tmp_path)[0]
    assert record["result"] == "interrupted" and record["exit_code"] == 130
    assert record["steps"][0]["status"] == "interrupted"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_reader_skips_a_torn_last_line_and_writer_starts_a_new_line(tmp_path):
    append_run(tmp_path, {"run_id": "a"})
    with open(runs_path(tmp_path), "ab") as f:
        f.write(b'{"run_id": "torn", "res')  # a crash mid-write
    assert [r["run_id"] for r in read_runs(tmp_path)] == ["a"]
    append_run(tmp_path, {"run_id": "b"})
    assert [r["run_id"] for r in read_runs(tmp_path)] == ["a", "b"]
    assert [r["run_id"] for r in read_runs(tmp_path, limit=1)] == ["b"]
    lines = runs_path(tmp_path).read_bytes().splitlines()
    assert json.loads(lines[-1]) == {"run_id": "b"}
