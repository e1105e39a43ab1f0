"""SIGKILL the server mid-call: the live recording on disk must still decode up to about
the moment of the kill (Matroska written with live clusters and packet flushing)."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import av

from sim.client import PatternVideoTrack, SimDriver, SimOfficer


async def test_partial_recording_survives_sigkill(process_server: Any) -> None:
    officer = await SimOfficer(
        process_server.url, process_server.officer_username, process_server.officer_password
    ).connect()
    # 30 frames a second: the count below is what a 5 s recording at a phone's rate holds.
    driver = await SimDriver(process_server.url, video=PatternVideoTrack(fps=30)).connect()
    try:
        await officer.set_available()
        ack = await driver.report()
        await officer.accept((await officer.wait_offer())["call_id"])
        await driver.wait_state("in_call")
        await officer.wait_for(lambda: officer.frames("video") > 10)
        answered = time.monotonic()
        # The officer saw video, so recording is under way; let it run a few seconds.
        await asyncio.sleep(5)
        kill_at = time.monotonic()
        process_server.proc.send_signal(signal.SIGKILL)
        process_server.proc.wait(10)
    finally:
        await driver.close()
        await officer.close()

    folder = process_server.data_dir / "recordings" / ack["case_id"]
    files = sorted(folder.glob("*.mkv"))
    assert files, f"no live recording in {folder}: {list(folder.iterdir())}"
    with av.open(str(files[0])) as container:
        assert container.streams.video and len(container.streams.audio) == 2
        video = container.streams.video[0]
        last = 0.0
        decoded = 0
        for frame in container.decode(video):
            decoded += 1
            last = float(frame.pts * frame.time_base)
    recorded_span = kill_at - answered
    # Recording began a little before `answered` (at the first keyframe) and the last
    # second may not have been flushed: the decodable part ends within ~1 s of the kill.
    assert decoded > 90
    assert last > recorded_span - 1.2, (last, recorded_span)
