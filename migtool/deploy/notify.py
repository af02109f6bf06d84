"""Tell a webhook how a run ended: a JSON POST, a short timeout, a few retries, and never a changed
exit code. The payload is built from the run record by allow-list, so nothing secret (the
database URL, the compose environment) can reach it; URLs with passwords in error text are masked.
The webhook URL itself may carry a token, so it is never printed either (only its host).
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from migtool import __version__
from migtool.config import NotifyConfig

ATTEMPTS = 3
BACKOFF_SECONDS = (0.5, 1.5)
PAYLOAD_KEYS = ("run_id", "operation", "result", "exit_code", "error", "state", "user", "host", "database",
                "target", "started_at", "ended_at", "seconds", "pending", "applied", "findings", "backup")
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@", re.IGNORECASE)


def should_notify(notify: NotifyConfig | None, exit_code: int) -> bool:
    return notify is not None and notify.webhook_url is not None and (exit_code != 0 or notify.on == "always")


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _URL_PASSWORD.sub(r"\1***@", value)
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    return value


def build_payload(record: dict[str, Any]) -> dict[str, Any]:
    """What the webhook receives: an allow-listed copy of the run record."""
    payload = {k: _scrub(record.get(k)) for k in PAYLOAD_KEYS if k in record}
    payload["steps"] = [{"name": s.get("name"), "status": s.get("status"), "seconds": s.get("seconds")}
                        for s in record.get("steps") or []]
    ok = record.get("exit_code") == 0
    payload["event"] = f"{record.get('operation', 'run')}.{'succeeded' if ok else 'failed'}"
    payload["text"] = _summary_text(record)
    payload["migtool_version"] = __version__
    return payload


def _summary_text(record: dict[str, Any]) -> str:
    """One line for chat webhooks (Slack and Mattermost show `text`)."""
    op, host = record.get("operation", "run"), record.get("host", "?")
    db = record.get("database") or "the database"
    if record.get("exit_code") == 0:
        return f"{op} on {db} from {host}: {record.get('result')}"
    return f"{op} on {db} from {host} FAILED (exit {record.get('exit_code')}): {_scrub(record.get('error') or '')}"


def send(notify: NotifyConfig, payload: dict[str, Any], *, attempts: int = ATTEMPTS,
         sleep: Callable[[float], None] = time.sleep) -> tuple[bool, str]:
    """POST the payload; (delivered, what happened). Never raises."""
    if notify.webhook_url is None:
        return False, "no notify.webhook_url configured"
    url = notify.webhook_url.reveal()
    host = urlsplit(url).hostname or "?"
    body = json.dumps(payload, default=str).encode()
    last = ""
    for attempt in range(attempts):
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"content-type": "application/json",
                                                  "user-agent": f"migtool/{__version__}"})
        try:
            with urllib.request.urlopen(request, timeout=notify.timeout_seconds) as response:
                response.read(1024)
                return True, f"notified {host} (HTTP {response.status})"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
            if 400 <= exc.code < 500 and exc.code not in (408, 429):
                break  # the hook rejects this payload: retrying will not help
        except Exception as exc:  # timeouts, refused connections, DNS: all just "not delivered"
            reason = getattr(exc, "reason", exc)
            last = str(reason) or type(exc).__name__
        if attempt + 1 < attempts:
            sleep(BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)])
    return False, f"could not notify {host}: {last}"


def notify_run(notify: NotifyConfig | None, record: dict[str, Any], warn: Callable[[str], None] | None = None,
               info: Callable[[str], None] | None = None) -> bool | None:
    """Send the run's notification when configured for its outcome. None: not configured/wanted."""
    if not should_notify(notify, int(record.get("exit_code") or 0)):
        return None
    assert notify is not None
    delivered, message = send(notify, build_payload(record))
    sink = info if delivered else warn
    if sink is not None:
        sink(message)
    return delivered
