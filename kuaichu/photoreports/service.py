"""The photo reports: when the photo path is offered, a report with its guided shots, the
"leave the scene" that follows at once, and the officers' photo queue.

The case is an ordinary case (kuaichu.casework works it once an officer took it): the report
writes the case, its trail's ``report`` entry, the initial form (the reporter is party A with
the mobile number the page asked for) and the reporter's progress link, plus one ``calls`` row
in the state ``photo``, which makes the case the taking officer's
(kuaichu.casework.context.CaseContext.authorize) like an answered call. Photos are stills
stored by :class:`kuaichu.evidence.captures.CaptureDesk` (the case folder, the signed
manifest, the trail); the check and re-encoding are :mod:`.upload`'s, in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import time
from datetime import datetime, tzinfo
from typing import Any, Final

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..accounts.model import Officer
from ..calls.ids import new_call_id
from ..cases.actions import AuditAction
from ..cases.actors import DRIVER, SYSTEM, officer_actor
from ..cases.eligibility import EligibilityAnswers, GeoPoint, ServiceRules, check_eligibility
from ..cases.form import initial_form
from ..cases.ids import new_case_id
from ..cases.states import CHINA_TIME, AuditEntry, CaseEvent, apply
from ..casework.context import CaseContext
from ..errors import Conflict, Forbidden, InvalidMessage, NotAuthenticated, NotFound
from ..evidence.captures import CallFacts, CaptureDesk, CaptureView, PhotoEvidence
from ..notify import Template
from ..queue import Dispatcher, OfficerStatus
from ..signaling.schemas import Location
from ..storage.db import Database
from ..storage.tables import calls, captures, cases, photo_reports
from .callbacks import VideoCallbacks
from .model import (
    PAGE_REASONS,
    SHOTS,
    NewReport,
    NoVideo,
    PhotoConfig,
    QueueItem,
    Shot,
    Status,
    no_video_reasons,
)
from .upload import check_photo

logger = logging.getLogger(__name__)

TOKEN_BYTES: Final = 24
_TOKEN: Final = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _require_collecting(row: dict[str, Any]) -> None:
    """Photos and the "send" are taken only while the report collects them."""
    if row["status"] == Status.EXPIRED:
        raise Conflict(
            "this photo report was not sent in time and is void; please report again",
            reason="expired",
        )
    if row["status"] != Status.COLLECTING:
        raise Conflict("the photos of this report were sent already", reason="submitted")


class PhotoReports:
    """Photo reports from the driver page to the officer who takes one."""

    def __init__(
        self,
        engine: AsyncEngine,
        db: Database,
        ctx: CaseContext,
        desk: CaptureDesk,
        dispatcher: Dispatcher,
        rules: ServiceRules,
        config: PhotoConfig,
        callbacks: VideoCallbacks,
        zone: tzinfo = CHINA_TIME,
    ) -> None:
        self.engine = engine
        self.db = db
        self.ctx = ctx
        self.desk = desk
        self.dispatcher = dispatcher
        self.rules = rules
        self.config = config
        self.callbacks = callbacks
        self.zone = zone

    # -- is video possible? ---------------------------------------------------------------

    def no_video(self, at: datetime) -> list[NoVideo]:
        """The server's reasons why a video call cannot be taken now (none: video works)."""
        summary = self.dispatcher.summary()
        on_shift = sum(
            1
            for p in self.dispatcher.officers().values()
            if p.status not in (OfficerStatus.OFFLINE, OfficerStatus.BREAK)
        )
        return no_video_reasons(
            at,
            self.rules,
            self.config,
            on_shift=on_shift,
            waiting=int(summary["waiting"]),
            longest_wait_s=float(summary["longest_wait_s"]),
        )

    def availability(self) -> dict[str, Any]:
        """What the driver page asks before offering the photo path."""
        reasons = self.no_video(self.ctx.now())
        return {
            "photo_channel": self.config.enabled,
            "video": not reasons,
            "reasons": [r.value for r in reasons],
            "max_wait_s": self.config.max_wait_seconds,
            "shots": list(SHOTS),
        }

    # -- the driver ------------------------------------------------------------------------

    async def report(
        self,
        answers: EligibilityAnswers,
        location: Location | None,
        phone: str,
        claimed: str | None,
    ) -> NewReport:
        """A new photo report: only while video is not possible (the server's reasons, or the
        page's own: its network, its wait), only for an accident the video channel would
        take but for its hours (the same answers, the same area)."""
        if not self.config.enabled:
            raise Forbidden("the photo channel is not offered here", reason="photo_disabled")
        at = self.ctx.now()
        reasons = self.no_video(at)
        if claimed is not None:
            if claimed not in PAGE_REASONS:
                raise InvalidMessage(
                    "reason must be poor_network or wait_too_long", field="reason"
                )
            reasons.append(NoVideo(claimed))
        if not reasons:
            raise Conflict(
                "an officer can take a video call now; report by video",
                reason="video_available",
            )
        point = GeoPoint(lon=location.lng, lat=location.lat) if location else None
        # The hours are what the photo channel is for; every other rule holds.
        rules = ServiceRules(
            hours=None, area=self.rules.area, require_location=self.rules.require_location
        )
        check_eligibility(answers, at=at, location=point, rules=rules).require()
        now = at.timestamp()
        case_id = new_case_id(now)
        call_id = new_call_id()
        token = secrets.token_urlsafe(TOKEN_BYTES)
        loc = location.as_dict() if location else None
        detail = {
            "call_id": call_id,
            "channel": "photo",
            "reason": reasons[0].value,
            "cause": answers.cause.value if answers.cause else "other",
        }
        entry = apply([], CaseEvent.REPORT, DRIVER, at, detail, zone=self.zone)
        progress = ""
        store = self.ctx.store

        async def write(conn: AsyncConnection, _entry: AuditEntry) -> None:
            nonlocal progress
            await conn.execute(
                update(calls).where(calls.c.id == call_id).values(state="photo")
            )
            lat, lng = (loc["lat"], loc["lng"]) if loc else (None, None)
            form = initial_form(phone, answers.cause, at, lat, lng)
            await store.write_form(conn, case_id, 0, form, DRIVER)
            progress = await store.new_link(conn, case_id, "A", phone)
            await conn.execute(
                insert(photo_reports).values(
                    case_id=case_id,
                    call_id=call_id,
                    token_hash=_hash(token),
                    status=Status.COLLECTING,
                    reason=reasons[0].value,
                    created_at=now,
                )
            )

        await self.db.create_case_and_call(case_id, call_id, now, loc, phone, entry, extra=write)
        logger.info("photo report %s: case %s (%s)", call_id, case_id, reasons[0].value)
        return NewReport(call_id, case_id, token, progress)

    async def _own(self, call_id: str, token: str) -> dict[str, Any]:
        """The report behind the page's token (401 for a wrong one, 404 unknown)."""
        if not _TOKEN.match(token):
            raise NotAuthenticated("the report's token is missing")
        async with self.engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(photo_reports, calls.c.lat, calls.c.lng)
                        .join(calls, calls.c.id == photo_reports.c.call_id)
                        .where(photo_reports.c.call_id == call_id)
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound("no such photo report")
        if not secrets.compare_digest(row["token_hash"], _hash(token)):
            raise NotAuthenticated("not this report's token")
        return dict(row)

    def check_upload(self, shot: str) -> Shot:
        """Before the body is read: the shot is one the page asks for."""
        try:
            return Shot(shot)
        except ValueError:
            raise NotFound(f"no such shot (one of {', '.join(SHOTS)})") from None

    async def authorize_upload(self, call_id: str, token: str) -> None:
        """Before the body is read: a report of this token, still taking photos."""
        row = await self._own(call_id, token)
        _require_collecting(row)

    async def photo(self, call_id: str, token: str, shot: Shot, data: bytes) -> CaptureView:
        """One guided shot: checked and re-encoded in a thread, then stored as evidence. A
        second photo of the same shot (a retake) is stored too; the newest counts."""
        row = await self._own(call_id, token)
        _require_collecting(row)
        async with self.desk.decoding:
            checked = await asyncio.to_thread(check_photo, data, self.zone)
        meta = checked.meta
        facts = CallFacts(
            call_id=call_id,
            case_id=row["case_id"],
            officer_id=None,
            lat=row["lat"],
            lng=row["lng"],
            recording_started_at=None,
        )
        evidence = PhotoEvidence(
            shot=shot.value,
            exif_taken_at=meta.taken_at,
            exif_time=meta.time_text,
            exif_lat=meta.lat,
            exif_lng=meta.lng,
        )
        return await self.desk.photo_report(facts, shot.kind, checked.jpeg, checked.rgb, evidence)

    async def shots(self, case_id: str) -> dict[str, CaptureView]:
        """The newest photo of each shot taken so far."""
        newest: dict[str, CaptureView] = {}
        for view in await self.desk.for_case(case_id):
            if view["source"] == "photo_report" and view["shot"]:
                newest[view["shot"]] = view
        return newest

    async def submit(self, call_id: str, token: str) -> dict[str, Any]:
        """Every shot is in: the evidence is fixed (collect_evidence, by the driver) and the
        scene cleared at once (clear_scene, with the leave-the-scene SMS and its progress
        link to every party with a number), and the report joins the officers' queue."""
        row = await self._own(call_id, token)
        _require_collecting(row)
        case_id = row["case_id"]
        have = await self.shots(case_id)
        missing = [s for s in SHOTS if s not in have]
        if missing:
            raise Conflict(
                "photos missing: " + ", ".join(missing), reason="photos_missing", missing=missing
            )
        ctx = self.ctx
        now = time.time()

        async def queue(conn: AsyncConnection, _entry: AuditEntry) -> None:
            done = await conn.execute(
                update(photo_reports)
                .where(
                    photo_reports.c.case_id == case_id,
                    photo_reports.c.status == Status.COLLECTING,
                )
                .values(status=Status.WAITING, submitted_at=now)
            )
            if done.rowcount != 1:
                raise Conflict("the photos of this report were sent already", reason="submitted")

        await ctx.event(
            case_id,
            CaseEvent.COLLECT_EVIDENCE,
            DRIVER,
            {"channel": "photo", "photos": [have[s]["id"] for s in SHOTS]},
            extra=queue,
        )
        stored = await ctx.store.form(case_id)

        async def sms(conn: AsyncConnection, _entry: AuditEntry) -> None:
            for party in stored.form.parties:
                await ctx.notify(conn, case_id, party, Template.LEAVE_SCENE, "1")

        await ctx.event(case_id, CaseEvent.CLEAR_SCENE, SYSTEM, {"channel": "photo"}, extra=sms)
        logger.info("photo report %s: photos sent, case %s waits for an officer", call_id, case_id)
        return {"case_id": case_id, "at": ctx.now().isoformat(), "status": Status.WAITING.value}

    async def expire_drafts(self, now: float) -> list[str]:
        """Void the reports started before ``now - draft_expire_seconds`` whose photos were
        never sent: the case is abandoned (trail: by the system, with the photos it had,
        which stay as evidence) and the reporter gets an SMS that the report was not sent
        and how to report again. Such a report is nobody's work otherwise: it is not in the
        officers' queue (no "leave the scene" was given, the driver may still be at the
        scene), and an officer cannot work a case without its photos. Returns the cases."""
        if self.config.draft_expire_seconds <= 0:
            return []
        cutoff = now - self.config.draft_expire_seconds
        photos = (
            select(func.count())
            .where(captures.c.case_id == photo_reports.c.case_id)
            .where(captures.c.source == "photo_report")
            .scalar_subquery()
        )
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(photo_reports.c.case_id, photos.label("photos"))
                    .where(
                        photo_reports.c.status == Status.COLLECTING,
                        photo_reports.c.created_at <= cutoff,
                    )
                    .order_by(photo_reports.c.created_at)
                    .limit(200)
                )
            ).all()
        expired: list[str] = []
        for case_id, count in rows:
            try:
                await self._expire(case_id, int(count))
            except Conflict:
                continue  # sent (or expired) in the meantime: the update below found nothing
            expired.append(case_id)
        return expired

    async def _expire(self, case_id: str, photos: int) -> None:
        ctx = self.ctx
        stored = await ctx.store.form(case_id)

        async def void(conn: AsyncConnection, _entry: AuditEntry) -> None:
            done = await conn.execute(
                update(photo_reports)
                .where(
                    photo_reports.c.case_id == case_id,
                    photo_reports.c.status == Status.COLLECTING,
                )
                .values(status=Status.EXPIRED, submitted_at=None)
            )
            if done.rowcount != 1:
                raise Conflict("the report is no longer collecting photos", reason="submitted")
            for party in stored.form.parties:
                if party.reporter:
                    await ctx.notify(conn, case_id, party, Template.PHOTO_NOT_SENT, "1")

        await ctx.event(
            case_id,
            CaseEvent.ABANDON,
            SYSTEM,
            {"channel": "photo", "reason": "photos_not_sent", "photos": photos},
            extra=void,
        )
        logger.info("photo report of case %s not sent in time (%d photos): void", case_id, photos)

    # -- the officers ----------------------------------------------------------------------

    async def queue(self, officer: Officer) -> list[QueueItem]:
        """The reports waiting for an officer, oldest first, then the ones this officer took
        and has not yet determined (a supervisor sees every taken one)."""
        now = time.time()
        photos = (
            select(captures.c.case_id, func.count().label("n"))
            .where(captures.c.source == "photo_report")
            .group_by(captures.c.case_id)
            .subquery()
        )
        query = (
            select(photo_reports, func.coalesce(photos.c.n, 0).label("photos"))
            .outerjoin(photos, photos.c.case_id == photo_reports.c.case_id)
            .where(photo_reports.c.status.in_([Status.WAITING, Status.TAKEN]))
            .order_by(photo_reports.c.submitted_at)
            .limit(200)
        )
        query = query.join(cases, cases.c.id == photo_reports.c.case_id).where(
            cases.c.status.in_(["evidence_collected", "scene_cleared"])
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        out: list[QueueItem] = []
        for r in rows:
            if r["status"] == Status.TAKEN and not (
                officer.is_supervisor or r["taken_by"] == officer.id
            ):
                continue
            since = r["submitted_at"] or r["created_at"]
            out.append(
                QueueItem(
                    case_id=r["case_id"],
                    status=r["status"],
                    reason=r["reason"],
                    submitted_at=r["submitted_at"],
                    age_s=max(0, int(now - since)),
                    photos=int(r["photos"]),
                    taken_by=r["taken_by"],
                )
            )
        return out

    async def take(self, officer: Officer, case_id: str) -> dict[str, Any]:
        """The officer takes a waiting report: the case becomes theirs (the report's call
        row gets them as its officer), in one transaction with the trail's entry. Two
        officers taking the same report: one wins, the other gets 409."""
        now = time.time()
        async with self.engine.connect() as conn:
            call_id = await conn.scalar(
                select(photo_reports.c.call_id).where(photo_reports.c.case_id == case_id)
            )
        if call_id is None:
            raise NotFound("no such photo report")

        async def write(conn: AsyncConnection, _entry: AuditEntry) -> None:
            done = await conn.execute(
                update(photo_reports)
                .where(
                    photo_reports.c.case_id == case_id,
                    photo_reports.c.status == Status.WAITING,
                )
                .values(status=Status.TAKEN, taken_by=officer.id, taken_at=now)
            )
            if done.rowcount != 1:
                raise Conflict("this report is not waiting (taken already?)", reason="not_waiting")
            await conn.execute(
                update(calls)
                .where(calls.c.id == call_id)
                .values(officer_id=officer.id, answered_at=now)
            )

        await self.ctx.action(
            case_id,
            AuditAction.CALL_ANSWERED,
            officer_actor(officer.id),
            {"call_id": call_id, "channel": "photo"},
            extra=write,
        )
        logger.info("photo report of case %s taken by officer %s", case_id, officer.id)
        return {"case_id": case_id, "url": f"/cases/{case_id}"}

    async def callback(self, officer: Officer, case_id: str) -> dict[str, Any]:
        """The officer working the report calls its driver back by video (an SMS link)."""
        return await self.callbacks.send(officer, case_id)
