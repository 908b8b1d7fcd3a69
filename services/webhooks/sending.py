"""One POST of a delivery to its endpoint, as the Standard Webhooks
specification has it: the body `{"type", "timestamp", "data"}`, signed
(`webhook-id`, `webhook-timestamp`, `webhook-signature`) with the
endpoint's `whsec_` secret by the `standardwebhooks` library.

Safe by design (`addresses`): the host is resolved and checked now, and
the connection made to the address checked (TLS still verifies the host's
certificate by its name); no redirect is followed (a 3xx is a failure);
the whole exchange has `WEBHOOK_TIMEOUT` seconds; at most
`WEBHOOK_MAX_ANSWER_BYTES` of the answer are read. Only a 2xx succeeds."""
import http.client
import json
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import eventlet
from standardwebhooks import Webhook

from contracts.webhooks.errors import UnsafeUrl
from services.webhooks.addresses import checked_url, safe_address

USER_AGENT = "open-event-webhooks/1"
KEPT_ANSWER = 500  # characters of a failed answer kept in the log
TLS = ssl.create_default_context()


@dataclass(frozen=True)
class Outcome:
    started_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None

    @property
    def succeeded(self):
        return self.status_code is not None and 200 <= self.status_code < 300


def body(message_type, occurred_at, data):
    return json.dumps({"type": message_type, "timestamp": occurred_at.isoformat(),
                       "data": data}, separators=(",", ":"))


def signed_headers(secret, message_id, sent_at, payload):
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, sent_at, payload),
    }


def post(url, secret, message_id, payload, settings, resolve=None):
    """POST `payload` (the body, a str) to `url` signed with `secret`; the `Outcome`."""
    started_at, start = datetime.now(UTC), time.monotonic()
    try:
        with eventlet.Timeout(settings.WEBHOOK_TIMEOUT,
                              TimeoutError(f"no answer within {settings.WEBHOOK_TIMEOUT:g} s")):
            status, error = _exchange(url, secret, message_id, payload, started_at, settings,
                                      resolve)
    except UnsafeUrl as exc:
        status, error = None, f"refused: {exc.detail}"
    except (OSError, http.client.HTTPException) as exc:
        status, error = None, f"{type(exc).__name__}: {exc}"[:KEPT_ANSWER]
    return Outcome(started_at, round((time.monotonic() - start) * 1000), status, error)


def _exchange(url, secret, message_id, payload, sent_at, settings, resolve):
    scheme, host, port = checked_url(url, settings)
    address = safe_address(host, port, settings, resolve)
    connection = (_PinnedHttps if scheme == "https" else _PinnedHttp)(
        host, port, address, settings.WEBHOOK_TIMEOUT)
    try:
        connection.request("POST", _target(url), body=payload.encode(),
                           headers=signed_headers(secret, message_id, sent_at, payload))
        answer = connection.getresponse()
        text = answer.read(settings.WEBHOOK_MAX_ANSWER_BYTES).decode(errors="replace")
    finally:
        connection.close()
    if 200 <= answer.status < 300:
        return answer.status, None
    return answer.status, text[:KEPT_ANSWER] or answer.reason


def _target(url):
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class _PinnedHttp(http.client.HTTPConnection):
    """Connects to `address`, the one checked, while `Host` names the host."""

    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHttps(http.client.HTTPSConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=TLS)
        self.address = address

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
