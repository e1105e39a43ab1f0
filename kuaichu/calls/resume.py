"""Resume tokens that outlive the process: a driver page's hold on its call.

A token is an HMAC of the call id under a secret kept in the data folder, so a new process
(after a crash or a restart) recognises the tokens the old one handed out without storing
them: it can tell the page that its call was interrupted and let a report from that page
rejoin the case. Nothing about the token is in the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path
from typing import Final

logger = logging.getLogger(__name__)

SECRET_NAME: Final = "resume-secret.key"
_SECRET_BYTES: Final = 32


class ResumeTokens:
    """Mints and checks call resume tokens under one secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the resume secret is too short")
        self._secret = secret

    def __repr__(self) -> str:
        return "ResumeTokens(<secret>)"

    @classmethod
    def random(cls) -> ResumeTokens:
        """Tokens that only this process recognises (tests, tools)."""
        return cls(secrets.token_bytes(_SECRET_BYTES))

    @classmethod
    def load_or_create(cls, data_dir: Path) -> ResumeTokens:
        """The data folder's secret, made on first start (owner-only file)."""
        path = data_dir / SECRET_NAME
        try:
            return cls(path.read_bytes())
        except FileNotFoundError:
            pass
        secret = secrets.token_bytes(_SECRET_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return cls(path.read_bytes())
        with os.fdopen(fd, "wb") as fh:
            fh.write(secret)
        logger.info("created the resume-token secret %s", path)
        return cls(secret)

    def mint(self, call_id: str) -> str:
        """The call's token (32 URL-safe characters)."""
        mac = hmac.new(self._secret, b"kuaichu-resume:" + call_id.encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()[:24]).decode()

    def check(self, call_id: str, token: str) -> bool:
        """Whether ``token`` is this call's (constant time)."""
        return hmac.compare_digest(self.mint(call_id).encode(), token.encode())
