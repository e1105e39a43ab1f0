"""A small tmpfs to fill: a real full disk for the ENOSPC tests (skipped where mount is not
allowed, e.g. without root)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str = "8m") -> Iterator[Path]:
    """Mount a tmpfs of ``size`` on ``where`` (created) for the block; unmounted after."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"mount -t tmpfs is not allowed here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(directory: Path, leave: int = 0) -> Path:
    """Write one file until the file system under ``directory`` has ``leave`` bytes free
    (0: until ENOSPC). Returns the filler, which frees the space when removed."""
    filler = directory / "filler.bin"
    chunk = b"\0" * 65536
    with filler.open("wb") as fh:
        try:
            while True:
                st = os.statvfs(directory)
                free = st.f_bavail * st.f_frsize
                if free <= leave:
                    break
                fh.write(chunk[: max(1, min(len(chunk), free - leave))])
                fh.flush()
        except OSError:
            pass
    return filler
