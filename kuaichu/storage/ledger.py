"""The case's evidence ledger: each stored evidence file goes into the case folder's signed,
hash-chained manifest (kuaichu.storage.manifest), and the determination lists what is there.

Appends hash and sign in a worker thread (a recording is tens of megabytes); the manifest
serialises concurrent appends itself, across threads and processes.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Final

from .manifest import MANIFEST_NAME, EvidenceManifest
from .signing import ServerKey

logger = logging.getLogger(__name__)

KIND_TEXT: Final = {
    "plate": "号牌",
    "damage": "碰撞部位",
    "scene": "车辆及现场",
    "parties": "双方同框",
    "licence": "证件",
    "phone_still": "手机照片",
    "recording": "通话录像",
    "document": "认定书",
}


class Ledger:
    def __init__(self, recordings_dir: Path, key: ServerKey) -> None:
        self.recordings_dir = recordings_dir
        self.key = key

    def folder(self, case_id: str) -> Path:
        return self.recordings_dir / case_id

    async def record(
        self,
        case_id: str,
        path: Path,
        kind: str,
        sha256: str,
        meta: dict[str, Any] | None = None,
    ) -> None:
        manifest = EvidenceManifest(self.folder(case_id), self.key)
        entry = await asyncio.to_thread(manifest.append, path, kind, meta, sha256)
        logger.info(
            "case %s: %s %s listed in the manifest (#%d)", case_id, kind, path.name, entry.seq
        )

    async def entries(self, case_id: str) -> list[dict[str, Any]]:
        folder = self.folder(case_id)
        if not (folder / MANIFEST_NAME).exists():
            return []
        manifest = EvidenceManifest(folder, self.key)
        found = await asyncio.to_thread(manifest.entries)
        return [
            {
                "seq": e.seq,
                "kind": e.kind,
                "path": e.path,
                "sha256": e.sha256,
                "size": e.size,
                "added_at": e.added_at,
                "meta": dict(e.meta),
            }
            for e in found
        ]

    async def evidence_list(self, case_id: str) -> list[dict[str, Any]]:
        """What a determination lists: every capture and recording with its hash (earlier
        versions of the document itself are not evidence)."""
        return [
            {
                "kind": e["kind"],
                "kind_text": KIND_TEXT.get(e["kind"], e["kind"]),
                "name": e["path"],
                "sha256": e["sha256"],
                "taken_at": e["meta"].get("taken_at") or e["added_at"],
            }
            for e in await self.entries(case_id)
            if e["kind"] != "document"
        ]
