"""The photo channel over HTTP against a real server: a report, its guided photos (each upload
checked, the refused ones leaving nothing behind, a slow chunked body stored whole), "leave the
scene" with its SMS, and the officers' photo queue."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kuaichu.photoreports.model import SHOTS
from kuaichu.photoreports.upload import MAX_PHOTO_BYTES, check_photo
from sim.client import SimOfficer
from tests.photoreports.images import (
    GPS_LAT,
    GPS_LNG,
    bomb_png,
    jpeg,
    not_an_image,
    plate_jpeg,
    truncated_jpeg,
)

ELIGIBLE = {
    "injuries": False,
    "vehicles_movable": True,
    "vehicle_to_vehicle": True,
    "all_insured": True,
    "cause": "rear_end",
    "unlicensed": False,
    "drunk_driving": False,
    "hit_and_run": False,
}
PHONE = "13800138000"
PHOTOS = {
    "vehicles": lambda: jpeg(1600, 1200),
    "damage": lambda: jpeg(1200, 1600, colour=(30, 30, 160)),
    "plate_a": lambda: plate_jpeg("黑A12345"),
    "plate_b": lambda: plate_jpeg("黑AD12345", "green"),
    "licence_a": lambda: jpeg(1000, 700, colour=(220, 220, 200)),
    "licence_b": lambda: jpeg(1000, 700, colour=(200, 220, 220)),
}


async def _json(resp: aiohttp.ClientResponse) -> Any:
    assert resp.content_type == "application/json", await resp.text()
    return await resp.json()


class Driver:
    """The driver page's HTTP side."""

    def __init__(self, server: Any, http: aiohttp.ClientSession) -> None:
        self.server = server
        self.http = http
        self.report_id = ""
        self.token = ""
        self.case_id = ""

    async def report(self, **body: Any) -> tuple[int, Any]:
        payload = {"eligibility": ELIGIBLE, "phone": PHONE, **body}
        async with self.http.post(self.server.url + "/api/photo-reports", json=payload) as r:
            data = await _json(r)
            if r.status == 201:
                self.report_id, self.token = data["report_id"], data["token"]
                self.case_id = data["case_id"]
            return r.status, data

    async def put(self, shot: str, body: Any, token: str | None = None) -> tuple[int, Any]:
        url = f"{self.server.url}/api/photo-reports/{self.report_id}/photo?shot={shot}"
        headers = {"X-Report-Token": self.token if token is None else token}
        async with self.http.put(url, data=body, headers=headers) as r:
            return r.status, await _json(r)

    async def submit(self) -> tuple[int, Any]:
        url = f"{self.server.url}/api/photo-reports/{self.report_id}/submit"
        async with self.http.post(url, json={}, headers={"X-Report-Token": self.token}) as r:
            return r.status, await _json(r)

    def captures(self) -> list[Any]:
        return self.server.rows("select * from captures where case_id = ?", self.case_id)

    def files(self) -> list[str]:
        folder = self.server.data_dir / "recordings" / self.case_id
        return sorted(p.name for p in folder.glob("*.jpg")) if folder.exists() else []


@pytest.fixture
async def driver(server_factory: Callable[..., Any]) -> AsyncIterator[Driver]:
    server = await server_factory(wrapup_seconds=1)
    async with aiohttp.ClientSession() as http:
        yield Driver(server, http)


async def test_video_unavailable_report_photos_leave_scene_and_the_officers_queue(
    driver: Driver,
) -> None:
    server = driver.server
    # Nobody is on shift: video cannot be had, the photo path is offered.
    async with driver.http.get(server.url + "/api/photo-reports/availability") as r:
        info = await _json(r)
    assert info["video"] is False and info["reasons"] == ["no_officer"]
    assert info["shots"] == list(SHOTS)

    # The number is checked; an accident the video channel refuses is refused here too.
    status, body = await driver.report(phone="12345")
    assert status == 400 and body["error"]["detail"]["field"] == "phone"
    status, body = await driver.report(eligibility={**ELIGIBLE, "injuries": True})
    assert status == 422, body
    assert body["error"]["code"] == "not_eligible"
    assert server.rows("select count(*) from cases")[0][0] == 0

    status, body = await driver.report(location={"lat": 45.7567, "lng": 126.6424})
    assert status == 201, body
    assert body["progress_url"].startswith("/p/")
    case = server.rows("select status, reporter_phone from cases where id = ?", driver.case_id)
    assert tuple(case[0]) == ("reported", PHONE)
    assert tuple(server.rows("select state from calls where case_id = ?", driver.case_id)[0]) == (
        "photo",
    )

    # Sending before every shot is in: refused, naming what is missing.
    status, body = await driver.submit()
    assert status == 409 and body["error"]["detail"]["missing"] == list(SHOTS)

    sent: dict[str, bytes] = {}
    for shot, make in PHOTOS.items():
        sent[shot] = make()
        status, body = await driver.put(shot, sent[shot])
        assert status == 201, (shot, body)
        assert body["shot"] == shot
        assert body["exif"]["lat"] == pytest.approx(GPS_LAT, abs=1e-5)
        assert body["exif"]["lng"] == pytest.approx(GPS_LNG, abs=1e-5)
    # The plates were read from the photos.
    plates = {
        r["shot"]: r["plate"] for r in driver.captures() if r["shot"] in ("plate_a", "plate_b")
    }
    assert '"黑A·12345"' in plates["plate_a"], plates
    assert '"黑A·D12345"' in plates["plate_b"], plates

    # Stored: a re-encoded JPEG per shot, its EXIF time and GPS on the row, no tag in the file.
    rows = driver.captures()
    assert len(rows) == len(SHOTS)
    for row in rows:
        assert row["source"] == "photo_report" and row["officer_id"] is None
        assert row["exif_time"] == "2026:11:30 18:02:11+08:00"
        assert row["exif_lat"] == pytest.approx(GPS_LAT, abs=1e-5)
        stored = (server.data_dir / "recordings" / row["path"]).read_bytes()
        assert hashlib.sha256(stored).hexdigest() == row["sha256"]
        assert b"Secret" not in stored and b"Exif" not in stored
    manifest = (server.data_dir / "recordings" / driver.case_id / "manifest.jsonl").read_text()
    assert all(row["sha256"] in manifest for row in rows)

    # Every shot in: leave the scene at once, by SMS with the progress link.
    status, body = await driver.submit()
    assert status == 200, body
    assert server.rows("select status from cases where id = ?", driver.case_id)[0][0] == (
        "scene_cleared"
    )
    sms = server.rows("select template, phone, body from outbox where case_id = ?", driver.case_id)
    assert [(m["template"], m["phone"]) for m in sms] == [("leave_scene", PHONE)]
    assert "/p/" in sms[0]["body"]
    # Sent is sent: no more photos, no second submit.
    status, body = await driver.put("damage", jpeg(), None)
    assert status == 409 and body["error"]["detail"]["reason"] == "submitted"

    # The officers' photo queue: the report waits with its age; one officer takes it.
    zhang = SimOfficer(server.url, server.officer_username, server.officer_password)
    other = SimOfficer(server.url, *server.extra_officers[0])
    status, body = await zhang.api("GET", f"/api/cases/{driver.case_id}")
    assert status == 403  # nobody's case yet
    status, body = await zhang.api("GET", "/api/photo-reports")
    assert status == 200
    [item] = body["reports"]
    assert item["case_id"] == driver.case_id and item["photos"] == len(SHOTS)
    assert item["status"] == "waiting" and item["age_s"] >= 0
    status, body = await zhang.api("POST", f"/api/cases/{driver.case_id}/photo-report/take", {})
    assert status == 200 and body["url"] == f"/cases/{driver.case_id}"
    status, body = await other.api("POST", f"/api/cases/{driver.case_id}/photo-report/take", {})
    assert status == 409
    # Now it is zhang's case, worked like a call's; the other officer no longer sees it.
    status, view = await zhang.api("GET", f"/api/cases/{driver.case_id}")
    assert status == 200 and view["form"]["parties"][0]["phone"] == PHONE
    status, body = await other.api("GET", f"/api/cases/{driver.case_id}")
    assert status == 403
    status, body = await other.api("GET", "/api/photo-reports")
    assert body["reports"] == []
    status, body = await zhang.api("GET", f"/api/cases/{driver.case_id}/captures")
    assert status == 200 and len(body["captures"]) == len(SHOTS)
    # The case folder still checks out against its signed manifest.
    status, report = await zhang.api("GET", f"/api/cases/{driver.case_id}/evidence/verify")
    assert status == 200 and report["ok"], report


async def test_bad_uploads_are_refused_with_a_clear_message_and_leave_nothing(
    driver: Driver,
) -> None:
    status, _ = await driver.report()
    assert status == 201
    cases: list[tuple[str, Any, int, str]] = [
        ("not an image", not_an_image(), 400, "not_image"),
        ("decompression bomb", bomb_png(), 400, "too_many_pixels"),
        ("truncated", truncated_jpeg(), 400, "unreadable"),
        ("empty", b"", 400, "empty"),
    ]
    for label, data, code, reason in cases:
        status, body = await driver.put("damage", data)
        assert status == code, (label, body)
        assert body["error"]["detail"]["reason"] == reason, (label, body)
        assert body["error"]["message"], label
    # Too big: refused by its declared length, and as a chunked body once it passes the limit.
    status, body = await driver.put("damage", b"\xff\xd8\xff" + b"\0" * MAX_PHOTO_BYTES)
    assert status == 413 and "at most 8 MB" in body["error"]["message"]

    async def endless() -> AsyncIterator[bytes]:
        yield b"\xff\xd8\xff"
        for _ in range(MAX_PHOTO_BYTES // 65536 + 2):
            yield b"\0" * 65536

    status, body = await driver.put("damage", endless())
    assert status == 413
    # A wrong token, an unknown shot: refused before the body is read.
    status, body = await driver.put("damage", jpeg(), token="x" * 32)
    assert status == 401
    status, body = await driver.put("selfie", jpeg())
    assert status == 404
    # Nothing of all that was stored: no row, no file, no trail entry.
    assert driver.captures() == [] and driver.files() == []
    trail = driver.server.rows(
        "select what from case_audit where case_id = ? order by seq", driver.case_id
    )
    assert [r["what"] for r in trail] == ["report"]


async def test_a_slow_chunked_body_is_stored_whole(driver: Driver) -> None:
    status, _ = await driver.report()
    assert status == 201
    data = jpeg(2000, 1500)

    async def slowly() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 7000):
            yield data[i : i + 7000]
            await asyncio.sleep(0.005)

    status, body = await driver.put("vehicles", slowly())
    assert status == 201, body
    # The server decoded the whole photo: the same JPEG as from the bytes in one piece.
    whole = check_photo(data, UTC)
    assert (body["width"], body["height"]) == (2000, 1500)
    assert body["sha256"] == hashlib.sha256(whole.jpeg).hexdigest()
    assert body["exif"]["lat"] == pytest.approx(GPS_LAT, abs=1e-5)
    [row] = driver.captures()
    assert Path(driver.server.data_dir / "recordings" / row["path"]).stat().st_size == len(
        whole.jpeg
    )
