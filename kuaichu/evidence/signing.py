"""The server's Ed25519 signing key: made once, kept in the data directory, published.

The key signs every entry of the evidence manifests (:mod:`kuaichu.evidence.manifest`). It is
generated on the first start and never replaced by the server: a new key would leave every
existing manifest signed by a key nobody can check any more. A damaged key file therefore
stops the server with :class:`ServerKeyError` instead of being regenerated.

The public key is what insurers, reviewers and courts get; ``key_id`` (the first 16 hex
digits of the SHA-256 of the raw 32-byte public key) names it in every manifest entry.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import logging
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from kuaichu.errors import InvalidMessage, KuaichuError

logger = logging.getLogger(__name__)

KEY_FILE_NAME = "server-ed25519.key"
ALGORITHM = "Ed25519"


class ServerKeyError(KuaichuError):
    """The server's key file exists but cannot be used (damaged, not Ed25519, unreadable).

    ``detail``: ``path`` and ``reason``. Not repaired automatically: replacing the key would
    orphan every signature made with it."""

    code = "server_key_invalid"
    http_status = 500


class ServerKeyMissing(ServerKeyError):
    """No key file in the data directory (only raised where creating one is not wanted,
    e.g. by the verify command)."""

    code = "server_key_missing"


class InvalidPublicKey(InvalidMessage):
    """A public key given by a user (PEM or base64 of the raw 32 bytes) is not an Ed25519 key."""

    code = "invalid_public_key"


def key_id_of(public_key: Ed25519PublicKey) -> str:
    return hashlib.sha256(_raw_public(public_key)).hexdigest()[:16]


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class ServerKey:
    """The private key with its public forms. Signing is thread-safe (no shared state)."""

    def __init__(self, private_key: Ed25519PrivateKey, path: Path | None = None) -> None:
        self._private = private_key
        self.path = path
        self.public_key: Ed25519PublicKey = private_key.public_key()
        self.key_id: str = key_id_of(self.public_key)
        self.public_key_pem: str = self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")
        self.public_key_raw_b64: str = base64.b64encode(_raw_public(self.public_key)).decode(
            "ascii"
        )

    def __repr__(self) -> str:
        return f"ServerKey(key_id={self.key_id!r}, path={self.path!r})"

    @classmethod
    def generate(cls) -> ServerKey:
        """A fresh key held in memory only (tests, tools)."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load(cls, data_dir: Path) -> ServerKey:
        """The existing key; ServerKeyMissing when there is none."""
        path = Path(data_dir) / KEY_FILE_NAME
        try:
            pem = path.read_bytes()
        except FileNotFoundError:
            raise ServerKeyMissing(
                f"no server key at {path}", path=str(path), reason="missing"
            ) from None
        except OSError as exc:
            raise ServerKeyError(
                f"cannot read the server key {path}: {exc.strerror}",
                path=str(path),
                reason="unreadable",
            ) from exc
        key = cls(_parse_private(pem, path), path)
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            logger.warning(
                "server key %s is readable by others (mode %o); chmod 600 it", path, mode
            )
        return key

    @classmethod
    def load_or_create(cls, data_dir: Path) -> ServerKey:
        """The key in ``data_dir``, created on first use.

        Creation writes a temporary file (mode 0600, fsynced) and hard-links it to the final
        name, which fails when the name exists: two processes starting together both end up
        with the one key that was linked first, and nobody ever reads a half-written file."""
        data_dir = Path(data_dir)
        path = data_dir / KEY_FILE_NAME
        if path.exists():
            return cls.load(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        tmp = data_dir / f".{KEY_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                os.fchmod(fd, 0o600)  # whatever the umask
                os.write(fd, pem)
                os.fsync(fd)
            finally:
                os.close(fd)
            created = _publish(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        if not created:
            # Another process was first: its key is the key.
            return cls.load(data_dir)
        _fsync_dir(data_dir)
        key = cls(private, path)
        logger.info("created the server signing key %s (key id %s)", path, key.key_id)
        return key

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data)

    def public_info(self) -> dict[str, str]:
        """What the server publishes (e.g. GET /api/evidence/public-key)."""
        return {
            "algorithm": ALGORITHM,
            "key_id": self.key_id,
            "public_key_pem": self.public_key_pem,
            "public_key_raw_b64": self.public_key_raw_b64,
        }


def _publish(tmp: Path, path: Path) -> bool:
    """Give ``tmp`` the name ``path`` unless it exists. False when someone else was first."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    except OSError:
        # No hard links on this filesystem: check, then rename (racy only between two
        # first starts on such a filesystem).
        if path.exists():
            return False
        os.replace(tmp, path)
    return True


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _parse_private(pem: bytes, path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ServerKeyError(
            f"the server key {path} is damaged or encrypted; restore it from a backup "
            "(a new key would leave existing evidence manifests unverifiable)",
            path=str(path),
            reason="unparsable",
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ServerKeyError(
            f"the server key {path} is not an Ed25519 key",
            path=str(path),
            reason="not_ed25519",
        )
    return key


def load_public_key(pem_or_b64: str) -> Ed25519PublicKey:
    """An Ed25519 public key from its PEM (SubjectPublicKeyInfo) or the base64 of its raw
    32 bytes, the two forms the server publishes."""
    text = pem_or_b64.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode("ascii", "replace"))
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise InvalidPublicKey("not a readable PEM public key", reason="unparsable") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise InvalidPublicKey("the PEM key is not an Ed25519 key", reason="not_ed25519")
        return key
    compact = "".join(text.split())
    try:
        # altchars also takes the URL-safe alphabet; + and / stay valid.
        raw = base64.b64decode(compact + "=" * (-len(compact) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise InvalidPublicKey(
            "an Ed25519 public key is a PEM block or the base64 of 32 bytes",
            reason="bad_length",
        )
    return Ed25519PublicKey.from_public_bytes(raw)
