"""Progress for long byte streams (dump, verify, upload, download) on stderr.

On a terminal: a rich progress bar (bytes, rate, elapsed). Otherwise (CI, cron, a log file): a
plain line every few seconds, so logs stay readable and still show that work goes on.
"""

from __future__ import annotations

import sys
import threading
import time

from migtool import output

LINE_EVERY = 5.0


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


class ByteProgress:
    def __init__(self, description: str, total: int | None = None, enabled: bool = True):
        self.description = description
        self.total = total
        self.enabled = enabled
        self.completed = 0
        self.extra = ""
        self._t0 = time.monotonic()
        self._last_line = self._t0
        self._lock = threading.Lock()  # boto3 reports from its worker threads
        self._rich = None
        self._task = None

    def __enter__(self) -> ByteProgress:
        if self.enabled and sys.stderr.isatty():
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
                TransferSpeedColumn,
            )

            self._rich = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                  DownloadColumn(binary_units=True), TransferSpeedColumn(), TimeElapsedColumn(),
                                  console=output.err(), transient=True)
            self._rich.start()
            self._task = self._rich.add_task(self.description, total=self.total)
        return self

    def update(self, completed: int, extra: str = "") -> None:
        with self._lock:
            self.completed = completed
            self.extra = extra
            self._show()

    def advance(self, n: int) -> None:
        with self._lock:
            self.completed += n
            self._show()

    def _show(self) -> None:
        if not self.enabled:
            return
        if self._rich is not None:
            desc = f"{self.description} {self.extra}".strip()
            self._rich.update(self._task, completed=self.completed, description=desc)
            return
        now = time.monotonic()
        if now - self._last_line >= LINE_EVERY:
            self._last_line = now
            output.info(self.line())

    def line(self) -> str:
        elapsed = max(time.monotonic() - self._t0, 1e-6)
        done = human_bytes(self.completed)
        of = f" of {human_bytes(self.total)}" if self.total else ""
        extra = f", {self.extra}" if self.extra else ""
        return (f"{self.description}: {done}{of}{extra}, {human_bytes(self.completed / elapsed)}/s, "
                f"{elapsed:.0f} s")

    def __exit__(self, *exc) -> None:
        if self._rich is not None:
            self._rich.stop()
