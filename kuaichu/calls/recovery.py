"""Start-up recovery: what a process that died (SIGKILL, power loss) left half done.

Runs once, before the call centre accepts calls (``app.py``'s ``recovery`` context):

1. **Recordings.** A live Matroska (``<call>.live.mkv``) is decodable up to the kill; it is
   finalized as the recorder would have (remux to MP4, else Matroska), measured from the
   file, hashed, stored as the call's recording row and listed in its case folder's signed
   manifest. A final file that was made but never registered is registered; a temporary
   ``.<name>.part`` of an interrupted remux is removed.
2. **Calls.** Every call left ``waiting``/``connecting``/``in_call``/``reconnecting`` ends as
   ``interrupted``, in the same transaction as its case's trail entry:
3. **Cases.** A case nobody had answered (``reported``/``queued``) is ``abandon``ed by the
   system with ``reason: interrupted`` and its caller gets the "call interrupted" SMS (with
   the progress link) if the form has a phone number. A case that was answered keeps its
   state (``in_call`` and beyond: where the officer continues the case, as after any hang-up)
   and gets a ``call_ended`` action with ``reason: interrupted``. Rule: docs/cases.md.

Idempotent: a second start finds no open call and no unregistered file, and does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Final

import av
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..cases.actions import AuditAction
from ..cases.actors import SYSTEM
from ..cases.states import AuditEntry, CaseEvent, CaseState
from ..errors import KuaichuError
from ..media.recorder import RecordingInfo
from ..media.recording_file import finalize_live, probe_duration, sha256_of
from ..storage.db import Database
from ..storage.tables import calls, cases, recordings
from .ids import CALL_ID_RE
from .model import CallState
from .ports import Bell, InterruptNotice
from .recordings import RecordingLedger

logger = logging.getLogger(__name__)

# The end reason of a call the process died in (calls.end_reason, the trail's detail).
INTERRUPTED: Final = "interrupted"
OPEN_STATES: Final = (
    CallState.WAITING,
    CallState.CONNECTING,
    CallState.IN_CALL,
    CallState.RECONNECTING,
)
LIVE_SUFFIX: Final = ".live.mkv"
FINAL_SUFFIXES: Final = (".mp4", ".mkv")


@dataclass
class RecoveryReport:
    """What one recovery did (empty on a clean start)."""

    recordings: list[str] = field(default_factory=list)  # call ids
    interrupted: list[str] = field(default_factory=list)  # call ids
    abandoned: list[str] = field(default_factory=list)  # case ids

    def __bool__(self) -> bool:
        return bool(self.recordings or self.interrupted or self.abandoned)


@dataclass(frozen=True)
class _OpenCall:
    call_id: str
    case_id: str
    state: str
    officer_id: int | None
    case_state: CaseState


class Recovery:
    """Finishes what a dead process left: recordings, calls, waiting cases."""

    def __init__(
        self,
        db: Database,
        ledger: RecordingLedger,
        notice: InterruptNotice,
        bell: Bell,
        *,
        recordings_dir: Path,
        zone: tzinfo,
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.notice = notice
        self.bell = bell
        self.recordings_dir = recordings_dir
        self.zone = zone

    async def run(self) -> RecoveryReport:
        """Recover everything; safe to run on every start."""
        report = RecoveryReport()
        ended_at = await self._recordings(report)
        await self._calls(report, ended_at)
        if report.abandoned:
            self.bell.ring()
        if report:
            logger.warning(
                "recovered after an unclean stop: %d recording(s), %d call(s) interrupted, "
                "%d waiting case(s) abandoned",
                len(report.recordings),
                len(report.interrupted),
                len(report.abandoned),
            )
        return report

    # -- recordings ---------------------------------------------------------------------------

    async def _recordings(self, report: RecoveryReport) -> dict[str, float]:
        """Finalize and register every recording file no row points at; the end time of each
        (the live file's last write: about the moment of the kill) by call id."""
        found = await asyncio.to_thread(_scan, self.recordings_dir)
        if not found:
            return {}
        async with self.db.engine.connect() as conn:
            known = set(
                (await conn.execute(select(calls.c.id).where(calls.c.id.in_(list(found)))))
                .scalars()
                .all()
            )
            registered = set(
                (
                    await conn.execute(
                        select(recordings.c.call_id).where(recordings.c.call_id.in_(list(found)))
                    )
                )
                .scalars()
                .all()
            )
        ended: dict[str, float] = {}
        for call_id, paths in sorted(found.items()):
            if call_id not in known or call_id in registered:
                continue
            try:
                info = await asyncio.to_thread(_finish_file, call_id, paths)
            except (OSError, av.FFmpegError, ValueError):
                logger.exception("call %s: the recording left by the crash cannot be read", call_id)
                continue
            if info is None:
                continue
            await self._register(call_id, info)
            ended[call_id] = info.ended_at
            report.recordings.append(call_id)
        return ended

    async def _register(self, call_id: str, info: RecordingInfo) -> None:
        await self.db.add_recording(call_id, info)
        try:
            await self.ledger.record(
                info.path.parent.name,
                info.path,
                "recording",
                info.sha256,
                {
                    "call_id": call_id,
                    "duration_s": round(info.duration_s, 1),
                    "taken_at": datetime.fromtimestamp(info.started_at, self.zone).isoformat(
                        timespec="seconds"
                    ),
                    "partial": INTERRUPTED,
                },
            )
        except (KuaichuError, OSError):
            logger.exception("call %s: could not list the recovered recording", call_id)
        logger.info(
            "call %s: recovered recording %s (%.1f s, sha256 %s)",
            call_id,
            info.path.name,
            info.duration_s,
            info.sha256[:12],
        )

    # -- calls and cases ----------------------------------------------------------------------

    async def _calls(self, report: RecoveryReport, ended_at: Mapping[str, float]) -> None:
        async with self.db.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        calls.c.id,
                        calls.c.case_id,
                        calls.c.state,
                        calls.c.officer_id,
                        cases.c.status,
                    )
                    .join(cases, cases.c.id == calls.c.case_id)
                    .where(calls.c.state.in_([s.value for s in OPEN_STATES]))
                    .order_by(calls.c.queued_at)
                )
            ).all()
        for row in rows:
            call = _OpenCall(row[0], row[1], row[2], row[3], CaseState(row[4]))
            try:
                await self._interrupt(call, ended_at.get(call.call_id, time.time()), report)
            except KuaichuError:
                logger.exception("call %s: could not close it as interrupted", call.call_id)

    async def _interrupt(self, call: _OpenCall, ended_at: float, report: RecoveryReport) -> None:
        detail: dict[str, Any] = {"call_id": call.call_id, "reason": INTERRUPTED}

        async def close_call(conn: AsyncConnection, _entry: AuditEntry | None = None) -> None:
            await conn.execute(
                update(calls)
                .where(calls.c.id == call.call_id)
                .values(state=CallState.ENDED, ended_at=ended_at, end_reason=INTERRUPTED)
            )

        async def abandon(conn: AsyncConnection, entry: AuditEntry) -> None:
            await close_call(conn, entry)
            await self.notice.call_interrupted(conn, call.case_id, call.call_id)

        # Re-read the state: an earlier call of the same case (linked reports) may have
        # moved it meanwhile.
        state = await self._case_state(call.case_id)
        now = datetime.now(self.zone)
        if state in (CaseState.REPORTED, CaseState.QUEUED):
            await self.db.case_event(
                call.case_id, CaseEvent.ABANDON, SYSTEM, now, detail, zone=self.zone, extra=abandon
            )
            report.abandoned.append(call.case_id)
        elif not state.terminal:
            await self.db.case_action(
                call.case_id,
                AuditAction.CALL_ENDED,
                SYSTEM,
                now,
                detail,
                zone=self.zone,
                extra=close_call,
            )
        else:
            async with self.db.engine.begin() as conn:
                await close_call(conn)
        await self.db.log_event(
            "call_ended", call.call_id, call.officer_id, reason=INTERRUPTED, previous=call.state
        )
        report.interrupted.append(call.call_id)
        logger.info(
            "call %s: closed as interrupted (was %s; case %s %s)",
            call.call_id,
            call.state,
            call.case_id,
            state,
        )

    async def _case_state(self, case_id: str) -> CaseState:
        async with self.db.engine.connect() as conn:
            status = (
                await conn.execute(select(cases.c.status).where(cases.c.id == case_id))
            ).scalar_one()
        return CaseState(status)


# -- files (blocking: run in a thread) -----------------------------------------------------------


def _scan(recordings_dir: Path) -> dict[str, list[Path]]:
    """Recording files by call id in every case folder; stale remux temporaries removed."""
    found: dict[str, list[Path]] = {}
    if not recordings_dir.is_dir():
        return found
    for folder in sorted(recordings_dir.iterdir()):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            name = path.name
            if name.startswith("."):
                if name.endswith(".part") and _call_id_of(name[1:-5]) is not None:
                    # A remux the kill interrupted: the live file it was made from is still
                    # there and is finalized again.
                    logger.info("removing the unfinished remux %s", path)
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                continue
            call_id = _call_id_of(name)
            if call_id is not None:
                found.setdefault(call_id, []).append(path)
    return found


def _call_id_of(name: str) -> str | None:
    for suffix in (LIVE_SUFFIX, *FINAL_SUFFIXES):
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            return stem if CALL_ID_RE.fullmatch(stem) else None
    return None


def _finish_file(call_id: str, paths: list[Path]) -> RecordingInfo | None:
    """Finalize (if still live), measure and hash one call's recording file."""
    live = [p for p in paths if p.name.endswith(LIVE_SUFFIX)]
    final = [p for p in paths if not p.name.endswith(LIVE_SUFFIX)]
    source = live[0] if live else final[0]
    # The live file's last write is about when the process died.
    ended_at = source.stat().st_mtime
    if final:
        # The remux finished but the live file was not yet removed, or the row not written.
        path = final[0]
        for stale in live:
            stale.unlink()
    else:
        if source.stat().st_size == 0:
            logger.info("call %s: empty live recording removed", call_id)
            source.unlink()
            return None
        path, _remuxed = finalize_live(source, call_id)
    duration = probe_duration(path) or 0.0
    digest, size = sha256_of(path)
    return RecordingInfo(
        path=path,
        sha256=digest,
        size_bytes=size,
        duration_s=round(duration, 3),
        started_at=ended_at - duration,
        ended_at=ended_at,
        streams=_streams(path),
        partial=True,
        failure=INTERRUPTED,
    )


def _streams(path: Path) -> list[str]:
    """The recording's streams as the recorder names them (``video:h264``, ``audio:opus``)."""
    with av.open(str(path)) as container:
        return [
            f"{s.type}:{s.codec_context.name}"
            for s in container.streams
            if s.type in ("video", "audio")
        ]
