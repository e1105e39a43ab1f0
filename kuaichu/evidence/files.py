"""Writing evidence and documents: a new file appears whole under its name or not at all,
and never replaces one that exists."""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path


def write_new(path: Path, data: bytes) -> str:
    """Write ``data`` under a hidden temporary name (``.name.xxxx.part``, which the evidence
    manifest ignores), fsync, and hard-link it to ``path``: ``FileExistsError`` if ``path``
    exists. Returns the SHA-256. Blocking: call it in a thread."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)
    finally:
        tmp.unlink()
    return hashlib.sha256(data).hexdigest()
