"""Call ids: random, URL-safe, and the one pattern every edge checks them against."""

from __future__ import annotations

import re
import secrets
from typing import Final

# What token_urlsafe makes, with room for ids minted by older versions; anything else sent
# by a client is refused before it reaches a lookup. \A...\Z: Python's $ also matches before
# a trailing newline.
CALL_ID_RE: Final = re.compile(r"\A[A-Za-z0-9_-]{8,40}\Z")


def new_call_id() -> str:
    """A fresh call id (16 URL-safe characters, 96 random bits)."""
    return secrets.token_urlsafe(12)
