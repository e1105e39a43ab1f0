"""The REMB the driver's phone gets, end to end with real aiortc peers on loopback: the start
value, then what the officer's receiver says it can take; and the call's media counters."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiortc import RTCRtpSender

from kuaichu.media import aiortc_tap
from kuaichu.media.bandwidth import BandwidthLimits
from kuaichu.media.call_media import CallMedia
from kuaichu.media.uplink import MediaMetrics


async def until(condition: Any, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def encoder_target(sender: RTCRtpSender) -> int | None:
    """The bitrate aiortc's encoder in the simulated phone was told (REMB obeyed)."""
    encoder = sender._RTCRtpSender__encoder
    return None if encoder is None else int(encoder.target_bitrate)


async def test_driver_obeys_start_then_officer_cap_and_counters_add_up(
    tmp_path: Path, answer_as: Any
) -> None:
    metrics = MediaMetrics()
    limits = BandwidthLimits.from_kbps(600, 2500, 1800)
    media = CallMedia("bw-call", tmp_path / "rec", bandwidth=limits, metrics=metrics)
    offer = await media.driver_offer()
    # The phone's encoder is told where to start and where to stop, before any REMB.
    assert "x-google-start-bitrate=1800;x-google-max-bitrate=2500" in offer["sdp"]
    driver, sdp = await answer_as("driver", offer, send_video=True, video_codec="H264")
    await media.driver_answer(sdp)
    officer, sdp = await answer_as("officer", await media.officer_offer(), send_video=False)
    await media.officer_answer(sdp)
    try:
        officer.start_reading()
        await officer.wait_frames("video", 10)
        phone = next(t.sender for t in driver.pc.getTransceivers() if t.kind == "video")
        # Our REMB, not aiortc's estimator (which starts near 250 kbit/s): the start value.
        await until(lambda: encoder_target(phone) == 1_800_000)

        # The officer's browser says it can receive 700 kbit/s: the phone is capped there.
        rx = next(t.receiver for t in officer.pc.getTransceivers() if t.kind == "video")
        aiortc_tap.disable_receive_estimator(rx)  # only our REMB from the "officer" too
        remb = aiortc_tap.send_remb(rx, 700_000)
        assert remb is not None and await remb
        await until(lambda: encoder_target(phone) == 700_000)
        # ... and never below the floor, whatever it says.
        remb = aiortc_tap.send_remb(rx, 100_000)
        assert remb is not None and await remb
        await until(lambda: encoder_target(phone) == 600_000)

        # The officer asks for three packets again: counted on the officer leg.
        ssrc = rx.getSynchronizationSources()[0].source
        await rx._send_rtcp_nack(ssrc, [1, 2, 3])
        await until(lambda: media.bandwidth.officer.nacks_received == 3)

        # A keyframe asked of the phone (an evidence capture does that) is a PLI sent.
        keyframes = media.driver_keyframes
        assert keyframes is not None and keyframes.request("test", force=True)
        await until(lambda: media.bandwidth.driver.plis_sent >= 1)

        counts = media.bandwidth.counts()
        assert counts["driver"]["packets_received"] > 10
        assert counts["driver"]["remb_bps"] == 600_000
        assert counts["officer"]["packets_sent"] > 10
        assert counts["officer"]["remb_bps"] == 100_000
        assert counts["keyframes_forwarded"] >= 1
        assert media.received_video_size == (320, 240)
        live = metrics.snapshot()
        assert live["calls_live"] == 1 and live["calls"][0]["call_id"] == "bw-call"
    finally:
        await officer.close()
        await media.close()
        await driver.close()
    ended = metrics.snapshot()
    assert ended["calls_live"] == 0 and ended["calls_ended"] == 1
    assert ended["totals"]["officer"]["nacks_received"] == 3
    assert ended["totals"]["driver"]["packets_received"] >= counts["driver"]["packets_received"]
    assert ended["totals"]["keyframes_forwarded"] >= 1
