"""Which files of a case folder are evidence: the names never listed (temporary, hidden, the
manifest itself), the walk over a folder, and hashing a file."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .entry import CHUNK, LIVE_RECORDING_SUFFIX, MANIFEST_NAME, TEMP_SUFFIXES


def is_ignored(relative: str) -> bool:
    """Whether an *unlisted* file in a case folder is not (yet) evidence, so its presence is
    no "added" problem: hidden names (the media code's ``.<name>.part`` temporary files),
    temporary suffixes, the live recording ``<call_id>.live.mkv`` still being written, and the
    manifest itself. A listed file is verified whatever its name."""
    parts = relative.split("/")
    name = parts[-1]
    return (
        any(p.startswith(".") for p in parts)
        or relative == MANIFEST_NAME
        or name.endswith(TEMP_SUFFIXES)
        or name.endswith(LIVE_RECORDING_SUFFIX)
    )


def not_listable(relative: str) -> bool:
    """Names that must never be listed: they are renamed or are the manifest."""
    parts = relative.split("/")
    return (
        any(p.startswith(".") for p in parts)
        or relative == MANIFEST_NAME
        or parts[-1].endswith(TEMP_SUFFIXES)
    )


def hash_file(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and size of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def scan_folder(case_dir: Path) -> list[str]:
    """Every non-directory under ``case_dir`` (relative POSIX paths), hidden folders skipped."""
    found: list[str] = []
    for root, dirnames, filenames in os.walk(case_dir, followlinks=False):
        rel_root = Path(root).relative_to(case_dir)
        keep = []
        for d in dirnames:
            if d.startswith("."):
                continue
            if os.path.islink(os.path.join(root, d)):
                # A linked folder is not walked, and is nothing the server writes.
                found.append((rel_root / d).as_posix())
            else:
                keep.append(d)
        dirnames[:] = keep
        found.extend((rel_root / f).as_posix() for f in filenames)
    return found
