"""Owner-only data files: the database, evidence, recordings, the server key, the manifests.

The server runs with a process umask of 0o077 (set once by the command line's entry), so
everything it creates is 0600 (files) or 0700 (directories). What was created before that
umask (an older install, a database made by another tool, SQLite's journal files from a run
without it) is tightened at start-up by :func:`restrict_tree`.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Final

logger = logging.getLogger(__name__)

UMASK: Final = 0o077
FILE_MODE: Final = 0o600
DIR_MODE: Final = 0o700


def owner_only_umask() -> int:
    """Set the process umask so new files and directories are the owner's alone; returns the
    previous umask."""
    return os.umask(UMASK)


def restrict_tree(*roots: Path) -> int:
    """Make every file under ``roots`` 0600 and every directory 0700 (symbolic links are left
    alone; a root that does not exist yet is skipped). Returns how many modes changed."""
    changed = 0
    for root in roots:
        if not root.exists():
            continue
        for path in (root, *root.rglob("*")):
            try:
                st = path.lstat()
            except FileNotFoundError:
                continue  # removed while we walked (a temporary file renamed)
            if stat.S_ISLNK(st.st_mode):
                continue
            want = DIR_MODE if stat.S_ISDIR(st.st_mode) else FILE_MODE
            if stat.S_IMODE(st.st_mode) != want:
                path.chmod(want)
                changed += 1
    if changed:
        logger.info("made %d data file(s) and folder(s) readable by the owner only", changed)
    return changed
