"""Evidence stills of a case (固定证据): frames the officer captures from the driver's live
video, photos the driver's phone takes on request, the plate proposal for plate captures, and
the officer's damage rectangles and notes.

Each still is stored as a JPEG in the case folder (temp name, then linked into place). Its row
in the ``captures`` table, the audit action in the case's trail and its line in the folder's
signed manifest are one step: one transaction, the manifest appended last inside it, so a
refused step leaves no row, no trail entry and no manifest line (and the JPEG is removed).
Decoding and plate reading run in worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Final, NotRequired, Protocol, TypedDict

import numpy as np
import numpy.typing as npt
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..cases.actions import AuditAction
from ..cases.actors import DRIVER, officer_actor
from ..cases.form import text_problem
from ..cases.plates import parse_plate
from ..cases.states import CHINA_TIME, AuditEntry
from ..errors import InvalidMessage, MessageTooLarge, NotFound
from ..media.frame_capture import Capture
from ..storage.db import Database
from ..storage.tables import captures
from ..threadpriority import enter_background
from .files import write_new
from .kinds import CAPTURE_KINDS
from .ledger import Ledger
from .plate_check import PlateCheck, PlateProposal
from .stills import (
    MAX_STILL_BYTES,
    STILL_DECODES,
    check_still_header,
    decode_rgb,
    jpeg_bytes,
    sniff,
)

logger = logging.getLogger(__name__)

# What a capture's kind may be: the console's buttons (kuaichu.evidence.kinds).
KINDS: Final = CAPTURE_KINDS
MAX_REGIONS: Final = 20
MAX_NOTE: Final = 500


class Reading(Protocol):
    """One plate the reader saw (kuaichu.media.plate_reader.PlateReading)."""

    @property
    def plate(self) -> str: ...

    @property
    def colour(self) -> str: ...

    @property
    def confidence(self) -> float: ...

    @property
    def box(self) -> tuple[int, int, int, int]: ...


class Reader(Protocol):
    """The plate reader (kuaichu.media.plate_reader.PlateReader), as the desk uses it."""

    def read(self, frame: npt.NDArray[Any], *, quick: bool = False) -> Sequence[Reading]: ...


@dataclass(frozen=True)
class CallFacts:
    """What the capture needs to know of the live call (from the call centre)."""

    call_id: str
    case_id: str
    officer_id: int | None  # None: the driver's own photo report (kuaichu.photoreports)
    lat: float | None
    lng: float | None
    recording_started_at: float | None


class PhotoEvidence(TypedDict):
    """What a photo report's still carries beside the JPEG (kuaichu.photoreports): its guided
    shot and the EXIF time and GPS read before the re-encoding dropped every tag."""

    shot: str
    exif_taken_at: float | None
    exif_time: str | None
    exif_lat: float | None
    exif_lng: float | None


class Region(TypedDict):
    """A damage rectangle, in fractions of the image."""

    x: float
    y: float
    w: float
    h: float


class CaptureView(TypedDict):
    """One stored still as the console and the case page get it (a ``captures`` row)."""

    id: int
    case_id: str
    call_id: str
    kind: str
    source: str  # video_frame | phone_still | photo_report
    path: str  # relative to the recordings directory
    sha256: str
    width: int
    height: int
    sharpness: float | None
    captured_at: float
    offset_s: float | None
    lat: float | None
    lng: float | None
    officer_id: int | None
    plate: PlateProposal | None
    regions: list[Region]
    note: str
    url: str
    # Photo reports only (None otherwise): kuaichu.photoreports.
    shot: str | None
    exif_taken_at: float | None
    exif_time: str | None
    exif_lat: float | None
    exif_lng: float | None
    plate_check: NotRequired[PlateCheck]  # added by the callers that know the case form


class CaptureDesk:
    """Stores, lists and annotates the evidence stills of the cases."""

    def __init__(
        self,
        engine: AsyncEngine,
        db: Database,
        ledger: Ledger,
        recordings_dir: Path,
        reader: Reader | None,
        zone: tzinfo = CHINA_TIME,
    ) -> None:
        self.engine = engine
        self.db = db
        self.ledger = ledger
        self.recordings_dir = recordings_dir
        self.reader = reader
        self.zone = zone
        self._decoding = asyncio.Semaphore(STILL_DECODES)

    def folder(self, case_id: str) -> Path:
        """The case's folder under the recordings directory."""
        return self.recordings_dir / case_id

    # -- storing ------------------------------------------------------------------------------

    async def stored_frame(self, facts: CallFacts, capture: Capture) -> CaptureView:
        """A frame :meth:`kuaichu.media.call_media.CallMedia.capture` already wrote: read the
        plate if asked, then record it."""
        plate = None
        if capture.kind == "plate" and self.reader is not None:
            plate = await asyncio.to_thread(self.read_plate_file, capture.path)
        return await self._record(
            facts,
            kind=capture.kind,
            source="video_frame",
            path=capture.path,
            sha256=capture.sha256,
            size=(capture.width, capture.height),
            sharpness=capture.sharpness,
            captured_at=capture.captured_at,
            offset_s=capture.offset_s,
            plate=plate,
        )

    async def phone_still(self, facts: CallFacts, kind: str, data: bytes) -> CaptureView:
        """A photo the driver's phone took on the officer's request, uploaded over the call's
        session. Its header is checked first (type, pixel count), then it is validated by
        decoding it; stored as the phone sent it when it is a JPEG, otherwise re-encoded as
        one (the hash is of the stored file)."""
        if kind not in KINDS:
            raise InvalidMessage(f"kind must be one of {', '.join(KINDS)}", field="kind")
        if len(data) > MAX_STILL_BYTES:
            raise MessageTooLarge(f"a photo may have at most {MAX_STILL_BYTES} bytes")
        if not data:
            raise InvalidMessage("the upload is empty")
        check_still_header(data)
        async with self._decoding:
            rgb = await asyncio.to_thread(decode_rgb, data)
            jpeg = data if sniff(data) == "JPEG" else await asyncio.to_thread(jpeg_bytes, rgb)
        now = time.time()
        stamp = datetime.fromtimestamp(now, self.zone).strftime("%H%M%S")
        name = f"still-{kind}-{stamp}-{secrets.token_hex(2)}.jpg"
        path = self.folder(facts.case_id) / name
        sha = await asyncio.to_thread(write_new, path, jpeg)
        plate = None
        if kind == "plate" and self.reader is not None:
            plate = await asyncio.to_thread(self._read_plate_rgb, rgb)
        offset = now - facts.recording_started_at if facts.recording_started_at else None
        return await self._record(
            facts,
            kind=kind,
            source="phone_still",
            path=path,
            sha256=sha,
            size=(int(rgb.shape[1]), int(rgb.shape[0])),
            sharpness=None,
            captured_at=now,
            offset_s=offset,
            plate=plate,
        )

    @property
    def decoding(self) -> asyncio.Semaphore:
        """Held while a photo is decoded: bounds the memory uploads take, whichever path."""
        return self._decoding

    async def photo_report(
        self,
        facts: CallFacts,
        kind: str,
        jpeg: bytes,
        rgb: npt.NDArray[np.uint8],
        evidence: PhotoEvidence,
    ) -> CaptureView:
        """A photo of a driver's photo report, already checked and re-encoded by
        kuaichu.photoreports.upload (``jpeg`` is what is stored, ``rgb`` its pixels): the
        plate read if it is a plate, then stored and listed like every still."""
        if kind not in KINDS:
            raise InvalidMessage(f"kind must be one of {', '.join(KINDS)}", field="kind")
        now = time.time()
        stamp = datetime.fromtimestamp(now, self.zone).strftime("%H%M%S")
        name = f"photo-{evidence['shot']}-{stamp}-{secrets.token_hex(2)}.jpg"
        path = self.folder(facts.case_id) / name
        sha = await asyncio.to_thread(write_new, path, jpeg)
        plate = None
        if kind == "plate" and self.reader is not None:
            plate = await asyncio.to_thread(self._read_plate_rgb, rgb)
        return await self._record(
            facts,
            kind=kind,
            source="photo_report",
            path=path,
            sha256=sha,
            size=(int(rgb.shape[1]), int(rgb.shape[0])),
            sharpness=None,
            captured_at=now,
            offset_s=None,
            plate=plate,
            evidence=evidence,
        )

    def read_plate_file(self, path: Path, *, quick: bool = False) -> PlateProposal | None:
        """The plate proposal for a stored still; blocking (decodes and reads). ``quick``: the
        reader's cheap stages only (the patrol's frames, which nobody asked for)."""
        return self._read_plate_rgb(decode_rgb(path.read_bytes()), quick=quick)

    def _read_plate_rgb(
        self, rgb: npt.NDArray[np.uint8], *, quick: bool = False
    ) -> PlateProposal | None:
        assert self.reader is not None
        enter_background()  # a worker thread, maybe new: below the loop from its first frame
        try:
            readings = self.reader.read(rgb, quick=quick)
        except Exception:  # the proposal is a help; its failure must not lose the still
            logger.exception("plate reading failed")
            return None
        if not readings:
            return None
        best = readings[0]
        return {
            "plate": parse_plate(best.plate).canonical,
            "colour": best.colour,
            "confidence": round(float(best.confidence), 3),
            "box": list(best.box),
            # Issue 11: an unsure reading is offered as such, with what else it may be.
            "sure": bool(getattr(best, "sure", True)),
            "alternatives": list(getattr(best, "alternatives", ())),
        }

    async def _record(
        self,
        facts: CallFacts,
        *,
        kind: str,
        source: str,
        path: Path,
        sha256: str,
        size: tuple[int, int],
        sharpness: float | None,
        captured_at: float,
        offset_s: float | None,
        plate: PlateProposal | None,
        evidence: PhotoEvidence | None = None,
    ) -> CaptureView:
        """The row, the trail's action and the manifest line, in one transaction."""
        rel = path.relative_to(self.recordings_dir).as_posix()
        taken = datetime.fromtimestamp(captured_at, self.zone).isoformat(timespec="seconds")
        capture_id = 0
        listed = False

        async def insert_row(conn: AsyncConnection) -> Mapping[str, Any]:
            nonlocal capture_id
            result = await conn.execute(
                insert(captures).values(
                    case_id=facts.case_id,
                    call_id=facts.call_id,
                    kind=kind,
                    source=source,
                    path=rel,
                    sha256=sha256,
                    width=size[0],
                    height=size[1],
                    sharpness=sharpness,
                    captured_at=captured_at,
                    offset_s=offset_s,
                    lat=facts.lat,
                    lng=facts.lng,
                    officer_id=facts.officer_id,
                    plate=json.dumps(plate, ensure_ascii=False) if plate else None,
                    regions="[]",
                    note="",
                    **(dict(evidence) if evidence else {}),
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            capture_id = int(key[0])
            return {"capture_id": capture_id}

        async def list_in_manifest(_conn: AsyncConnection, _entry: AuditEntry) -> None:
            # Last in the transaction: the only write a rollback cannot undo. Should the
            # commit itself fail after this, the still stays listed (and on disk) without
            # a row, which the folder's verification accepts.
            nonlocal listed
            await asyncio.to_thread(
                self.ledger.append,
                path.parent.name,
                path,
                "phone_still" if source in ("phone_still", "photo_report") else kind,
                sha256,
                {"kind": kind, "capture_id": capture_id, "taken_at": taken},
            )
            listed = True

        try:
            await self.db.case_action(
                facts.case_id,
                AuditAction.EVIDENCE_CAPTURED,
                DRIVER if facts.officer_id is None else officer_actor(facts.officer_id),
                datetime.now(self.zone),
                {"kind": kind, "source": source, "sha256": sha256},
                zone=self.zone,
                before=insert_row,
                extra=list_in_manifest,
            )
        except Exception:
            if not listed:
                # Not evidence after all: an unlisted file would show as "added" when the
                # folder is verified.
                with contextlib.suppress(OSError):
                    await asyncio.to_thread(path.unlink)
            raise
        logger.info("call %s: %s %s stored (%s)", facts.call_id, source, kind, sha256[:12])
        return await self.get(capture_id)

    # -- reading and annotating ---------------------------------------------------------------

    async def get(self, capture_id: int) -> CaptureView:
        """One stored still; NotFound when there is none."""
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(captures).where(captures.c.id == capture_id)))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound("no such capture")
        return _view(row)

    async def for_case(self, case_id: str) -> list[CaptureView]:
        """Every still of a case, oldest first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(captures).where(captures.c.case_id == case_id).order_by(captures.c.id)
            )
            return [_view(r) for r in rows.mappings()]

    def file(self, view: Mapping[str, Any]) -> Path:
        """The JPEG of a still."""
        return self.recordings_dir / str(view["path"])

    async def annotate(
        self, capture_id: int, officer_id: int, regions: object, note: object
    ) -> CaptureView:
        """Damage rectangles (fractions of the image, so they survive any display size) and a
        note. The JPEG is never touched; the annotation and its trail entry are one
        transaction."""
        view = await self.get(capture_id)
        boxes = _regions(regions)
        if not isinstance(note, str) or len(note) > MAX_NOTE:
            raise InvalidMessage(f"note must be text of at most {MAX_NOTE} characters")
        problem = text_problem(note)
        if problem:
            raise InvalidMessage(f"note {problem}", field="note")
        text = note.strip()

        async def write(conn: AsyncConnection, _entry: AuditEntry) -> None:
            await conn.execute(
                update(captures)
                .where(captures.c.id == capture_id)
                .values(regions=json.dumps(boxes), note=text)
            )

        await self.db.case_action(
            view["case_id"],
            AuditAction.EVIDENCE_ANNOTATED,
            officer_actor(officer_id),
            datetime.now(self.zone),
            {"capture_id": capture_id, "regions": len(boxes), "note": bool(text)},
            zone=self.zone,
            extra=write,
        )
        return await self.get(capture_id)


def _regions(raw: object) -> list[Region]:
    if not isinstance(raw, list) or len(raw) > MAX_REGIONS:
        raise InvalidMessage(f"regions must be a list of at most {MAX_REGIONS} rectangles")
    out: list[Region] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) != {"x", "y", "w", "h"}:
            raise InvalidMessage(f"regions[{i}] must be {{x, y, w, h}}", field=f"regions[{i}]")
        values = {}
        for name in ("x", "y", "w", "h"):
            value = item[name]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidMessage(f"regions[{i}].{name} must be a number")
            if not 0 <= value <= 1:
                raise InvalidMessage(f"regions[{i}].{name} must be a fraction between 0 and 1")
            values[name] = round(float(value), 4)
        if values["x"] + values["w"] > 1.0001 or values["y"] + values["h"] > 1.0001:
            raise InvalidMessage(f"regions[{i}] reaches outside the image")
        if values["w"] == 0 or values["h"] == 0:
            raise InvalidMessage(f"regions[{i}] is empty")
        out.append(Region(x=values["x"], y=values["y"], w=values["w"], h=values["h"]))
    return out


def _view(row: Any) -> CaptureView:
    return {
        "id": row["id"],
        "case_id": row["case_id"],
        "call_id": row["call_id"],
        "kind": row["kind"],
        "source": row["source"],
        "path": row["path"],
        "sha256": row["sha256"],
        "width": row["width"],
        "height": row["height"],
        "sharpness": row["sharpness"],
        "captured_at": row["captured_at"],
        "offset_s": row["offset_s"],
        "lat": row["lat"],
        "lng": row["lng"],
        "officer_id": row["officer_id"],
        "plate": json.loads(row["plate"]) if row["plate"] else None,
        "regions": json.loads(row["regions"] or "[]"),
        "note": row["note"] or "",
        "url": f"/api/captures/{row['id']}.jpg",
        "shot": row["shot"],
        "exif_taken_at": row["exif_taken_at"],
        "exif_time": row["exif_time"],
        "exif_lat": row["exif_lat"],
        "exif_lng": row["exif_lng"],
    }
