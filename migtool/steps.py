"""The step runner: operations (deploy-migrate, rollback, rehearse) are runbooks of named steps.

    with StepRunner("deploy-migrate", backup_dir=config.backup_dir) as run:
        run.set("pending", names)
        report = run.step("status", read_status)
        lock = run.step("lock", take_lock)
        run.on_cleanup("release the lock", lock.release)
        run.state = "database unchanged"
        ...
        run.finish("applied")

The runner times and shows each step (colour on a TTY, plain lines otherwise, always on stderr so
stdout stays for data and --json), runs every registered cleanup whatever the outcome (last
registered first), and appends one run record to <backup_dir>/history.jsonl. A MigtoolError raised
by a step comes out as "step X failed: why (state: ...)" with the step's hint, so the CLI prints one
red line an operator can act on; SIGTERM is turned into the same path as Ctrl-C so cleanups run.
"""

from __future__ import annotations

import getpass
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from migtool.errors import ExitCode, MigtoolError
from migtool.runs import append_run

T = TypeVar("T")


def utc_iso(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_run_id(operation: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{operation}-{stamp}-{secrets.token_hex(3)}"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be so that the same cleanups run."""


@dataclass
class StepRecord:
    name: str
    status: str  # ok, failed, skipped, interrupted
    seconds: float
    detail: str | None = None


@dataclass
class _Cleanup:
    label: str
    fn: Callable[[], Any]


class StepFailed(MigtoolError):
    """A step's MigtoolError with the step's name and the state it left, exit code kept."""

    def __init__(self, step: str, cause: MigtoolError, state: str | None):
        where = f" (state: {state})" if state else ""
        super().__init__(f"step {step} failed: {cause.message}{where}", hint=cause.hint,
                         exit_code=cause.exit_code)
        self.step = step
        self.cause = cause


@dataclass
class StepRunner:
    operation: str
    backup_dir: Path | None = None  # where history.jsonl goes; None records nothing (dry runs)
    quiet: bool = False
    stream: Any = None  # text stream for step lines; default sys.stderr at use
    run_id: str = ""
    state: str | None = None  # what the database/app state is now, for failure messages
    record: dict[str, Any] = field(default_factory=dict)
    steps: list[StepRecord] = field(default_factory=list)
    result: str | None = None
    exit_code: int = 0
    _cleanups: list[_Cleanup] = field(default_factory=list)
    _started: float = 0.0
    _previous_sigterm: Any = None
    _detail: str | None = None

    def __post_init__(self) -> None:
        self.run_id = self.run_id or new_run_id(self.operation)
        self.record.update({
            "run_id": self.run_id,
            "operation": self.operation,
            "user": _user(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
        })

    # ------------------------------------------------------------------ context
    def __enter__(self) -> StepRunner:
        self._started = time.monotonic()
        self.record["started_at"] = utc_iso()
        try:
            self._previous_sigterm = signal.signal(signal.SIGTERM, _raise_terminated)
        except ValueError:  # not the main thread: leave signals alone
            self._previous_sigterm = None
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self._previous_sigterm)
        self._run_cleanups()
        if exc is None:
            code, result, error = self.exit_code, self.result or "ok", None
        elif isinstance(exc, KeyboardInterrupt):
            code, result, error = ExitCode.INTERRUPTED, "interrupted", "interrupted"
        elif isinstance(exc, MigtoolError):
            code, result, error = exc.exit_code, self.result or "failed", exc.message
        else:
            code, result, error = ExitCode.INTERNAL, "internal-error", f"{type(exc).__name__}: {exc}"
        self.exit_code = int(code)
        self.result = result
        self.record.update({
            "ended_at": utc_iso(),
            "seconds": round(time.monotonic() - self._started, 3),
            "steps": [asdict(s) for s in self.steps],
            "result": result,
            "exit_code": int(code),
            "error": error,
            "state": self.state,
        })
        self._write_record()
        return False

    # ------------------------------------------------------------------ steps
    def step(self, name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one named step; its MigtoolError becomes StepFailed (same exit code)."""
        self._line("start", name)
        self._detail = None
        started = time.monotonic()
        try:
            value = fn(*args, **kwargs)
        except KeyboardInterrupt:
            self._finish_step(name, "interrupted", started, "interrupted")
            raise
        except StepFailed:
            raise
        except MigtoolError as exc:
            self._finish_step(name, "failed", started, exc.message)
            raise StepFailed(name, exc, self.state) from exc
        except BaseException as exc:
            self._finish_step(name, "failed", started, f"{type(exc).__name__}: {exc}")
            raise
        self._finish_step(name, "ok", started, self._detail)
        return value

    def detail(self, text: str) -> None:
        """A short result line for the running step (shown after its name and duration)."""
        self._detail = text

    def skip(self, name: str, why: str) -> None:
        self.steps.append(StepRecord(name, "skipped", 0.0, why))
        self._line("skip", name, why)

    def on_cleanup(self, label: str, fn: Callable[[], Any]) -> Callable[[], None]:
        """Register cleanup that runs at the end whatever happens; returns a function that runs it now
        (once) and unregisters it, for cleanups that should happen as soon as a step is done."""
        entry = _Cleanup(label, fn)
        self._cleanups.append(entry)

        def now() -> None:
            if entry in self._cleanups:
                self._cleanups.remove(entry)
                entry.fn()

        return now

    def set(self, key: str, value: Any) -> None:
        self.record[key] = value

    def finish(self, result: str, exit_code: int = 0) -> None:
        self.result = result
        self.exit_code = exit_code

    def report(self) -> dict[str, Any]:
        """The run record as written (complete after the with-block)."""
        return dict(self.record)

    # ------------------------------------------------------------------ internals
    def _finish_step(self, name: str, status: str, started: float, detail: str | None) -> None:
        seconds = round(time.monotonic() - started, 3)
        self.steps.append(StepRecord(name, status, seconds, detail))
        self._line(status, name, detail, seconds)

    def _run_cleanups(self) -> None:
        # Signals during cleanup would abandon the rest (a container left running, a lock held).
        old_int = _ignore(signal.SIGINT)
        old_term = _ignore(signal.SIGTERM)
        try:
            while self._cleanups:
                entry = self._cleanups.pop()
                try:
                    entry.fn()
                except Exception as exc:  # one cleanup failing must not skip the others
                    message = exc.message if isinstance(exc, MigtoolError) else f"{type(exc).__name__}: {exc}"
                    self.record.setdefault("cleanup_errors", []).append(f"{entry.label}: {message}")
                    self._line("warn", entry.label, f"cleanup failed: {message}")
        finally:
            _restore(signal.SIGINT, old_int)
            _restore(signal.SIGTERM, old_term)

    def _write_record(self) -> None:
        if self.backup_dir is None:
            return
        try:
            append_run(self.backup_dir, self.record)
        except OSError as exc:
            self._line("warn", "record", f"could not append the run record to {self.backup_dir}: {exc.strerror}")

    def _line(self, kind: str, name: str, detail: str | None = None, seconds: float | None = None) -> None:
        if self.quiet and kind not in ("failed", "warn", "interrupted"):
            return
        stream = self.stream or sys.stderr
        tty = getattr(stream, "isatty", lambda: False)()
        symbols = {"start": ("▶", "bold"), "ok": ("✔", "green"), "failed": ("✘", "bold red"),
                   "skip": ("–", "dim"), "interrupted": ("✘", "bold red"), "warn": ("!", "yellow")}
        symbol, style = symbols[kind]
        timing = f" ({seconds:.1f} s)" if seconds is not None else ""
        tail = f": {detail}" if detail else ""
        if kind == "start":
            text = f"{symbol} {name} ..."
        elif kind == "skip":
            text = f"{symbol} {name} skipped{tail}"
        else:
            text = f"{symbol} {name}{timing}{tail}"
        if tty:
            from rich.console import Console
            from rich.markup import escape

            Console(file=stream, highlight=False, soft_wrap=True).print(f"[{style}]{escape(text)}[/{style}]")
        else:
            stream.write(f"[{self.operation}] {text}\n")
            stream.flush()


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return str(os.getuid())


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def _ignore(signum: int) -> Any:
    try:
        return signal.signal(signum, signal.SIG_IGN)
    except ValueError:
        return None


def _restore(signum: int, handler: Any) -> None:
    if handler is not None:
        try:
            signal.signal(signum, handler)
        except ValueError:
            pass
