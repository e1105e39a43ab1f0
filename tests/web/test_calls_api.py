"""A call's record over HTTP names its recordings, never the server's paths (issue 10, Low)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.web.test_bodies import start_call


async def test_a_calls_record_shows_no_server_paths(live_server: Any) -> None:
    driver, officer, call_id, case_id = await start_call(live_server)
    try:
        await officer.wait_for(lambda: officer.frames("video") >= 10, timeout=20)
        assert (await officer.hangup(call_id))["ok"]
        stored = await live_server.wait_recording(call_id)
        status, info = await officer.api("GET", f"/api/calls/{call_id}")
        assert status == 200, info
        (recording,) = info["recordings"]
        assert recording["path"] == Path(stored["path"]).name
        assert "/" not in recording["path"] and "\\" not in recording["path"]
        text = str(info)
        assert str(live_server.data_dir) not in text and case_id in text
    finally:
        await driver.close()
        await officer.close()
