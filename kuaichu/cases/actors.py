"""Who an audit entry names (``AuditEntry.who``): the one source of these strings.

The trail stores actors as text, so the spelling is part of the stored data: an officer is
``officer:<account id>`` (the stable id, not the username, which may change), a party of the
case ``party:<key>``, an insurer's staff ``insurer:<insurer code>:<account id>``, the
reporting driver before anyone answered ``driver``, and the server
itself ``system``.
"""

from __future__ import annotations

from typing import Final

SYSTEM: Final = "system"
DRIVER: Final = "driver"


def officer_actor(officer_id: int) -> str:
    """The trail's actor for an officer: the stable account id."""
    return f"officer:{officer_id}"


def party_actor(key: str) -> str:
    """The trail's actor for a party acting from the progress page (A, B, ...)."""
    return f"party:{key}"


def insurer_actor(insurer: str, account_id: int) -> str:
    """The trail's actor for an insurer's staff member: the company and the account."""
    return f"insurer:{insurer}:{account_id}"
