"""Progress on stderr: a rich bar with rows/s and ETA on a terminal, a plain line every few
seconds otherwise (CI logs, `| tee`); with --json only retries and pauses are said."""

from __future__ import annotations

import sys
import time

from migtool import output
from migtool.backfill.plan import eta_seconds
from migtool.backfill.runner import BatchEvent


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"


class BackfillDisplay:
    def __init__(self, table: str, total: int | None, quiet: bool = False, every: float = 5.0):
        self.table = table
        self.total = total if total and total > 0 else None
        self.quiet = quiet
        self.every = every
        self._last_line = 0.0
        self._bar = None
        self._task = None

    def __enter__(self) -> BackfillDisplay:
        if not self.quiet and sys.stderr.isatty():
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(TextColumn("backfill {task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[rate]} rows/s"), TimeElapsedColumn(),
                                 TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[note]}"),
                                 console=output.err(), transient=False)
            self._bar.start()
            self._task = self._bar.add_task(self.table, total=self.total, rate="0", note="")
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()

    def update(self, event: BatchEvent) -> None:
        if self.quiet:  # --json: no bar or periodic lines, but retries and pauses are still said
            if event.note:
                output.info(f"backfill {self.table}: {event.note}")
            return
        if self._bar is not None:
            self._bar.update(self._task, completed=event.updated_total, rate=f"{event.rate:,.0f}",
                             note=event.note or "")
            return
        now = time.monotonic()
        if event.note or now - self._last_line >= self.every:
            self._last_line = now
            of = f"/{self.total:,}" if self.total else ""
            eta = eta_seconds(event.updated_total, self.total, event.rate)
            line = (f"backfill {self.table}: {event.updated_total:,}{of} rows, {event.batches} batches "
                    f"(size {event.batch_size}), {event.rate:,.0f} rows/s, ETA {_duration(eta)}")
            if event.note:
                line += f" - {event.note}"
            output.info(line)
