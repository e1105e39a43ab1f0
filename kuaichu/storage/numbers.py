"""A whole number a client sends that is looked up or stored in the database: SQLite's
INTEGER and PostgreSQL's BIGINT hold 64 signed bits, and a larger one raised OverflowError
deep in the driver (a 500; found by tests/fuzz/test_json_bodies.py)."""

from __future__ import annotations

from typing import Final

from ..errors import InvalidMessage

MAX_BIGINT: Final = 2**63 - 1


def stored_int(value: object, field: str, message: str, *, least: int = 0) -> int:
    """``value`` if it is an int (not a bool) from ``least`` to :data:`MAX_BIGINT`; else
    InvalidMessage(``message``) naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= MAX_BIGINT:
        raise InvalidMessage(message, field=field)
    return value
