"""The first account of a fresh install: one supervisor, so the console works at once."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from .model import Role
from .service import Accounts

logger = logging.getLogger(__name__)


async def ensure_first_account(accounts: Accounts, data_dir: Path) -> None:
    """A fresh install (no account yet) gets a supervisor ``admin``. The password is random
    and written only to a file only the owner can read; the log names the file, never the
    password."""
    if await accounts.list_officers():
        return
    password = secrets.token_urlsafe(12)
    await accounts.add_officer("admin", password, "管理员", role=Role.SUPERVISOR)
    path = data_dir / "initial-admin-password.txt"
    # Created 0600 (not chmod-ed after writing): the password is never readable by others.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f"username: admin\npassword: {password}\n")
    path.chmod(0o600)
    logger.warning(
        "created the first account: username admin, its password is in %s (readable by the "
        "owner only); add officers with: python server.py officer add NAME",
        path,
    )
