"""Case ids and verification codes: short, readable over the phone, without look-alikes."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Final

# No 0/O, 1/I: the id and the code are read out and typed by hand.
_ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

# The shape alone, for pages (a JavaScript RegExp has no \A or \Z; its $ ends the input).
CASE_ID_PATTERN: Final = "KC[0-9]{8}[A-Z2-9]{6}"
# \A...\Z, not ^...$: Python's $ also matches before a trailing newline.
CASE_ID_RE: Final = re.compile(rf"\A{CASE_ID_PATTERN}\Z")


def new_case_id(now: float) -> str:
    """``KC`` + the local date + six characters: readable over the phone."""
    return (
        "KC"
        + datetime.fromtimestamp(now).strftime("%Y%m%d")
        + "".join(secrets.choice(_ALPHABET) for _ in range(6))
    )


def new_code() -> str:
    """A determination's verification code (printed next to its number)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(8))
