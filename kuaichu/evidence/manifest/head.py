"""The manifest's head kept beside it: the seq and hash of the last entry appended.

Cutting lines off the end of a manifest leaves a valid chain, and a failed append on a full
disk can leave an empty file; neither shows in the chain itself. The head, replaced
atomically after every append, remembers how far the manifest went, so ``evidence verify``
reports a manifest that lost entries. Hidden (``.manifest.head``), so it is never evidence.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from .entry import SHA256_RE, Malformed

HEAD_NAME = ".manifest.head"


def write_head(case_dir: Path, seq: int, entry_hash: str) -> None:
    """Replace the head with (seq, entry hash): temporary file, fsync, rename. Raises
    OSError (a full disk): the caller decides whether that matters."""
    path = case_dir / HEAD_NAME
    tmp = case_dir / f"{HEAD_NAME}.tmp"
    data = json.dumps({"seq": seq, "entry_hash": entry_hash}).encode() + b"\n"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def read_head(case_dir: Path) -> tuple[int, str] | None:
    """(seq, entry hash) of the last append, None when no head was kept. Raises Malformed
    when the file cannot be read as a head."""
    try:
        raw = (case_dir / HEAD_NAME).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise Malformed(f"cannot be read: {exc.strerror}") from None
    try:
        data = json.loads(raw)
        seq, entry_hash = data["seq"], data["entry_hash"]
    except (ValueError, TypeError, KeyError):
        raise Malformed("not a manifest head") from None
    if not isinstance(seq, int) or seq < 1 or not isinstance(entry_hash, str):
        raise Malformed("not a manifest head")
    if not SHA256_RE.fullmatch(entry_hash):
        raise Malformed("not a manifest head")
    return seq, entry_hash
