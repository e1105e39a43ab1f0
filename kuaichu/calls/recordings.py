"""After hang-up: the call's recording closed, stored as a row and listed in the case's
signed evidence manifest. Nobody waits for it, but it is owned and awaited at shutdown."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.exc import SQLAlchemyError

from ..errors import KuaichuError
from ..media.recorder import RecordingInfo
from ..storage.db import Database
from ..tasks import TaskOwner
from .model import Call

logger = logging.getLogger(__name__)


class RecordingLedger(Protocol):
    """Appends a file to its case folder's manifest (kuaichu.evidence.ledger.Ledger)."""

    async def record(
        self,
        case_id: str,
        path: Path,
        kind: str,
        sha256: str,
        meta: dict[str, Any] | None = None,
    ) -> None: ...


class Recordings:
    """Finalizes ended calls' media: close, remux, hash, store, list."""

    def __init__(self, db: Database, ledger: RecordingLedger, zone: tzinfo) -> None:
        self.db = db
        self.ledger = ledger
        self.zone = zone
        self._finalizing = TaskOwner("recordings")

    def finish(self, call: Call) -> None:
        """Start finalizing an ended call (closing the recording takes a moment)."""
        self._finalizing.spawn(self._finalize(call), f"finalize:{call.call_id}")

    async def _finalize(self, call: Call) -> None:
        # The call's own tasks were cancelled when it ended; they let go of the media first.
        await call.tasks.close()
        if call.media is None:
            return
        try:
            info: RecordingInfo | None = await call.media.close()
        except Exception:
            # Nothing can be said about a file the recorder could not finish, so nothing is
            # registered; the call itself has ended whatever happens here.
            logger.exception("call %s: could not finalize the recording", call.call_id)
            return
        if info is None:
            return
        try:
            await self.db.add_recording(call.call_id, info)
            await self.db.update_call(call.call_id, video_codec=call.media.video_codec)
        except (SQLAlchemyError, OSError) as exc:
            # The database's disk is full too: the file stays, unregistered and unlisted
            # (``evidence verify`` reports it as added), and nothing claims more.
            logger.error("call %s: could not register the recording: %s", call.call_id, exc)
            return
        meta: dict[str, Any] = {
            "call_id": call.call_id,
            "duration_s": round(info.duration_s, 1),
            "taken_at": datetime.fromtimestamp(info.started_at, self.zone).isoformat(
                timespec="seconds"
            ),
        }
        if info.partial:
            meta["partial"] = True
            meta["failure"] = info.failure
        # The folder the recording was written to (a linked call keeps its first case's
        # folder).
        try:
            await self.ledger.record(
                info.path.parent.name, info.path, "recording", info.sha256, meta
            )
        except (KuaichuError, OSError) as exc:
            # Unlisted, the file is reported by ``evidence verify`` as added: not silent.
            logger.error("call %s: could not list the recording: %s", call.call_id, exc)
        logger.info(
            "call %s: recording %s (%.1f s, sha256 %s%s)",
            call.call_id,
            info.path.name,
            info.duration_s,
            info.sha256[:12],
            f", partial: {info.failure}" if info.partial else "",
        )

    async def close(self) -> None:
        """Wait for every recording being finalized (they are not cut short), then stop."""
        while len(self._finalizing):
            await asyncio.wait(self._finalizing.tasks())
        await self._finalizing.close()
