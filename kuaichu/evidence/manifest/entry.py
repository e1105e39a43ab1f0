"""A manifest entry: the format of one line, its canonical bytes, and parsing it back.

Every file that becomes evidence of a case (a captured JPEG, a phone still, a call recording,
an issued determination document) is listed in ``<case folder>/manifest.jsonl``, one JSON
object per line. An entry holds the file's path relative to the case folder, its SHA-256 and
size, the hash of the previous entry's canonical bytes and an Ed25519 signature by the server's
key over its own canonical bytes. So a changed, removed or added file, an edited, removed or
reordered line, or a line signed by another key all show when the folder is verified.

Canonical bytes of an entry: the JSON object of every field except ``signature``, keys sorted,
no spaces (``separators=(",", ":")``), ``ensure_ascii=False``, UTF-8. A manifest line is the
same with ``signature`` included, plus ``\\n``. See docs/evidence-manifest.md.

Reading the manifest file takes a shared ``fcntl.flock`` (:func:`locked`), so a reader never
sees half of an append. Everything here is synchronous.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import re
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MANIFEST_NAME = "manifest.jsonl"
GENESIS = "0" * 64
# The recorder's file while a call is going on (kuaichu/media/recorder.py); it is evidence only
# once listed (when the remux fails, the recorder renames it to ``<call_id>.mkv``).
LIVE_RECORDING_SUFFIX = ".live.mkv"
# Temporary names. The media code writes ``.<name>.part`` (hidden anyway); the suffixes
# cover writers that do not hide theirs.
TEMP_SUFFIXES = (".part", ".tmp")
KIND_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
SHA256_RE = re.compile(r"[0-9a-f]{64}")
_KEY_ID_RE = re.compile(r"[0-9a-f]{16}")
_FIELDS = frozenset(
    {"seq", "path", "kind", "sha256", "size", "added_at", "meta", "prev", "key_id", "signature"}
)
CHUNK = 1 << 20


@dataclass(frozen=True)
class ManifestEntry:
    """One line of a manifest: a listed file, its hash, the link to the line before, the
    signature."""

    seq: int
    path: str  # relative to the case folder, POSIX separators
    kind: str
    sha256: str
    size: int
    added_at: str  # ISO 8601 with offset
    meta: Mapping[str, Any]
    prev: str  # entry_hash() of the previous entry, GENESIS for the first
    key_id: str
    signature: str  # base64 of the Ed25519 signature over canonical_bytes()

    def signed_fields(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "path": self.path,
            "kind": self.kind,
            "sha256": self.sha256,
            "size": self.size,
            "added_at": self.added_at,
            "meta": dict(self.meta),
            "prev": self.prev,
            "key_id": self.key_id,
        }

    def canonical_bytes(self) -> bytes:
        """What is signed, and what the next entry's ``prev`` hashes."""
        return canonical_json(self.signed_fields())

    def entry_hash(self) -> str:
        return hashlib.sha256(self.canonical_bytes()).hexdigest()

    def to_line(self) -> bytes:
        return canonical_json({**self.signed_fields(), "signature": self.signature}) + b"\n"

    def to_dict(self) -> dict[str, Any]:
        return {**self.signed_fields(), "signature": self.signature}

    def verify_signature(self, public_key: Ed25519PublicKey) -> bool:
        try:
            signature = base64.b64decode(self.signature, validate=True)
            public_key.verify(signature, self.canonical_bytes())
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True


def canonical_json(obj: Mapping[str, Any]) -> bytes:
    """Sorted keys, no spaces, UTF-8: the bytes that are signed and hashed."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


class Malformed(Exception):
    """A line that is not a well-formed entry (the message says why)."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _safe_relative(path: str) -> bool:
    if not path or path.startswith("/") or "\\" in path or "\x00" in path:
        return False
    parts = path.split("/")
    return all(p not in ("", ".", "..") for p in parts) and PurePosixPath(path).as_posix() == path


def parse_entry(line: bytes) -> ManifestEntry:
    """One manifest line (without its newline) as an entry; Malformed if it is not one."""
    try:
        obj = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Malformed(f"not JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise Malformed("not a JSON object")
    missing = sorted(_FIELDS - obj.keys())
    if missing:
        raise Malformed(f"missing field(s) {', '.join(missing)}")
    extra = sorted(obj.keys() - _FIELDS)
    if extra:
        # Unsigned fields would carry claims nobody signed.
        raise Malformed(f"unknown field(s) {', '.join(extra)}")
    checks: list[tuple[str, bool]] = [
        ("seq", _is_int(obj["seq"]) and obj["seq"] >= 1),
        ("path", isinstance(obj["path"], str) and _safe_relative(obj["path"])),
        ("kind", isinstance(obj["kind"], str) and bool(KIND_RE.fullmatch(obj["kind"]))),
        ("sha256", isinstance(obj["sha256"], str) and bool(SHA256_RE.fullmatch(obj["sha256"]))),
        ("size", _is_int(obj["size"]) and obj["size"] >= 0),
        ("added_at", isinstance(obj["added_at"], str) and _aware_iso(obj["added_at"])),
        ("meta", isinstance(obj["meta"], dict)),
        ("prev", isinstance(obj["prev"], str) and bool(SHA256_RE.fullmatch(obj["prev"]))),
        ("key_id", isinstance(obj["key_id"], str) and bool(_KEY_ID_RE.fullmatch(obj["key_id"]))),
        ("signature", isinstance(obj["signature"], str)),
    ]
    bad = [name for name, ok in checks if not ok]
    if bad:
        raise Malformed(f"invalid field(s) {', '.join(bad)}")
    entry = ManifestEntry(
        seq=obj["seq"],
        path=obj["path"],
        kind=obj["kind"],
        sha256=obj["sha256"],
        size=obj["size"],
        added_at=obj["added_at"],
        meta=types.MappingProxyType(obj["meta"]),
        prev=obj["prev"],
        key_id=obj["key_id"],
        signature=obj["signature"],
    )
    try:
        entry.canonical_bytes()
    except ValueError as exc:  # NaN/Infinity, lone surrogates
        raise Malformed(f"not canonical JSON ({exc})") from None
    return entry


def _aware_iso(text: str) -> bool:
    try:
        return datetime.datetime.fromisoformat(text).tzinfo is not None
    except ValueError:
        return False


def split_lines(data: bytes) -> list[tuple[int, bytes, bool]]:
    """(line number, bytes, complete) of every line; the last is incomplete when the data does
    not end with a newline (an append interrupted by a crash)."""
    if not data:
        return []
    pieces = data.split(b"\n")
    complete_last = pieces[-1] == b""
    if complete_last:
        pieces.pop()
    out = [(i + 1, p, True) for i, p in enumerate(pieces)]
    if not complete_last:
        n, p, _ = out[-1]
        out[-1] = (n, p, False)
    return out


@contextlib.contextmanager
def locked(path: Path, exclusive: bool) -> Iterator[int | None]:
    """The manifest's descriptor under flock; None (shared mode only) when there is none."""
    if exclusive:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    else:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            yield None
            return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield fd
    finally:
        os.close(fd)  # releases the lock


def read_all(fd: int) -> bytes:
    """The whole file behind ``fd``, from the start."""
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, CHUNK):
        chunks.append(chunk)
    return b"".join(chunks)
