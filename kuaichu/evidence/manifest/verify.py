"""Verifying a case folder against its manifest: every line's form, signature and link to the
one before, every listed file's size and SHA-256, no unlisted evidence, and no entry lost from
the end (an empty manifest, or one shorter than the head kept beside it)."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..signing import key_id_of
from .entry import (
    GENESIS,
    MANIFEST_NAME,
    Malformed,
    ManifestEntry,
    locked,
    parse_entry,
    read_all,
    split_lines,
)
from .folder import hash_file, is_ignored, scan_folder
from .head import HEAD_NAME, read_head


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a case folder or its manifest."""

    # altered | removed | added | bad_signature | broken_chain | malformed | no_manifest |
    # truncated (entries lost from the end, or an empty manifest)
    kind: str
    path: str | None
    seq: int | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "seq": self.seq, "detail": self.detail}


@dataclass(frozen=True)
class VerificationReport:
    """The outcome of :func:`verify_case_folder`: ``ok``, and every problem, first first."""

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


# Where a problem sorts: a missing manifest before everything, then the manifest's problems by
# entry (a line's own problems before its file's), then unlisted files by name.
_SortKey = tuple[int, int, int, int, str]
_BEFORE_ALL: Final[_SortKey] = (-1, 0, 0, 0, "")


def _line_key(seq: int, line_no: int) -> _SortKey:
    """A problem of a manifest line: by entry, then line."""
    return (0, seq, line_no, 0, "")


def _file_key(seq: int) -> _SortKey:
    """A problem of a listed file: after every problem of its entry's line."""
    return (0, seq, 1 << 62, 1, "")


def _added_key(relative: str) -> _SortKey:
    """An unlisted file: after the manifest's problems, by name."""
    return (1, 0, 0, 0, relative)


@dataclass
class _Checked:
    entries: list[ManifestEntry]
    problems: list[tuple[_SortKey, Problem]]


def check_manifest(
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
        problems.append((_line_key(seq_order, line_no), problem))

    lines = split_lines(data)
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
            entry = parse_entry(raw)
        except Malformed as exc:
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


def _lost_entries(data: bytes, checked: _Checked, head: tuple[int, str] | None) -> Problem | None:
    """A manifest that lost entries from its end: cutting lines off leaves a valid chain, so
    the head kept beside it, or an empty file (an append always writes a whole line, and
    one that fails removes a manifest it created), is what shows it."""
    if checked.problems:
        return None  # the damaged lines are reported as such (an incomplete last line, …)
    if head is not None:
        seq, entry_hash = head
        by_seq = {e.seq: e for e in checked.entries}
        if seq in by_seq:
            if by_seq[seq].entry_hash() != entry_hash:
                return Problem(
                    "truncated",
                    by_seq[seq].path,
                    seq,
                    f"entry {seq} is not the entry {seq} that was appended (head "
                    f"{entry_hash[:12]}…): the manifest was replaced or rewritten",
                )
            return None
        last = max(by_seq, default=0)
        if last < seq:
            missing = f"entry {seq} is" if last + 1 == seq else f"entries {last + 1}..{seq} are"
            return Problem(
                "truncated",
                MANIFEST_NAME,
                seq,
                f"{missing} missing: the manifest was appended up to entry {seq} but ends "
                f"{'empty' if not last else f'at entry {last}'} (cut short, e.g. by a full "
                "disk, or lines removed)",
            )
        return None
    if not data:
        return Problem(
            "truncated",
            MANIFEST_NAME,
            None,
            "the manifest is empty: an append was cut short (e.g. by a full disk) or its "
            "entries were removed",
        )
    return None


def verify_case_folder(case_dir: Path, public_key: Ed25519PublicKey) -> VerificationReport:
    """Check a case folder against its manifest: every line's form, signature and link, every
    listed file's size and SHA-256, and no unlisted evidence. Blocking (hashes every file)."""
    case_dir = Path(case_dir)
    problems: list[tuple[_SortKey, Problem]] = []
    entries = 0
    if not case_dir.is_dir():
        problems.append(
            (_BEFORE_ALL, Problem("no_manifest", None, None, "the case folder is missing"))
        )
    else:
        # The folder is listed before the manifest is read, so a file published and listed
        # meanwhile (a capture during a live call) is not reported as added.
        present = scan_folder(case_dir)
        with locked(case_dir / MANIFEST_NAME, exclusive=False) as fd:
            data = None if fd is None else read_all(fd)
            # Read under the same lock: appends replace the head under theirs.
            try:
                head: tuple[int, str] | None = read_head(case_dir)
                head_error = None
            except Malformed as exc:
                head, head_error = None, str(exc)
        if head_error is not None:
            problems.append(
                (_BEFORE_ALL, Problem("malformed", HEAD_NAME, None, f"the head {head_error}"))
            )
        listed: set[str] = set()
        if data is None:
            problems.append(
                (
                    _BEFORE_ALL,
                    Problem("no_manifest", MANIFEST_NAME, None, "the folder has no manifest"),
                )
            )
        else:
            checked = check_manifest(data, public_key)
            problems.extend(checked.problems)
            lost = _lost_entries(data, checked, head)
            if lost is not None:
                # After the problems of the lines that are there (the head's entry is last).
                problems.append((_line_key(lost.seq or 0, 1 << 62), lost))
            entries = len(checked.entries)
            for entry in checked.entries:
                listed.add(entry.path)
                found = _file_problem(case_dir, entry)
                if found is not None:
                    problems.append((_file_key(entry.seq), found))
        for relative in present:
            if relative not in listed and not is_ignored(relative):
                problems.append(
                    (
                        _added_key(relative),
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
