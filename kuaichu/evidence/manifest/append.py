"""Appending to a case folder's manifest: one signed, hash-chained line per new evidence file.

Appends are serialised per case folder across threads and processes by ``fcntl.flock`` on the
manifest itself, refuse to extend a manifest that does not verify, and are on disk (file and
folder fsynced) before they return. An append that cannot be written whole (a full disk) is
cut back off, so the manifest stays as it was, and raises ManifestNotWritten. After each
append the head (:mod:`.head`) is replaced, so lost entries show in ``evidence verify``.
Blocking: async callers use ``asyncio.to_thread``.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import errno
import json
import logging
import os
import stat
import types
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from kuaichu.errors import Conflict, InvalidMessage, KuaichuError

from ..signing import ServerKey
from .entry import (
    GENESIS,
    KIND_RE,
    MANIFEST_NAME,
    SHA256_RE,
    Malformed,
    ManifestEntry,
    canonical_json,
    locked,
    parse_entry,
    read_all,
    split_lines,
)
from .folder import hash_file, not_listable
from .head import write_head
from .verify import check_manifest

logger = logging.getLogger(__name__)


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


class ManifestNotWritten(KuaichuError):
    """The entry could not be written (``detail["reason"]``: disk_full or io_error); the
    manifest is left as it was before the append."""

    code = "manifest_not_written"
    http_status = 507


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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
        EvidenceAlreadyListed, ManifestBroken when the manifest does not verify, or
        ManifestNotWritten when the line cannot be written (the manifest is left unchanged)."""
        case_id = self.case_dir.name
        relative, absolute = self._relative(Path(file))
        if not isinstance(kind, str) or not KIND_RE.fullmatch(kind):
            raise EvidenceRefused(f"bad evidence kind {kind!r}", reason="bad_kind", case=case_id)
        meta_dict = _normalise_meta(meta, case_id)
        if sha256 is None:
            digest, size = hash_file(absolute)
        else:
            if not isinstance(sha256, str) or not SHA256_RE.fullmatch(sha256):
                raise EvidenceRefused(
                    "sha256 must be 64 lowercase hex digits", reason="bad_sha256", case=case_id
                )
            digest, size = sha256, os.stat(absolute).st_size
        created = not self.path.exists()
        while True:
            with locked(self.path, exclusive=True) as fd:
                assert fd is not None
                if os.fstat(fd).st_nlink == 0:
                    # An append that failed while this one waited removed the file it had
                    # created: open the manifest again.
                    continue
                entry = self._append_locked(fd, relative, absolute, kind, meta_dict, digest, size)
                try:
                    # Under the lock, so heads are replaced in the order of their entries.
                    write_head(self.case_dir, entry.seq, entry.entry_hash())
                except OSError as exc:
                    # The entry is listed; only the check for lost entries lags behind.
                    logger.warning("case %s: manifest head not kept: %s", case_id, exc)
                break
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

    def _append_locked(
        self,
        fd: int,
        relative: str,
        absolute: Path,
        kind: str,
        meta_dict: dict[str, Any],
        digest: str,
        size: int,
    ) -> ManifestEntry:
        """The append itself, under the manifest's exclusive lock."""
        case_id = self.case_dir.name
        checked = check_manifest(read_all(fd), self.key.public_key, every_signature=False)
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
        self._write_line(fd, entry.to_line(), relative)
        return entry

    def _write_line(self, fd: int, line: bytes, relative: str) -> None:
        """Append one line and fsync it, or leave the manifest as it was and raise."""
        before = os.fstat(fd).st_size
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view) :]
            # Listed means it survives a power cut, like the evidence file itself.
            os.fsync(fd)
        except OSError as exc:
            # Half a line would end the manifest with an incomplete entry: cut it off.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, before)
                os.fsync(fd)
            if before == 0:
                # The file this append created holds nothing: an empty manifest would read
                # as one that lost its entries. Waiting appenders see it unlinked and reopen.
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
            full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
            reason = "disk_full" if full else "io_error"
            logger.error(
                "case %s: %s not listed, the manifest is unchanged (%s): %s",
                self.case_dir.name,
                relative,
                reason,
                exc,
            )
            raise ManifestNotWritten(
                f"{relative} could not be listed in the evidence manifest of case "
                f"{self.case_dir.name}: {exc.strerror or exc}",
                case=self.case_dir.name,
                path=relative,
                reason=reason,
            ) from None

    def entries(self) -> list[ManifestEntry]:
        """The listed entries, in order, as stored (signatures are checked by
        :func:`verify_case_folder`). ManifestBroken when a line cannot be read."""
        with locked(self.path, exclusive=False) as fd:
            if fd is None:
                return []
            data = read_all(fd)
        out: list[ManifestEntry] = []
        for line_no, raw, complete in split_lines(data):
            try:
                if not complete:
                    raise Malformed("incomplete (no newline at the end)")
                out.append(parse_entry(raw))
            except Malformed as exc:
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
        if not_listable(relative):
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
        data = json.loads(canonical_json(dict(meta)))
    except (TypeError, ValueError) as exc:
        raise EvidenceRefused(
            f"meta is not plain JSON: {exc}", reason="bad_meta", case=case_id
        ) from None
    assert isinstance(data, dict)
    return data
