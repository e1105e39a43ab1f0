"""An officer whose browser cannot take the driver's video codec: a clear error for that
officer, and the call goes back to the head of the queue instead of hanging."""

from __future__ import annotations

import re
from typing import Any

from sim.client import SimDriver, SimOfficer


class H264lessOfficer(SimOfficer):
    """Answers as a browser without H.264 would: the video codec it names is not ours."""

    async def _answer(self, offer: dict[str, Any]) -> None:
        sent: list[dict[str, Any]] = []
        real_emit = self.sio.emit

        async def capture(event: str, data: Any = None, **kw: Any) -> None:
            if event == "sdp_answer":
                sent.append(data)
                return
            await real_emit(event, data, **kw)

        self.sio.emit = capture  # type: ignore[method-assign]
        try:
            await super()._answer(offer)
        finally:
            self.sio.emit = real_emit  # type: ignore[method-assign]
        answer = dict(sent[0])
        answer["sdp"] = re.sub(r"(a=rtpmap:\d+ )H264/", r"\1VP9/", answer["sdp"])
        self.events.append(("answer_ack", await self.call("sdp_answer", answer)))


async def test_officer_without_the_codec_gets_error_and_call_is_requeued(
    live_server: Any,
) -> None:
    bad = await H264lessOfficer(
        live_server.url, live_server.officer_username, live_server.officer_password
    ).connect()
    driver = await SimDriver(live_server.url).connect()
    good = SimOfficer(live_server.url, *live_server.extra_officers[0])
    try:
        await bad.set_available()
        call_id = (await driver.report())["call_id"]
        await bad.accept((await bad.wait_offer())["call_id"])
        ack = await bad.wait_event("answer_ack")
        assert ack["error"]["code"] == "no_common_codec"
        ended = await bad.wait_event("call_ended")
        assert ended["reason"] == "media_failed"
        await driver.wait_state("reconnecting")
        await good.connect()
        await good.set_available()
        offer = await good.wait_offer()
        assert offer["call_id"] == call_id
        await good.accept(call_id)
        await driver.wait_state("in_call")
        await good.wait_for(lambda: good.frames("video") > 10)
    finally:
        for c in (bad, driver, good):
            await c.close()
