"""HTTP traffic against the app under rehearsal: a scenario of requests at a steady rate.

A scenario is a list of requests from config (`rehearse.requests`):
    - {method: GET, path: /users, expect: 200}
    - {method: POST, path: /users, body: {email: "r{{n}}@example.com", name: "R {{n}}"}, expect: 201}
    - {method: GET, path: "/users/{{id}}", expect: 200}
`{{n}}` is a number unique to the request; `{{id}}` an id the app returned earlier (from any JSON
object or list of objects with an "id"), so reads and updates hit rows that exist.

`Traffic` runs the requests round-robin at `rate` per second from a background thread with its own
event loop (httpx, at most `concurrency` in flight), tagging each result with the current phase,
until stopped. Bounded in count and time: it only ever talks to the loopback address it was given.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from migtool.rehearse.scenario import Request, fill, needs_id

MAX_REQUESTS = 200_000  # a hard bound whatever the duration and rate

@dataclass(frozen=True)
class Result:
    started: float  # time.time()
    phase: str
    name: str
    status: int | None  # None: no response (connection refused, timeout)
    ok: bool
    seconds: float
    error: str | None = None


@dataclass
class Traffic:
    base_url: str
    scenario: tuple[Request, ...]
    rate: float
    concurrency: int = 32
    timeout: float = 10.0
    phase: str = "warmup"
    results: list[Result] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _ids: list[Any] = field(default_factory=list)
    _counter: itertools.count = field(default_factory=lambda: itertools.count(int(time.time() * 1000) % 10**9))

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="rehearse-traffic",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 5)

    def in_phase(self, *phases: str) -> list[Result]:
        return [r for r in self.results if r.phase in phases]

    async def _main(self) -> None:
        import httpx

        interval = 1.0 / max(self.rate, 0.1)
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        gate = asyncio.Semaphore(self.concurrency)
        tasks: set[asyncio.Task] = set()
        async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout, limits=limits) as client:
            next_at = time.monotonic()
            for sent, request in enumerate(itertools.cycle(self.scenario)):
                if self._stop.is_set() or sent >= MAX_REQUESTS:
                    break
                await gate.acquire()
                task = asyncio.create_task(self._one(client, request, gate))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            if tasks:
                await asyncio.wait(tasks, timeout=self.timeout + 1)

    async def _one(self, client, request: Request, gate: asyncio.Semaphore) -> None:
        phase = self.phase
        started_wall, started = time.time(), time.monotonic()
        try:
            known = random.choice(self._ids) if self._ids else None
            if known is None and needs_id(request):
                return  # nothing to read yet: not a request, not a failure
            n = next(self._counter)
            kwargs = {"json": fill(request.body, n, known)} if request.body is not None else {}
            try:
                response = await client.request(request.method, fill(request.path, n, known), **kwargs)
            except Exception as exc:  # httpx's transport errors: the app did not answer
                self.results.append(Result(started_wall, phase, request.name, None, False,
                                           time.monotonic() - started, f"{type(exc).__name__}: {exc}"))
                return
            ok = response.status_code in request.expect
            error = None if ok else _error_text(response)
            self.results.append(Result(started_wall, phase, request.name, response.status_code, ok,
                                       time.monotonic() - started, error))
            if ok:
                self._remember_ids(response)
        finally:
            gate.release()

    def _remember_ids(self, response) -> None:
        try:
            data = response.json()
        except ValueError:
            return
        items = data if isinstance(data, list) else [data]
        ids = [i["id"] for i in items[:50] if isinstance(i, dict) and "id" in i]
        if ids:
            self._ids.extend(ids)
            del self._ids[:-500]


def _error_text(response) -> str:
    text = response.text.strip().replace("\n", " ")
    return f"HTTP {response.status_code}: {text[:200]}"


def summarize(results: list[Result]) -> dict[str, Any]:
    """Counts, failures by request and error, and latency percentiles in milliseconds."""
    lat = sorted(r.seconds * 1000 for r in results)
    failures: dict[str, dict[str, int]] = {}
    for r in results:
        if not r.ok:
            by = failures.setdefault(r.name, {})
            key = (r.error or "failed")[:160]
            by[key] = by.get(key, 0) + 1
    return {
        "requests": len(results),
        "failed": sum(1 for r in results if not r.ok),
        "failures": failures,
        "p50_ms": _pct(lat, 50),
        "p99_ms": _pct(lat, 99),
        "max_ms": round(lat[-1], 1) if lat else None,
    }


def _pct(sorted_values: list[float], p: float) -> float | None:
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return round(sorted_values[k], 1)
