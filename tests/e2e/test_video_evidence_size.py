"""What the server receives decides how a plate is captured (issue 9): a driver whose video
arrives at 640x360 gets asked for a phone photo instead of a small frame being stored; and
the media counters a supervisor reads from GET /api/metrics."""

from __future__ import annotations

from typing import Any

from sim.client import PatternVideoTrack, SimDriver, SimOfficer


async def test_low_resolution_plate_asks_the_phone_and_metrics_count_the_call(
    live_server: Any,
) -> None:
    officer = await SimOfficer(
        live_server.url, live_server.officer_username, live_server.officer_password
    ).connect()
    driver = await SimDriver(live_server.url, video=PatternVideoTrack(640, 360)).connect()
    supervisor = SimOfficer(
        live_server.url, live_server.supervisor_username, live_server.supervisor_password
    )
    try:
        await officer.set_available()
        await driver.report(phone="13800138000")
        offer = await officer.wait_offer()
        call_id = offer["call_id"]
        assert (await officer.accept(call_id))["ok"]
        await officer.wait_for(lambda: officer.frames("video") >= 20, timeout=20)
        assert officer.sinks["video"].last_size == (640, 360)

        # A plate from 640x360 video: no frame stored, the phone is asked for a photo.
        result = await officer.call("capture", {"call_id": call_id, "kind": "plate"}, timeout=20)
        assert result["ok"], result
        assert result["capture"] == {
            "still_requested": True,
            "call_id": call_id,
            "kind": "plate",
            "reason": "low_resolution",
            "width": 640,
            "height": 360,
        }
        request = await driver.wait_event("still_requested")
        assert request["kind"] == "plate"
        assert live_server.rows("select count(*) from captures")[0][0] == 0
        # The licence too; the damage is still taken from the video, small or not.
        result = await officer.call("capture", {"call_id": call_id, "kind": "licence"})
        assert result["capture"]["still_requested"] is True
        result = await officer.call("capture", {"call_id": call_id, "kind": "damage"}, timeout=20)
        assert result["ok"], result
        stored = result["capture"]
        assert stored["source"] == "video_frame" and (stored["width"], stored["height"]) == (
            640,
            360,
        )

        # The supervisor's metrics: this call's media, leg by leg.
        status, body = await supervisor.api("GET", "/api/metrics?window=10")
        assert status == 200, body
        assert len(body["gc"]["collections"]) == 3  # the collector's pauses, per generation
        media = body["media"]
        assert media["calls_live"] == 1
        (call,) = media["calls"]
        assert call["call_id"] == call_id
        assert call["driver"]["packets_received"] > 20
        assert call["driver"]["plis_sent"] >= 1  # the captures asked for keyframes
        assert call["driver"]["rembs_sent"] >= 1
        assert 300_000 <= call["driver"]["remb_bps"] <= 2_500_000
        assert call["officer"]["packets_sent"] > 20
        assert call["keyframes_forwarded"] >= 1
        assert media["totals"]["driver"]["packets_received"] >= call["driver"]["packets_received"]
        # An officer is not a supervisor.
        status, _ = await officer.api("GET", "/api/metrics")
        assert status == 403
    finally:
        await driver.close()
        await officer.close()
