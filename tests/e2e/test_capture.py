"""Evidence from the live video, through a real call: a synthetic driver video with a
rendered Chinese plate, a plate capture from the console, the stored JPEG and the proposal;
the phone-still upload; and the bad input around both."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import aiohttp
import av
import numpy as np
import pytest

from sim.client import LoopVideoTrack, SimDriver, SimOfficer
from sim.plates import scene_frames

PLATE = "黑A·D23456"


@pytest.fixture(scope="module")
def plate_frames() -> list[np.ndarray[Any, Any]]:
    return list(scene_frames(PLATE.replace("·", ""), "green", seed=7, n=30))


def jpeg(width: int = 640, height: int = 480) -> bytes:
    img = np.zeros((height, width, 3), np.uint8)
    img[:, : width // 2] = (200, 40, 40)
    frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuvj420p")
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuvj420p"
    return b"".join(bytes(p) for p in codec.encode(frame) + codec.encode(None))


async def start_call(
    server: Any, video: Any = None
) -> tuple[SimDriver, SimOfficer, dict[str, Any], str]:
    officer = await SimOfficer(
        server.url, server.officer_username, server.officer_password
    ).connect()
    driver = await SimDriver(server.url, video=video).connect()
    await officer.set_available()
    ack = await driver.report(phone="13800138000")
    offer = await officer.wait_offer()
    assert (await officer.accept(offer["call_id"]))["ok"]
    await officer.wait_for(lambda: officer.frames("video") >= 20, timeout=20)
    return driver, officer, ack, offer["call_id"]


async def test_a_plate_capture_stores_a_sharp_jpeg_and_proposes_the_plate(
    live_server: Any, plate_frames: list[np.ndarray[Any, Any]]
) -> None:
    driver, officer, ack, call_id = await start_call(live_server, LoopVideoTrack(plate_frames))
    try:
        result = await officer.call("capture", {"call_id": call_id, "kind": "plate"}, timeout=20)
        assert result["ok"], result
        capture = result["capture"]
        assert capture["kind"] == "plate" and capture["source"] == "video_frame"
        assert capture["plate"] is not None, capture
        assert capture["plate"]["plate"] == PLATE
        assert capture["plate_check"] == {"status": "propose", "party": "A"}
        assert capture["offset_s"] is not None and capture["offset_s"] > 0
        assert capture["lat"] == pytest.approx(45.75)
        stored = await officer.wait_event("capture_stored")
        assert stored["id"] == capture["id"]
        # The JPEG at full received resolution, as the officer's browser fetches it.
        status, body = await officer.api("GET", capture["url"])
        assert status == 200
        with av.open(io.BytesIO(body)) as container:
            frame = next(container.decode(video=0))
        assert (frame.width, frame.height) == (1280, 720)
        import hashlib

        assert hashlib.sha256(body).hexdigest() == capture["sha256"]
        # The officer marks the damaged area and adds a note; the JPEG stays as captured.
        status, annotated = await officer.api(
            "PUT",
            f"/api/captures/{capture['id']}/annotation",
            {"regions": [{"x": 0.1, "y": 0.2, "w": 0.3, "h": 0.25}], "note": "后保险杠凹陷"},
        )
        assert status == 200 and annotated["regions"][0]["w"] == 0.3
        status, _ = await officer.api(
            "PUT",
            f"/api/captures/{capture['id']}/annotation",
            {"regions": [{"x": 0.9, "y": 0.2, "w": 0.3, "h": 0.25}], "note": ""},
        )
        assert status == 400
        status, again = await officer.api("GET", capture["url"])
        assert again == body
        # Listed in the signed manifest.
        status, report = await officer.api("GET", f"/api/cases/{ack['case_id']}/evidence/verify")
        assert report["ok"] and report["entries"] == 1
    finally:
        await driver.close()
        await officer.close()


async def test_phone_still_and_capture_bad_input(live_server: Any) -> None:
    driver, officer, ack, call_id = await start_call(live_server)
    name2, password2 = live_server.extra_officers[0]
    other = await SimOfficer(live_server.url, name2, password2).connect()
    url = f"{live_server.url}/api/calls/{call_id}/stills"
    headers = {"X-Call-Token": driver.resume_token or ""}
    try:
        # Another officer cannot capture on this call.
        result = await other.call("capture", {"call_id": call_id, "kind": "plate"})
        assert not result["ok"] and result["error"]["code"] == "not_found"
        result = await officer.call("capture", {"call_id": call_id, "kind": "selfie"})
        assert not result["ok"] and result["error"]["code"] == "invalid_message"

        # The officer asks for a photo; the page would take it and upload it.
        assert (await officer.call("request_still", {"call_id": call_id, "kind": "damage"}))["ok"]
        request = await driver.wait_event("still_requested")
        assert request["kind"] == "damage"
        async with aiohttp.ClientSession() as http:
            async with http.post(
                url + "?kind=damage", data=b"not an image at all", headers=headers
            ) as r:
                assert r.status == 400
            async with http.post(
                url + "?kind=damage",
                data=b"\xff\xd8\xff" + b"0" * (9 * 1024 * 1024),
                headers=headers,
            ) as r:
                assert r.status == 413
            async with http.post(
                url + "?kind=damage", data=jpeg(), headers={"X-Call-Token": "x" * 24}
            ) as r:
                assert r.status == 404
            async with http.post(url + "?kind=damage", data=jpeg(), headers=headers) as r:
                assert r.status == 201, await r.text()
                still = await r.json()
        stored = await officer.wait_event("capture_stored")
        assert stored["id"] == still["id"] and stored["source"] == "phone_still"
        assert live_server.rows("select count(*) from captures")[0][0] == 1

        # After the call ends nothing more is stored.
        assert (await officer.hangup(call_id))["ok"]
        await driver.wait_state("ended")
        async with aiohttp.ClientSession() as http:
            async with http.post(url + "?kind=damage", data=jpeg(), headers=headers) as r:
                assert r.status == 404
        result = await officer.call("capture", {"call_id": call_id, "kind": "plate"})
        assert not result["ok"]
        # Both refusals have been answered, so nothing can still be on its way to the table.
        assert live_server.rows("select count(*) from captures")[0][0] == 1
        files = list((live_server.data_dir / "recordings" / ack["case_id"]).glob("still-*"))
        assert len(files) == 1
    finally:
        for c in (driver, officer, other):
            await c.close()


async def test_plates_are_read_unasked_at_a_low_rate_and_nothing_is_stored(
    server_factory: Any, plate_frames: list[np.ndarray[Any, Any]]
) -> None:
    server = await server_factory(reservation_timeout=5, wrapup_seconds=2, auto_plate_seconds=1)
    driver, officer, ack, call_id = await start_call(server, LoopVideoTrack(plate_frames))
    try:
        seen = await officer.wait_event("plate_seen", timeout=20)
        assert seen["call_id"] == call_id
        assert seen["plate"]["plate"] == PLATE
        assert seen["plate_check"] == {"status": "propose", "party": "A"}
        await asyncio.sleep(2.5)  # more patrol rounds: the same plate is proposed once
        assert sum(1 for ev, _ in officer.events if ev == "plate_seen") == 1
        assert server.rows("select count(*) from captures")[0][0] == 0
        folder = server.data_dir / "recordings" / ack["case_id"]
        assert not list(folder.glob("*.jpg"))
    finally:
        await driver.close()
        await officer.close()
