"""Evidence stills of a case (固定证据): frames the officer captures from the driver's live
video, photos the driver's phone takes on request, the plate proposal for plate captures, and
the officer's damage rectangles and notes.

Each still is stored as a JPEG in the case folder (temp name, then linked into place), with
its SHA-256 in the ``captures`` table and in the folder's signed manifest, and an audit
action in the case's trail. Decoding and plate reading run in worker threads.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Final, Protocol

import av
import numpy as np
import numpy.typing as npt
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from .cases.plates import parse_plate
from .cases.states import CHINA_TIME
from .errors import InvalidMessage, MessageTooLarge, NotFound
from .storage.db import Database
from .storage.files import write_new
from .storage.ledger import Ledger
from .storage.tables import captures

logger = logging.getLogger(__name__)

# The console's buttons: plate, damage, vehicle/scene, parties side by side (并排同框),
# licence or document held to the camera.
KINDS: Final = ("plate", "damage", "scene", "parties", "licence")
MAX_STILL_BYTES: Final = 8 * 1024 * 1024
MAX_STILL_PIXELS: Final = 50_000_000
MAX_REGIONS: Final = 20
MAX_NOTE: Final = 500


class Reader(Protocol):
    def read(self, frame: npt.NDArray[Any]) -> list[Any]: ...


@dataclass(frozen=True)
class CallFacts:
    """What the capture needs to know of the live call (from the call centre)."""

    call_id: str
    case_id: str
    officer_id: int
    lat: float | None
    lng: float | None
    recording_started_at: float | None


def _decode_rgb(data: bytes) -> npt.NDArray[np.uint8]:
    """Decode one still (JPEG, PNG, WebP) with PyAV; anything else is not an image."""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = container.streams.video[0]
            if stream.codec_context.name not in ("mjpeg", "png", "webp"):
                raise InvalidMessage("the upload must be a JPEG, PNG or WebP photo")
            for frame in container.decode(stream):
                if frame.width * frame.height > MAX_STILL_PIXELS:
                    raise InvalidMessage("the photo has too many pixels")
                rgb: npt.NDArray[np.uint8] = np.asarray(frame.to_ndarray(format="rgb24"))
                return rgb
    except (av.error.FFmpegError, IndexError, ValueError):
        pass
    raise InvalidMessage("the upload is not a readable image")


def _jpeg_bytes(rgb: npt.NDArray[np.uint8]) -> bytes:
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height = frame.width, frame.height
    codec.pix_fmt = "yuvj420p"
    codec.options = {"q:v": "2"}
    packets = codec.encode(frame.reformat(format="yuvj420p")) + codec.encode(None)
    return b"".join(bytes(p) for p in packets)


class CaptureDesk:
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

    def folder(self, case_id: str) -> Path:
        return self.recordings_dir / case_id

    # -- storing ------------------------------------------------------------------------------

    async def stored_frame(self, facts: CallFacts, capture: Any) -> dict[str, Any]:
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

    async def phone_still(self, facts: CallFacts, kind: str, data: bytes) -> dict[str, Any]:
        """A photo the driver's phone took on the officer's request, uploaded over the call's
        session. Validated by decoding it; stored as the phone sent it when it is a JPEG,
        otherwise re-encoded as one (the hash is of the stored file)."""
        if kind not in KINDS:
            raise InvalidMessage(f"kind must be one of {', '.join(KINDS)}", field="kind")
        if len(data) > MAX_STILL_BYTES:
            raise MessageTooLarge(f"a photo may have at most {MAX_STILL_BYTES} bytes")
        if not data:
            raise InvalidMessage("the upload is empty")
        rgb = await asyncio.to_thread(_decode_rgb, data)
        jpeg = data if data[:3] == b"\xff\xd8\xff" else await asyncio.to_thread(_jpeg_bytes, rgb)
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

    def read_plate_file(self, path: Path) -> dict[str, Any] | None:
        return self._read_plate_rgb(_decode_rgb(path.read_bytes()))

    def _read_plate_rgb(self, rgb: npt.NDArray[np.uint8]) -> dict[str, Any] | None:
        assert self.reader is not None
        try:
            readings = self.reader.read(rgb)
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
        plate: dict[str, Any] | None,
    ) -> dict[str, Any]:
        rel = path.relative_to(self.recordings_dir).as_posix()
        async with self.engine.begin() as conn:
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
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            capture_id = int(key[0])
        taken = datetime.fromtimestamp(captured_at, self.zone).isoformat(timespec="seconds")
        await self.ledger.record(
            path.parent.name,
            path,
            source if source == "phone_still" else kind,
            sha256,
            {"kind": kind, "capture_id": capture_id, "taken_at": taken},
        )
        await self.db.case_action(
            facts.case_id,
            "evidence_captured",
            f"officer:{facts.officer_id}",
            datetime.now(self.zone),
            {"capture_id": capture_id, "kind": kind, "source": source, "sha256": sha256},
            zone=self.zone,
        )
        logger.info("call %s: %s %s stored (%s)", facts.call_id, source, kind, sha256[:12])
        return await self.get(capture_id)

    # -- reading and annotating ---------------------------------------------------------------

    async def get(self, capture_id: int) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(captures).where(captures.c.id == capture_id)))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound("no such capture")
        return _view(row)

    async def for_case(self, case_id: str) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(captures).where(captures.c.case_id == case_id).order_by(captures.c.id)
            )
            return [_view(r) for r in rows.mappings()]

    def file(self, view: Mapping[str, Any]) -> Path:
        return self.recordings_dir / str(view["path"])

    async def annotate(
        self, capture_id: int, officer_id: int, regions: object, note: object
    ) -> dict[str, Any]:
        """Damage rectangles (fractions of the image, so they survive any display size) and a
        note. The JPEG is never touched; the annotation is recorded in the case's trail."""
        view = await self.get(capture_id)
        boxes = _regions(regions)
        if not isinstance(note, str) or len(note) > MAX_NOTE:
            raise InvalidMessage(f"note must be text of at most {MAX_NOTE} characters")
        async with self.engine.begin() as conn:
            await conn.execute(
                update(captures)
                .where(captures.c.id == capture_id)
                .values(regions=json.dumps(boxes), note=note.strip())
            )
        await self.db.case_action(
            view["case_id"],
            "evidence_annotated",
            f"officer:{officer_id}",
            datetime.now(self.zone),
            {"capture_id": capture_id, "regions": len(boxes), "note": bool(note.strip())},
            zone=self.zone,
        )
        return await self.get(capture_id)


def _regions(raw: object) -> list[dict[str, float]]:
    if not isinstance(raw, list) or len(raw) > MAX_REGIONS:
        raise InvalidMessage(f"regions must be a list of at most {MAX_REGIONS} rectangles")
    out = []
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
        out.append(values)
    return out


def _view(row: Any) -> dict[str, Any]:
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
    }


def plate_check(
    proposal: Mapping[str, Any] | None, parties: list[dict[str, Any]]
) -> dict[str, Any]:
    """The console's proposal line: which party declared the plate that was read, or that
    none did (a mismatch the officer must look at)."""
    if not proposal:
        return {"status": "none"}
    seen = proposal["plate"]
    for p in parties:
        if p.get("plate") == seen:
            return {"status": "matches", "party": p["key"]}
    declared = [p for p in parties if p.get("plate")]
    if declared:
        return {"status": "mismatch", "declared": [p["plate"] for p in declared]}
    empty = next((p["key"] for p in parties if not p.get("plate")), None)
    return {"status": "propose", "party": empty}
