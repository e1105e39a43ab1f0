"""The webhooks' signature scheme (wire format, pure; README "Webhooks" shows a receiver).

Every delivery carries::

    Kuaichu-Event-Id: ev_...                      (the receiver's idempotency key)
    Kuaichu-Event-Type: case_ready | status_changed
    Kuaichu-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>

where the HMAC is keyed with the webhook's secret (UTF-8) over ``"<t>.<body>"``, the body
being the request's bytes exactly as sent. A retry or a replay is signed again with its own
``t``; its body and event id are the first try's. A receiver recomputes the HMAC, compares in
constant time, refuses a ``t`` older than its tolerance (a captured request replayed later),
and ignores an event id it has already processed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Final

SIGNATURE_HEADER: Final = "Kuaichu-Signature"
EVENT_ID_HEADER: Final = "Kuaichu-Event-Id"
EVENT_TYPE_HEADER: Final = "Kuaichu-Event-Type"
TOLERANCE: Final = 300  # seconds: what the README's receiver accepts
_HEADER: Final = re.compile(r"^t=(\d{1,12}),v1=([0-9a-f]{64})$")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"`` keyed with ``secret``."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Kuaichu-Signature`` value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(
    secret: str, header: str | None, body: bytes, now: float, tolerance: float = TOLERANCE
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` and is no older (or newer) than
    ``tolerance`` seconds at ``now``. What a receiver does (the README's snippet is this)."""
    match = _HEADER.match(header or "")
    if match is None:
        return False
    timestamp = int(match.group(1))
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), match.group(2))
