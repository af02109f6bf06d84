"""Signals around work that leaves something behind when cut short (a partial dump, a scratch database).

Ctrl-C, SIGTERM from a CI runner and SIGHUP from a closed terminal all take the KeyboardInterrupt
path, so one `except`/`finally` cleans up after each; the cleanup itself can shield itself from a
second signal. Python installs handlers only in the main thread: elsewhere these change nothing.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

ALL = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A SIGTERM or SIGHUP (or a held-back signal) raised as if it were Ctrl-C."""


@contextlib.contextmanager
def _handling(signals: tuple[int, ...], handler: Callable[[int, Any], Any] | int) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _raise_interrupted(signum, frame):
    raise Interrupted()


def signals_raise_interrupt() -> contextlib.AbstractContextManager[None]:
    """SIGTERM and SIGHUP behave like Ctrl-C inside the block, so the cleanup always happens."""
    return _handling((signal.SIGTERM, signal.SIGHUP), _raise_interrupted)


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold signals back for a few instructions that must not be split; deliver them afterwards."""
    pending: list[int] = []
    with _handling(ALL, lambda signum, frame: pending.append(signum)):
        yield
    if pending:
        raise Interrupted()


def ignoring_interrupts(*signals: int) -> contextlib.AbstractContextManager[None]:
    """Let a cleanup finish even when another signal arrives (all of ALL unless signals are named)."""
    return _handling(signals or ALL, signal.SIG_IGN)
