"""The dead man's switch: an HTTP ping after every verified backup (healthchecks.io, Uptime Kuma,
Cronitor...). If the pings stop, the monitoring service raises the alarm, even when this machine
is gone. A ping failure is logged, never fatal: the backup itself is fine.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from migtool import __version__
from migtool.config import Secret


def ping(url: Secret, payload: dict[str, Any] | None = None, timeout: float = 10) -> tuple[bool, str]:
    """POST a small JSON body (healthchecks.io shows it in the event log); (delivered, what happened)."""
    text = url.reveal()
    host = urlsplit(text).hostname or "?"  # the URL's path is often the token: only the host is shown
    body = json.dumps(payload or {}, default=str).encode()
    request = urllib.request.Request(text, data=body, method="POST",
                                     headers={"content-type": "application/json",
                                              "user-agent": f"migtool/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(1024)
            return True, f"heartbeat sent to {host} (HTTP {response.status})"
    except Exception as exc:  # HTTP errors, timeouts, refused connections, DNS: all "not delivered"
        reason = getattr(exc, "code", None) or getattr(exc, "reason", None) or exc
        return False, f"heartbeat to {host} failed: {reason}"
