"""The change feed's cursor (wire format, pure): where a page of "cases changed since" ended.

The feed is ordered by (last change time, case id); the cursor carries the last case's pair.
It is opaque to clients (URL-safe base64 of a small JSON array) and checked strictly when it
comes back: anything that is not one of ours is a 400 ``invalid_cursor``, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Final

from ..cases.ids import CASE_ID_RE
from ..errors import InvalidMessage

MAX_CURSOR: Final = 200
_CURSOR: Final = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
_VERSION: Final = 1


class InvalidCursor(InvalidMessage):
    code = "invalid_cursor"


@dataclass(frozen=True, order=True)
class Cursor:
    """A position in the feed: after the case ``case_id`` changed at ``changed``."""

    changed: float
    case_id: str


def encode(cursor: Cursor) -> str:
    raw = json.dumps([_VERSION, cursor.changed, cursor.case_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(text: str) -> Cursor:
    """The cursor ``text`` stands for; InvalidCursor if it is not one this server made."""
    if not _CURSOR.match(text):
        raise InvalidCursor("the cursor is not one this server gave", field="cursor")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor("the cursor is not one this server gave", field="cursor") from None
    if (
        not isinstance(value, list)
        or len(value) != 3
        or value[0] != _VERSION
        or not isinstance(value[1], int | float)
        or isinstance(value[1], bool)
        or not 0 <= value[1] < 1e11
        or not isinstance(value[2], str)
        or not CASE_ID_RE.match(value[2])
    ):
        raise InvalidCursor("the cursor is not one this server gave", field="cursor")
    return Cursor(float(value[1]), value[2])
