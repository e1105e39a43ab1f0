"""The case's evidence ledger: each stored evidence file goes into the case folder's signed,
hash-chained manifest (kuaichu.evidence.manifest), and the determination lists what is there.

Appends hash and sign in a worker thread (a recording is tens of megabytes); the manifest
serialises concurrent appends itself, across threads and processes.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, TypedDict

from .kinds import ledger_text
from .manifest import MANIFEST_NAME, EvidenceManifest, ManifestEntry
from .signing import ServerKey

logger = logging.getLogger(__name__)


class LedgerEntry(TypedDict):
    """One listed file of a case folder, as the manifest holds it."""

    seq: int
    kind: str
    path: str
    sha256: str
    size: int
    added_at: str
    meta: dict[str, Any]


class EvidenceItem(TypedDict):
    """One line of a determination's evidence list."""

    kind: str
    kind_text: str
    name: str
    sha256: str
    taken_at: str


class Ledger:
    """Lists a case's evidence files in its folder's manifest, signed with ``key``."""

    def __init__(self, recordings_dir: Path, key: ServerKey) -> None:
        self.recordings_dir = recordings_dir
        self.key = key

    def folder(self, case_id: str) -> Path:
        """The case's folder under the recordings directory."""
        return self.recordings_dir / case_id

    def append(
        self,
        case_id: str,
        path: Path,
        kind: str,
        sha256: str,
        meta: dict[str, Any] | None = None,
    ) -> ManifestEntry:
        """List ``path`` in the case's manifest, blocking (hashes and signs, takes the lock):
        for callers already in a worker thread."""
        manifest = EvidenceManifest(self.folder(case_id), self.key)
        entry = manifest.append(path, kind, meta, sha256)
        logger.info(
            "case %s: %s %s listed in the manifest (#%d)", case_id, kind, path.name, entry.seq
        )
        return entry

    async def record(
        self,
        case_id: str,
        path: Path,
        kind: str,
        sha256: str,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """List ``path`` in the case's manifest, in a worker thread."""
        await asyncio.to_thread(self.append, case_id, path, kind, sha256, meta)

    async def entries(self, case_id: str) -> list[LedgerEntry]:
        """Every listed file of the case, in order."""
        folder = self.folder(case_id)
        if not (folder / MANIFEST_NAME).exists():
            return []
        manifest = EvidenceManifest(folder, self.key)
        found = await asyncio.to_thread(manifest.entries)
        return [
            LedgerEntry(
                seq=e.seq,
                kind=e.kind,
                path=e.path,
                sha256=e.sha256,
                size=e.size,
                added_at=e.added_at,
                meta=dict(e.meta),
            )
            for e in found
        ]

    async def evidence_list(self, case_id: str) -> list[EvidenceItem]:
        """What a determination lists: every capture and recording with its hash (earlier
        versions of the document itself are not evidence)."""
        return [
            EvidenceItem(
                kind=e["kind"],
                kind_text=ledger_text(e["kind"]),
                name=e["path"],
                sha256=e["sha256"],
                taken_at=e["meta"].get("taken_at") or e["added_at"],
            )
            for e in await self.entries(case_id)
            if e["kind"] != "document"
        ]
