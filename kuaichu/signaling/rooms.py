"""The socket.io namespaces, one per role, and the room that reaches every tab of an officer."""

from __future__ import annotations

from typing import Final

DRIVER_NS: Final = "/driver"
OFFICER_NS: Final = "/officer"
SUPERVISOR_NS: Final = "/supervisor"


def officer_room(officer_id: int) -> str:
    """The room an officer's console tabs join: an event sent there reaches all of them."""
    return f"officer:{officer_id}"
