"""The one exception tree.

Every error the product raises on purpose derives from :class:`KuaichuError` and carries a
machine-readable ``code``. The edges (HTTP handlers, socket.io handlers) translate them to
responses; nothing in between formats errors for a wire.
"""

from __future__ import annotations

from typing import Any


class KuaichuError(Exception):
    """Root of every deliberate error. ``code`` is stable and machine-readable."""

    code = "internal"
    http_status = 500

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail:
            out["detail"] = self.detail
        return out


class InvalidMessage(KuaichuError):
    """A message from a client failed validation (shape, type, size)."""

    code = "invalid_message"
    http_status = 400


class UnknownEvent(KuaichuError):
    code = "unknown_event"
    http_status = 400


class MessageTooLarge(InvalidMessage):
    code = "message_too_large"
    http_status = 413


class NotAuthenticated(KuaichuError):
    code = "not_authenticated"
    http_status = 401


class Forbidden(KuaichuError):
    code = "forbidden"
    http_status = 403


class NotFound(KuaichuError):
    code = "not_found"
    http_status = 404


class Conflict(KuaichuError):
    """The request is valid but the current state does not allow it (e.g. accepting an
    offer that already expired)."""

    code = "conflict"
    http_status = 409


class DiskFull(KuaichuError):
    """The recordings disk is below its free-space threshold: no new call is taken."""

    code = "disk_full"
    http_status = 503


class MediaError(KuaichuError):
    """Negotiation or media failure on one call (bad SDP, no common codec)."""

    code = "media_error"
    http_status = 400


class NoCommonCodec(MediaError):
    code = "no_common_codec"


class ServerRestarting(KuaichuError):
    """The server is draining before it stops (SIGTERM): no new calls; try again shortly."""

    code = "server_restarting"
    http_status = 503


class CallInterrupted(KuaichuError):
    """The call was cut off by a server restart; its case lives on (``detail``: case_id,
    reason) and the driver may report again to rejoin it."""

    code = "call_interrupted"
    http_status = 410
