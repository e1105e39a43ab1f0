"""A tamper-evident list of a case's evidence files: one signed, hash-chained line per file.

:mod:`.entry` is the line format, :mod:`.folder` which files are evidence, :mod:`.append` the
locked append, :mod:`.head` the last entry kept beside the manifest, :mod:`.verify` the check
of a folder, :mod:`.report` the ``evidence verify`` command. See docs/evidence-manifest.md.
"""

from __future__ import annotations

from .append import (
    EvidenceAlreadyListed,
    EvidenceManifest,
    EvidenceRefused,
    ManifestBroken,
    ManifestNotWritten,
)
from .entry import GENESIS, MANIFEST_NAME, ManifestEntry
from .folder import hash_file, is_ignored
from .head import HEAD_NAME, read_head
from .report import format_report, verify_command
from .verify import Problem, VerificationReport, verify_case_folder

__all__ = [
    "GENESIS",
    "HEAD_NAME",
    "MANIFEST_NAME",
    "EvidenceAlreadyListed",
    "EvidenceManifest",
    "EvidenceRefused",
    "ManifestBroken",
    "ManifestEntry",
    "ManifestNotWritten",
    "Problem",
    "VerificationReport",
    "format_report",
    "hash_file",
    "is_ignored",
    "read_head",
    "verify_case_folder",
    "verify_command",
]
