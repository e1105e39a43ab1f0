"""A tamper-evident list of a case's evidence files: one signed, hash-chained line per file.

Every file that becomes evidence of a case (a captured JPEG, a phone still, a call recording,
an issued determination document) is listed in ``<case folder>/manifest.jsonl``, one JSON
object per line. An entry holds the file's path relative to the case folder, its SHA-256 and
size, the hash of the previous entry's canonical bytes and an Ed25519 signature by the server's
key over its own canonical bytes. So a changed, removed or added file, an edited, removed or
reordered line, or a line signed by another key all show when the folder is verified.

Canonical bytes of an entry: the JSON object of every field except ``signature``, keys sorted,
no spaces (``separators=(",", ":")``), ``ensure_ascii=False``, UTF-8. A manifest line is the
same with ``signature`` included, plus ``\\n``. See docs/evidence-manifest.md.

Appends are serialised per case folder across threads and processes by ``fcntl.flock`` on the
manifest itself, and refuse to extend a manifest that does not verify. Everything here is
synchronous file work: async callers run it with ``asyncio.to_thread``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import fcntl
import hashlib
import json
import logging
import os
import re
import stat
import sys
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kuaichu.errors import Conflict, InvalidMessage, KuaichuError

from .signing import ServerKey, key_id_of, load_public_key

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.jsonl"
GENESIS = "0" * 64
# The recorder's file while a call is going on (kuaichu/media/recorder.py); it is evidence only
# once listed (when the remux fails, the finished recording keeps this name).
LIVE_RECORDING_SUFFIX = ".live.mkv"
# Temporary names. The media code writes ``.<name>.part`` (hidden anyway); the suffixes
# cover writers that do not hide theirs.
TEMP_SUFFIXES = (".part", ".tmp")
KINDS = frozenset({"capture", "phone_still", "recording", "document"})
_KIND_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_KEY_ID_RE = re.compile(r"[0-9a-f]{16}")
_FIELDS = frozenset(
    {"seq", "path", "kind", "sha256", "size", "added_at", "meta", "prev", "key_id", "signature"}
)
_CHUNK = 1 << 20


class EvidenceRefused(InvalidMessage):
    """A file cannot be listed. ``detail["reason"]``: outside_case, not_a_file, not_evidence
    (temporary/hidden name, the manifest itself), bad_kind, bad_sha256, bad_meta, changed."""

    code = "evidence_refused"


class EvidenceAlreadyListed(Conflict):
    """The path is in the manifest already: evidence is never replaced, a new version is a
    new file."""

    code = "evidence_already_listed"


class ManifestBroken(Conflict):
    """The manifest does not verify (damaged line, bad signature, broken chain), so nothing is
    appended to it. ``detail`` holds the first problem."""

    code = "manifest_broken"


# ---- entries ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestEntry:
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
        return _canonical_json(self.signed_fields())

    def entry_hash(self) -> str:
        return hashlib.sha256(self.canonical_bytes()).hexdigest()

    def to_line(self) -> bytes:
        return _canonical_json({**self.signed_fields(), "signature": self.signature}) + b"\n"

    def to_dict(self) -> dict[str, Any]:
        return {**self.signed_fields(), "signature": self.signature}

    def verify_signature(self, public_key: Ed25519PublicKey) -> bool:
        try:
            signature = base64.b64decode(self.signature, validate=True)
            public_key.verify(signature, self.canonical_bytes())
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True


def _canonical_json(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


class _Malformed(Exception):
    pass


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _safe_relative(path: str) -> bool:
    if not path or path.startswith("/") or "\\" in path or "\x00" in path:
        return False
    parts = path.split("/")
    return all(p not in ("", ".", "..") for p in parts) and PurePosixPath(path).as_posix() == path


def _parse_entry(line: bytes) -> ManifestEntry:
    try:
        obj = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _Malformed(f"not JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise _Malformed("not a JSON object")
    missing = sorted(_FIELDS - obj.keys())
    if missing:
        raise _Malformed(f"missing field(s) {', '.join(missing)}")
    extra = sorted(obj.keys() - _FIELDS)
    if extra:
        # Unsigned fields would carry claims nobody signed.
        raise _Malformed(f"unknown field(s) {', '.join(extra)}")
    checks: list[tuple[str, bool]] = [
        ("seq", _is_int(obj["seq"]) and obj["seq"] >= 1),
        ("path", isinstance(obj["path"], str) and _safe_relative(obj["path"])),
        ("kind", isinstance(obj["kind"], str) and bool(_KIND_RE.fullmatch(obj["kind"]))),
        ("sha256", isinstance(obj["sha256"], str) and bool(_SHA256_RE.fullmatch(obj["sha256"]))),
        ("size", _is_int(obj["size"]) and obj["size"] >= 0),
        ("added_at", isinstance(obj["added_at"], str) and _aware_iso(obj["added_at"])),
        ("meta", isinstance(obj["meta"], dict)),
        ("prev", isinstance(obj["prev"], str) and bool(_SHA256_RE.fullmatch(obj["prev"]))),
        ("key_id", isinstance(obj["key_id"], str) and bool(_KEY_ID_RE.fullmatch(obj["key_id"]))),
        ("signature", isinstance(obj["signature"], str)),
    ]
    bad = [name for name, ok in checks if not ok]
    if bad:
        raise _Malformed(f"invalid field(s) {', '.join(bad)}")
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
        raise _Malformed(f"not canonical JSON ({exc})") from None
    return entry


def _aware_iso(text: str) -> bool:
    try:
        return datetime.datetime.fromisoformat(text).tzinfo is not None
    except ValueError:
        return False


# ---- which files are evidence ------------------------------------------------------------


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


def _not_listable(relative: str) -> bool:
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
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _scan(case_dir: Path) -> list[str]:
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


# ---- reading and checking the manifest -----------------------------------------------------


@dataclass(frozen=True)
class Problem:
    kind: str  # altered | removed | added | bad_signature | broken_chain | malformed | no_manifest
    path: str | None
    seq: int | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "seq": self.seq, "detail": self.detail}


@dataclass(frozen=True)
class VerificationReport:
    case_dir: str
    ok: bool
    entries: int
    problems: tuple[Problem, ...]
    first: Problem | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "case_dir": self.case_dir,
            "ok": self.ok,
            "entries": self.entries,
            "problems": [p.to_dict() for p in self.problems],
            "first": self.first.to_dict() if self.first else None,
        }


# Sort keys: manifest problems by seq (then line, then manifest before file problems), then
# added files by name. A missing manifest comes before everything.
_SortKey = tuple[int, int, int, int, str]


@dataclass
class _Checked:
    entries: list[ManifestEntry]
    problems: list[tuple[_SortKey, Problem]]


def _lines(data: bytes) -> list[tuple[int, bytes, bool]]:
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


def _check_manifest(
    data: bytes, public_key: Ed25519PublicKey, every_signature: bool = True
) -> _Checked:
    """Every line's form and signature and the chain; no file is read.

    With ``every_signature=False`` only the last entry's signature is checked: it signs the
    hash of the entry before, which hashes the one before that, so unbroken links plus a good
    last signature vouch for every line, at a hash per line instead of a signature check
    (appends stay ~1 ms with hundreds of entries)."""
    key_id = key_id_of(public_key)
    entries: list[ManifestEntry] = []
    problems: list[tuple[_SortKey, Problem]] = []
    # None: the previous line was unusable (malformed, or a signature that failed), so the
    # link to it cannot be checked; its own problem is already reported.
    prev_hash: str | None = GENESIS
    expected_seq = 1
    seen: dict[str, int] = {}

    def add(seq_order: int, line_no: int, problem: Problem) -> None:
        problems.append(((0, seq_order, line_no, 0, ""), problem))

    lines = _lines(data)
    for line_no, raw, complete in lines:
        if not complete:
            add(
                expected_seq,
                line_no,
                Problem(
                    "malformed",
                    None,
                    None,
                    f"line {line_no} is incomplete (no newline at the end: an append was "
                    "interrupted, e.g. by a crash); it is not part of the signed chain",
                ),
            )
            prev_hash = None
            expected_seq += 1
            continue
        try:
            entry = _parse_entry(raw)
        except _Malformed as exc:
            add(expected_seq, line_no, Problem("malformed", None, None, f"line {line_no}: {exc}"))
            prev_hash = None
            expected_seq += 1
            continue
        signed = (not every_signature and line_no != len(lines)) or (
            entry.key_id == key_id and entry.verify_signature(public_key)
        )
        if not signed:
            detail = (
                f"entry {entry.seq} (line {line_no}) was signed with key {entry.key_id}, "
                f"not with the key {key_id} used to verify"
                if entry.key_id != key_id
                else f"entry {entry.seq} (line {line_no}) does not match its signature: "
                "the line was edited after it was signed"
            )
            add(entry.seq, line_no, Problem("bad_signature", entry.path, entry.seq, detail))
        if prev_hash is not None:
            chain = _chain_detail(entry, expected_seq, prev_hash)
            if chain:
                add(
                    entry.seq,
                    line_no,
                    Problem("broken_chain", entry.path, entry.seq, f"line {line_no}: {chain}"),
                )
        if entry.path in seen:
            add(
                entry.seq,
                line_no,
                Problem(
                    "malformed",
                    entry.path,
                    entry.seq,
                    f"line {line_no}: {entry.path} is listed again (first as entry "
                    f"{seen[entry.path]}); evidence is never replaced",
                ),
            )
        else:
            seen[entry.path] = entry.seq
            entries.append(entry)
        prev_hash = entry.entry_hash() if signed else None
        expected_seq = entry.seq + 1
    return _Checked(entries, problems)


def _chain_detail(entry: ManifestEntry, expected_seq: int, prev_hash: str) -> str | None:
    if entry.seq > expected_seq:
        missing = (
            f"entry {expected_seq} is"
            if entry.seq == expected_seq + 1
            else f"entries {expected_seq}..{entry.seq - 1} are"
        )
        return f"{missing} missing before entry {entry.seq}"
    if entry.seq < expected_seq:
        return (
            f"entry {entry.seq} comes after entry {expected_seq - 1} (lines reordered or repeated)"
        )
    if entry.prev != prev_hash:
        before = "the start" if prev_hash == GENESIS else f"entry {expected_seq - 1}"
        return (
            f"entry {entry.seq} does not link to {before} (prev {entry.prev[:12]}…, "
            f"expected {prev_hash[:12]}…): a line before it was changed, removed or inserted"
        )
    return None


def _file_problem(case_dir: Path, entry: ManifestEntry) -> Problem | None:
    path = case_dir / entry.path
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return Problem("removed", entry.path, entry.seq, "listed in the manifest but missing")
    except OSError as exc:
        return Problem("altered", entry.path, entry.seq, f"cannot be read: {exc.strerror}")
    if not stat.S_ISREG(st.st_mode):
        return Problem("altered", entry.path, entry.seq, "is no longer a regular file")
    if st.st_size != entry.size:
        return Problem(
            "altered",
            entry.path,
            entry.seq,
            f"size differs: listed {entry.size} bytes, found {st.st_size}",
        )
    try:
        digest, _ = hash_file(path)
    except OSError as exc:
        return Problem("altered", entry.path, entry.seq, f"cannot be read: {exc.strerror}")
    if digest != entry.sha256:
        return Problem(
            "altered",
            entry.path,
            entry.seq,
            f"content differs: listed sha256 {entry.sha256[:16]}…, found {digest[:16]}…",
        )
    return None


@contextlib.contextmanager
def _locked(path: Path, exclusive: bool) -> Iterator[int | None]:
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


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, _CHUNK):
        chunks.append(chunk)
    return b"".join(chunks)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ---- the manifest of one case folder -------------------------------------------------------


class EvidenceManifest:
    """The manifest of one case folder, signed with ``key``. Methods are blocking."""

    def __init__(self, case_dir: Path, key: ServerKey) -> None:
        self.case_dir = Path(case_dir)
        self.key = key
        self.path = self.case_dir / MANIFEST_NAME

    def append(
        self,
        file: Path,
        kind: str,
        meta: Mapping[str, Any] | None = None,
        sha256: str | None = None,
    ) -> ManifestEntry:
        """List ``file`` (inside the case folder; a relative path is taken from the working
        directory, like any path) as the next entry and return it once it is on disk.

        With ``sha256`` (the writer hashed the bytes it wrote, e.g. ``Capture.sha256``) the
        file is not read again, only its size taken. Raises EvidenceRefused,
        EvidenceAlreadyListed, or ManifestBroken when the manifest does not verify."""
        case_id = self.case_dir.name
        relative, absolute = self._relative(Path(file))
        if not isinstance(kind, str) or not _KIND_RE.fullmatch(kind):
            raise EvidenceRefused(f"bad evidence kind {kind!r}", reason="bad_kind", case=case_id)
        meta_dict = _normalise_meta(meta, case_id)
        if sha256 is None:
            digest, size = hash_file(absolute)
        else:
            if not isinstance(sha256, str) or not _SHA256_RE.fullmatch(sha256):
                raise EvidenceRefused(
                    "sha256 must be 64 lowercase hex digits", reason="bad_sha256", case=case_id
                )
            digest, size = sha256, os.stat(absolute).st_size
        created = not self.path.exists()
        with _locked(self.path, exclusive=True) as fd:
            assert fd is not None
            checked = _check_manifest(_read_all(fd), self.key.public_key, every_signature=False)
            if checked.problems:
                _, first = min(checked.problems, key=lambda item: item[0])
                logger.error(
                    "case %s: manifest %s does not verify, %s not listed: %s %s",
                    case_id,
                    self.path,
                    relative,
                    first.kind,
                    first.detail,
                )
                raise ManifestBroken(
                    f"the evidence manifest of case {case_id} does not verify; "
                    "nothing is appended to it",
                    case=case_id,
                    first=first.to_dict(),
                )
            for existing in checked.entries:
                if existing.path == relative:
                    raise EvidenceAlreadyListed(
                        f"{relative} is already evidence of case {case_id} (entry {existing.seq})",
                        case=case_id,
                        path=relative,
                        seq=existing.seq,
                    )
            # Hashed outside the lock (a recording can be large): it must not have changed.
            if os.stat(absolute).st_size != size:
                raise EvidenceRefused(
                    f"{relative} changed while it was being listed",
                    reason="changed",
                    case=case_id,
                    path=relative,
                )
            last = checked.entries[-1] if checked.entries else None
            unsigned = ManifestEntry(
                seq=last.seq + 1 if last else 1,
                path=relative,
                kind=kind,
                sha256=digest,
                size=size,
                added_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
                meta=types.MappingProxyType(meta_dict),
                prev=last.entry_hash() if last else GENESIS,
                key_id=self.key.key_id,
                signature="",
            )
            signature = base64.b64encode(self.key.sign(unsigned.canonical_bytes())).decode()
            entry = replace(unsigned, signature=signature)
            view = memoryview(entry.to_line())
            while view:
                view = view[os.write(fd, view) :]
            # Listed means it survives a power cut, like the evidence file itself.
            os.fsync(fd)
        if created:
            _fsync_dir(self.case_dir)
        logger.info(
            "case %s: evidence %s (%s) listed as entry %d, sha256 %s",
            case_id,
            relative,
            kind,
            entry.seq,
            digest[:16],
        )
        return entry

    def entries(self) -> list[ManifestEntry]:
        """The listed entries, in order, as stored (signatures are checked by
        :func:`verify_case_folder`). ManifestBroken when a line cannot be read."""
        with _locked(self.path, exclusive=False) as fd:
            if fd is None:
                return []
            data = _read_all(fd)
        out: list[ManifestEntry] = []
        for line_no, raw, complete in _lines(data):
            try:
                if not complete:
                    raise _Malformed("incomplete (no newline at the end)")
                out.append(_parse_entry(raw))
            except _Malformed as exc:
                raise ManifestBroken(
                    f"line {line_no} of {self.path} cannot be read: {exc}",
                    case=self.case_dir.name,
                    line=line_no,
                ) from None
        return out

    def head(self) -> tuple[int, str] | None:
        """(seq, entry hash) of the last entry: worth keeping outside the folder (database,
        the determination document), since cutting lines off the end leaves a valid chain."""
        entries = self.entries()
        return (entries[-1].seq, entries[-1].entry_hash()) if entries else None

    def _relative(self, file: Path) -> tuple[str, Path]:
        case_id = self.case_dir.name
        try:
            st = os.lstat(file)
        except OSError:
            raise EvidenceRefused(
                f"{file} does not exist", reason="not_a_file", case=case_id
            ) from None
        if not stat.S_ISREG(st.st_mode):
            # A link could later point anywhere; evidence is the file itself.
            raise EvidenceRefused(
                f"{file} is not a regular file", reason="not_a_file", case=case_id
            )
        absolute = file.resolve()
        try:
            relative = absolute.relative_to(self.case_dir.resolve()).as_posix()
        except ValueError:
            raise EvidenceRefused(
                f"{file} is outside the case folder {self.case_dir}",
                reason="outside_case",
                case=case_id,
            ) from None
        if _not_listable(relative):
            raise EvidenceRefused(
                f"{relative} is a temporary or hidden file, or the manifest",
                reason="not_evidence",
                case=case_id,
            )
        return relative, absolute


def _normalise_meta(meta: Mapping[str, Any] | None, case_id: str) -> dict[str, Any]:
    """``meta`` as it will read back from the line (tuples become lists, and so on), so the
    returned entry equals the one a reader parses."""
    if meta is None:
        return {}
    try:
        data = json.loads(_canonical_json(dict(meta)))
    except (TypeError, ValueError) as exc:
        raise EvidenceRefused(
            f"meta is not plain JSON: {exc}", reason="bad_meta", case=case_id
        ) from None
    assert isinstance(data, dict)
    return data


# ---- verification ------------------------------------------------------------------------


def verify_case_folder(case_dir: Path, public_key: Ed25519PublicKey) -> VerificationReport:
    """Check a case folder against its manifest: every line's form, signature and link, every
    listed file's size and SHA-256, and no unlisted evidence. Blocking (hashes every file)."""
    case_dir = Path(case_dir)
    problems: list[tuple[_SortKey, Problem]] = []
    entries = 0
    if not case_dir.is_dir():
        problems.append(
            ((-1, 0, 0, 0, ""), Problem("no_manifest", None, None, "the case folder is missing"))
        )
    else:
        # The folder is listed before the manifest is read, so a file published and listed
        # meanwhile (a capture during a live call) is not reported as added.
        present = _scan(case_dir)
        with _locked(case_dir / MANIFEST_NAME, exclusive=False) as fd:
            data = None if fd is None else _read_all(fd)
        listed: set[str] = set()
        if data is None:
            problems.append(
                (
                    (-1, 0, 0, 0, ""),
                    Problem("no_manifest", MANIFEST_NAME, None, "the folder has no manifest"),
                )
            )
        else:
            checked = _check_manifest(data, public_key)
            problems.extend(checked.problems)
            entries = len(checked.entries)
            for entry in checked.entries:
                listed.add(entry.path)
                found = _file_problem(case_dir, entry)
                if found is not None:
                    problems.append(((0, entry.seq, 1 << 62, 1, ""), found))
        for relative in present:
            if relative not in listed and not is_ignored(relative):
                problems.append(
                    (
                        (1, 0, 0, 0, relative),
                        Problem("added", relative, None, "not listed in the manifest"),
                    )
                )
    problems.sort(key=lambda item: item[0])
    ordered = tuple(p for _, p in problems)
    return VerificationReport(
        case_dir=str(case_dir),
        ok=not ordered,
        entries=entries,
        problems=ordered,
        first=ordered[0] if ordered else None,
    )


def verify_command(
    target: str,
    data_dir: Path,
    recordings_dir: Path,
    public_key: str | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """``python server.py evidence verify TARGET``: TARGET is a case id (its folder under
    ``recordings_dir``) or a folder path (anything with a ``/``). The key is ``public_key``
    (PEM, base64 of the raw key, or a file holding either), else the server's own key in
    ``data_dir``. Prints a report, first problem first. Returns 0 ok, 1 problems, 2 usage."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    if not target or target in (".", "..") or "/" in target or os.sep in target:
        case_dir = Path(target or ".")
    else:
        case_dir = Path(recordings_dir) / target
    if not case_dir.is_dir():
        print(f"error: no case folder {case_dir}", file=err)
        return 2
    try:
        if public_key is not None:
            text = public_key
            if "-----BEGIN" not in text and Path(text).is_file():
                text = Path(text).read_text(encoding="ascii", errors="replace")
            key = load_public_key(text)
        else:
            key = ServerKey.load(Path(data_dir)).public_key
    except KuaichuError as exc:
        print(f"error: {exc.message}", file=err)
        return 2
    report = verify_case_folder(case_dir, key)
    for line in format_report(report, key_id_of(key)):
        print(line, file=out)
    return 0 if report.ok else 1


def format_report(report: VerificationReport, key_id: str) -> list[str]:
    """The human report of the verify command."""
    lines: list[str] = []
    if report.ok:
        lines.append(f"OK  {report.case_dir}")
        lines.append(
            f"    {report.entries} evidence file(s) match the manifest; chain unbroken, "
            f"every entry signed by key {key_id}"
        )
        return lines
    count = len(report.problems)
    lines.append(f"NOT OK  {report.case_dir}: {count} problem{'s' if count > 1 else ''}")
    lines.append(f"    manifest entries: {report.entries}, verified with key {key_id}")
    assert report.first is not None
    lines.append("first problem:")
    lines.append("    " + _describe(report.first))
    if count > 1:
        lines.append("all problems:")
        width = len(str(count))
        for i, problem in enumerate(report.problems, 1):
            lines.append(f"  {i:>{width}}. " + _describe(problem))
    return lines


def _describe(problem: Problem) -> str:
    where = problem.path or "-"
    seq = f"entry {problem.seq}" if problem.seq is not None else "no entry"
    return f"{problem.kind.upper():<13} {where} ({seq}): {problem.detail}"


__all__ = [
    "GENESIS",
    "KINDS",
    "MANIFEST_NAME",
    "EvidenceAlreadyListed",
    "EvidenceManifest",
    "EvidenceRefused",
    "ManifestBroken",
    "ManifestEntry",
    "Problem",
    "VerificationReport",
    "format_report",
    "hash_file",
    "is_ignored",
    "verify_case_folder",
    "verify_command",
]
