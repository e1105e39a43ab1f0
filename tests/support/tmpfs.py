"""A small tmpfs to fill: a real full disk for the ENOSPC tests. They need to mount one (root,
as CI runs, or password-less sudo); where that is not allowed they fail saying so — the suite
never skips."""

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
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    done = subprocess.run(
        [*sudo, "mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            "the full-disk tests mount a small tmpfs: run the suite as root or with "
            f"password-less sudo (mount said: {done.stderr.strip()})",
            pytrace=False,
        )
    try:
        yield where
    finally:
        subprocess.run([*sudo, "umount", "-l", str(where)], check=False)


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
