"""The officer as the rest of the application sees them: identity, display name and role."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What an account may do. The values are the strings stored in ``officers.role``."""

    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    # An insurer's staff (issue 13): their own console only (kuaichu.insurers), never the
    # police pages, APIs or sockets.
    INSURER = "insurer"


@dataclass(frozen=True)
class Officer:
    """A logged-in (or listed) officer account; never carries the password hash."""

    id: int
    username: str
    display_name: str
    role: Role
    insurer: str | None = None  # the insurer's code (kuaichu.insurers), for Role.INSURER
    badge: str | None = None  # 警号, printed on documents (issue 12); None: not set

    @property
    def is_supervisor(self) -> bool:
        """Supervisors see every case, the wallboard and the review queue."""
        return self.role == Role.SUPERVISOR

    @property
    def is_insurer(self) -> bool:
        """An insurer's staff: their own console only."""
        return self.role == Role.INSURER
