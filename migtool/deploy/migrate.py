"""Run the migrate step: the compose migrate service as a one-off container, or (direct target) the
configured migrate_command on this machine. Output goes live to our stderr (stdout stays for
--json); the last lines are kept for the failure message.

Stopping is the point of this module. `docker compose run` is only a client: killing it leaves the
container running, still holding Prisma's advisory lock, and every later deploy then fails with
P1002. So the container gets a unique --name, the client runs in its own session (the terminal's
Ctrl-C reaches only us), and stop() kills the client and then `docker rm -f`s the container by
name. The caller registers stop() as a cleanup before waiting, so a timeout, Ctrl-C or SIGTERM
(which the step runner turns into KeyboardInterrupt) always ends with no container left.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from migtool.compose import ComposeProject
from migtool.config import Config
from migtool.database import compose_project
from migtool.errors import CheckFailed, ConfigError, EnvironmentProblem, MigtoolError

TAIL_LINES = 40


@dataclass
class MigrateResult:
    exit_code: int
    seconds: float
    where: str  # "container NAME" or "command ARGV0"
    tail: list[str] = field(default_factory=list)

    def last_line(self) -> str:
        return next((line for line in reversed(self.tail) if line.strip()), "")


class MigrateTimeout(CheckFailed):
    pass


def container_name(run_id: str) -> str:
    """A name no other run uses (docker allows [a-zA-Z0-9][a-zA-Z0-9_.-]*)."""
    return f"migtool-{run_id}"


class MigrateProcess:
    """One migrate run: start(), wait(timeout), and stop() that always leaves nothing running."""

    def __init__(self, config: Config, run_id: str, output: Callable[[bytes], None] | None = None,
                 after_stop: Callable[[], None] | None = None):
        self.config = config
        self.after_stop = after_stop  # e.g. end the server sessions a killed container left running
        self.output = output or _to_stderr
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self.proc: subprocess.Popen | None = None
        self.project: ComposeProject | None = None
        self.container: str | None = None
        self._reader: threading.Thread | None = None
        self._started = 0.0
        if config.target == "compose":
            self.project = compose_project(config)
            self.container = container_name(run_id)
            self.where = f"container {self.container}"
        else:
            if not config.migrate_command:
                raise ConfigError("the direct target needs migrate_command: the command that applies the "
                                  "migrations here, e.g. `npx prisma migrate deploy`",
                                  hint="set migrate_command in migtool.yaml (or MIGTOOL_MIGRATE_COMMAND)")
            if config.database_url is None:
                raise ConfigError("the direct target needs DATABASE_URL",
                                  hint="export DATABASE_URL=postgresql://USER@HOST:5432/DB")
            self.where = f"command {config.migrate_command[0]}"

    def start(self) -> None:
        self._started = time.monotonic()
        if self.project is not None:
            self.proc = self.project.start_one_off(self.config.migrate_service, self.container,
                                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        else:
            env = dict(os.environ)
            env["DATABASE_URL"] = self.config.database_url.reveal()  # the environment, never argv
            try:
                self.proc = subprocess.Popen(list(self.config.migrate_command), stdin=subprocess.DEVNULL,
                                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                             cwd=self.config.config_path.parent if self.config.config_path else None,
                                             start_new_session=True)
            except OSError as exc:
                raise EnvironmentProblem(f"cannot run migrate_command {self.config.migrate_command[0]}: "
                                         f"{exc.strerror}", hint="check migrate_command in migtool.yaml") from None
        self._reader = threading.Thread(target=self._pump, name="migrate-output", daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        partial = b""
        for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):
            self.output(chunk)
            partial += chunk
            *lines, partial = partial.split(b"\n")
            for line in lines:
                self.tail.append(line.decode(errors="replace").rstrip("\r"))
        if partial:
            self.tail.append(partial.decode(errors="replace"))

    def wait(self, timeout: float | None) -> MigrateResult:
        """The exit code; MigrateTimeout after stopping everything when `timeout` s pass."""
        assert self.proc is not None
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise MigrateTimeout(f"the migrate step did not finish in {timeout:g} s; {self.where} was stopped "
                                 "and removed", hint="see `migtool status` and `migtool history`; raise --timeout "
                                                     "if the migration is just slow") from None
        if self._reader is not None:
            self._reader.join(timeout=10)
        return self.result(code)

    def result(self, code: int) -> MigrateResult:
        return MigrateResult(code, round(time.monotonic() - self._started, 3), self.where, list(self.tail))

    def stop(self) -> None:
        """Kill the client, then remove the container by name. Idempotent; safe before start()."""
        proc = self.proc
        killed = False
        if proc is not None and proc.poll() is None:
            killed = True
            if self.project is not None:
                proc.kill()  # the compose client only; the container lives on until rm -f
            else:
                _kill_group(proc)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        if self.project is not None and self.container is not None and proc is not None:
            self._remove_container()
        if self._reader is not None:
            self._reader.join(timeout=5)
        if killed and self.after_stop is not None:
            self.after_stop()


    def _remove_container(self, patience: float = 90) -> None:
        """`docker rm -f` until the container is gone: the client may have been creating it as it
        died, and a removal already under way (`run --rm`) can take a while on a busy host."""
        assert self.project is not None and self.container is not None
        deadline = time.monotonic() + patience
        problem: MigtoolError | None = None
        while True:
            try:
                self.project.remove_container(self.container)
            except MigtoolError as exc:
                problem = exc
            if not self.project.container_exists(self.container):
                return
            if time.monotonic() > deadline:
                why = f": {problem.message}" if problem else ""
                raise EnvironmentProblem(f"the migrate container {self.container} could not be removed{why}",
                                         hint=f"docker rm -f {self.container}")
            time.sleep(0.5)


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGTERM the command's process group, SIGKILL it if it lingers."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _to_stderr(chunk: bytes) -> None:
    try:
        sys.stderr.buffer.write(chunk)
        sys.stderr.buffer.flush()
    except (AttributeError, ValueError, OSError):
        sys.stderr.write(chunk.decode(errors="replace"))
        sys.stderr.flush()


def run_migrate(config: Config, run_id: str, timeout: float | None,
                on_cleanup: Callable[[str, Callable[[], None]], Callable[[], None]] | None = None,
                output: Callable[[bytes], None] | None = None,
                after_stop: Callable[[], None] | None = None) -> MigrateResult:
    """Start the migrate step, register its stop() as a cleanup (when given the runner's
    on_cleanup), wait for it, and stop/remove it right away when it ends or times out."""
    process = MigrateProcess(config, run_id, output, after_stop)
    stop_now = on_cleanup("stop and remove the migrate container", process.stop) if on_cleanup else process.stop
    interrupted = False
    process.start()
    try:
        return process.wait(timeout)
    except KeyboardInterrupt:
        # The runner's cleanups run with signals ignored: a second Ctrl-C cannot cut the removal short.
        interrupted = True
        if on_cleanup is None:
            process.stop()
        raise
    finally:
        if not interrupted:
            stop_now()  # after a normal end this only confirms nothing is left
