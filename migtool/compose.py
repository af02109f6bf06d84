"""The one place that builds `docker compose` command lines.

Everything above this module asks for what it wants (exec a command in a service with streams,
run a one-off service, stop/start services, read state) and gets MigtoolErrors that say what to do.
Commands run through plumbum with argument lists, never through a shell string.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from plumbum import CommandNotFound, local

from migtool.errors import ConfigError, EnvironmentProblem

BOOTSTRAP_HINT = "install Docker and the compose v2 plugin (on this project's machines: scripts/dev/bootstrap)"


@dataclass(frozen=True)
class ServiceState:
    service: str
    container: str
    state: str  # running, exited, ...
    health: str  # healthy, unhealthy, starting or ""
    exit_code: int | None


def _docker():
    try:
        return local["docker"]
    except CommandNotFound:
        raise EnvironmentProblem("the docker command is not installed", hint=BOOTSTRAP_HINT) from None


def explain_docker_failure(stderr: str, what: str) -> EnvironmentProblem:
    text = stderr.strip()
    if "Cannot connect to the Docker daemon" in text or "error during connect" in text:
        return EnvironmentProblem(
            f"{what}: the Docker engine is not reachable",
            hint="start it (systemctl start docker, or scripts/dev/bootstrap) and check `docker info`",
        )
    if "is not a docker command" in text or "unknown command" in text and "compose" in text:
        return EnvironmentProblem(f"{what}: docker compose v2 is not installed", hint=BOOTSTRAP_HINT)
    last = text.splitlines()[-1] if text else "no error output"
    return EnvironmentProblem(f"{what}: {last}")


class ComposeProject:
    """A docker compose project: its files, name and env file."""

    def __init__(
        self,
        files: Sequence[Path],
        project_name: str | None = None,
        env_file: Path | None = None,
        env: Mapping[str, str] | None = None,
    ):
        self.files = [Path(f) for f in files]
        self.project_name = project_name
        self.env_file = Path(env_file) if env_file else None
        self.env = dict(env or {})

    # ------------------------------------------------------------------ command lines
    def _check_files(self) -> None:
        for f in self.files:
            if not f.is_file():
                raise ConfigError(
                    f"compose file not found: {f}",
                    hint="pass --compose-file PATH or set compose_file in migtool.yaml",
                )
        if self.env_file is not None and not self.env_file.is_file():
            raise ConfigError(f"compose env file not found: {self.env_file}", hint="check compose_env_file")

    def _args(self) -> list[str]:
        args = ["compose"]
        for f in self.files:
            args += ["-f", str(f)]
        if self.project_name:
            args += ["-p", self.project_name]
        if self.env_file:
            args += ["--env-file", str(self.env_file)]
        return args

    def _command(self, *args: str):
        self._check_files()
        cmd = _docker()[(*self._args(), *args)]
        return cmd.with_env(**self.env) if self.env else cmd

    def hint_command(self, *args: str) -> str:
        """A command line for the operator to type (for hints; never run from here)."""
        import shlex

        return shlex.join(["docker", *self._args(), *args])

    def describe(self) -> str:
        name = f" (project {self.project_name})" if self.project_name else ""
        return f"docker compose -f {' -f '.join(str(f) for f in self.files)}{name}"

    def _capture(self, *args: str, what: str, timeout: float | None = 120) -> str:
        cmd = self._command(*args)
        try:
            code, out, err = cmd.run(retcode=None, timeout=timeout)
        except Exception as exc:  # plumbum's ProcessTimedOut and OS errors
            raise EnvironmentProblem(f"{what}: {exc}") from None
        if code != 0:
            raise explain_docker_failure(err, what)
        return out

    # ------------------------------------------------------------------ read state
    def version(self) -> str:
        cmd = _docker()["compose", "version", "--short"]
        code, out, err = cmd.run(retcode=None, timeout=30)
        if code != 0:
            raise explain_docker_failure(err or out, "docker compose version")
        return out.strip().lstrip("v")

    def config(self) -> dict[str, Any]:
        """The resolved compose model (validates the file). Holds secrets: never print it."""
        # Every profile: services such as `migrate` live in a profile and would be left out.
        out = self._capture("--profile", "*", "config", "--format", "json", what="docker compose config")
        return json.loads(out)

    def service_names(self) -> list[str]:
        return sorted(self.config().get("services", {}))

    def ps(self) -> list[ServiceState]:
        out = self._capture("ps", "--all", "--format", "json", what="docker compose ps")
        out = out.strip()
        if not out:
            return []
        # Older compose prints one JSON array, newer one object per line.
        items = json.loads(out) if out.startswith("[") else [json.loads(line) for line in out.splitlines()]
        return [
            ServiceState(
                service=i.get("Service", ""),
                container=i.get("Name", ""),
                state=i.get("State", ""),
                health=i.get("Health", "") or "",
                exit_code=i.get("ExitCode"),
            )
            for i in items
        ]

    def running_services(self) -> set[str]:
        return {s.service for s in self.ps() if s.state == "running"}

    def published_port(self, service: str, container_port: int) -> tuple[str, int] | None:
        """(host, port) where the host reaches a service's port, or None when it is not published."""
        out = self._capture("port", service, str(container_port), what=f"docker compose port {service}").strip()
        host, _, port = out.rpartition(":")
        if not port.isdigit() or int(port) == 0:  # compose prints ":0" for an unpublished port
            return None
        host = host.strip("[]")
        return ("127.0.0.1" if host in ("", "0.0.0.0", "::") else host), int(port)

    # ------------------------------------------------------------------ act
    def exec_stream(
        self,
        service: str,
        argv: Sequence[str],
        *,
        stdin: int | IO[bytes] | None = None,
        stdout: int | IO[bytes] | None = None,
        stderr: int | IO[bytes] | None = subprocess.PIPE,
        env: Mapping[str, str] | None = None,
        user: str | None = None,
        new_session: bool = False,
    ) -> subprocess.Popen:
        """Start `argv` inside the running `service` with raw byte streams (exec -T).

        new_session=True keeps the terminal's Ctrl-C away from the compose CLI, so the caller decides
        when the exec ends (e.g. a lock session that must outlive the step it guards)."""
        args = ["exec", "-T"]
        if user:
            args += ["--user", user]
        for key, value in (env or {}).items():
            # Values here are never secrets (callers pass only names such as PGTZ).
            args += ["-e", f"{key}={value}"]
        cmd = self._command(*args, service, *argv)
        return cmd.popen(stdin=stdin, stdout=stdout, stderr=stderr, start_new_session=new_session)

    def exec(
        self,
        service: str,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = 300,
    ) -> subprocess.CompletedProcess:
        proc = self.exec_stream(
            service,
            argv,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        try:
            out, err = proc.communicate(input=input, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise EnvironmentProblem(f"`{argv[0]}` in service {service} did not finish in {timeout} s") from None
        return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)

    def run_service(self, name: str, *, args: Sequence[str] = (), env: Mapping[str, str] | None = None) -> int:
        """`run --rm NAME`; its output goes live to our stdout/stderr. Returns the container's exit code."""
        extra: list[str] = []
        for key in env or {}:
            extra += ["-e", key]  # value passed through our environment, never argv
        cmd = self._command("run", "--rm", "-T", *extra, name, *args)
        if env:
            cmd = cmd.with_env(**env)
        proc = cmd.popen(stdin=subprocess.DEVNULL, stdout=None, stderr=None)
        return proc.wait()

    def start_one_off(self, service: str, name: str, *, stdout: int | IO[bytes] | None = None,
                      stderr: int | IO[bytes] | None = None, args: Sequence[str] = ()) -> subprocess.Popen:
        """`run --rm --name NAME -T SERVICE` in its own session (Ctrl-C reaches only us): the caller
        waits, and on timeout or interrupt calls remove_container(NAME), because stopping the
        compose CLI alone leaves the container running."""
        cmd = self._command("run", "--rm", "--name", name, "-T", service, *args)  # args: replace its command
        return cmd.popen(stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, start_new_session=True)

    def remove_container(self, name: str, timeout: float = 60) -> bool:
        """`docker rm -f NAME` (kills it first); True when it existed."""
        code, out, err = _docker()["rm", "-f", name].run(retcode=None, timeout=timeout)
        if code == 0:
            return True
        if "No such container" in err:
            return False
        if "already in progress" in err:  # `run --rm` is removing it right now
            return True
        raise explain_docker_failure(err, f"docker rm -f {name}")

    def running_one_offs(self, service: str) -> list[str]:
        """Names of running one-off (`compose run`) containers of `service` in this project."""
        project = self.project_name or self.config().get("name", "")
        filters = [f"label=com.docker.compose.project={project}", f"label=com.docker.compose.service={service}",
                   "label=com.docker.compose.oneoff=True"]
        args = ["ps", "--format", "{{.Names}}"]
        for f in filters:
            args += ["--filter", f]
        code, out, err = _docker()[tuple(args)].run(retcode=None, timeout=60)
        if code != 0:
            raise explain_docker_failure(err, "docker ps")
        return out.split()

    def container_exists(self, name: str) -> bool:
        """Whether a container of exactly this name exists (running or not)."""
        code, out, err = _docker()["ps", "-a", "-q", "--filter", f"name=^/?{name}$"].run(retcode=None, timeout=60)
        if code != 0:
            raise explain_docker_failure(err, "docker ps")
        return bool(out.strip())

    def stop(self, services: Sequence[str], timeout: int = 30) -> None:
        if services:
            self._capture("stop", "-t", str(timeout), *services, what="docker compose stop", timeout=timeout + 60)

    def start(self, services: Sequence[str], wait: bool = True) -> None:
        if not services:
            return
        args = ["up", "-d", "--no-deps"]
        if wait:
            args.append("--wait")
        self._capture(*args, *services, what="docker compose up", timeout=300)
