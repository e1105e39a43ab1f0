"""A call's leg (kuaichu/media/legs.py) with a real aiortc peer over loopback."""

from __future__ import annotations

import asyncio
import contextlib

from aiortc import RTCPeerConnection

from kuaichu.media.bitstream import video_codec_preferences
from kuaichu.media.legs import new_leg


async def test_a_close_cancelled_while_aiortc_closes_the_connection_itself() -> None:
    """aiortc closes a connection on its own when all its DTLS transports have closed; a
    drain that gives up on the leg's close meanwhile must not break aiortc's close (it used
    to cancel aiortc's own "closed" future: InvalidStateError in a task nobody awaits)."""
    leg = new_leg("c1", "driver", [], video_codec_preferences(), to_kind_keyframe=lambda _: None)
    peer = RTCPeerConnection()
    try:
        peer.addTransceiver("audio", direction="sendrecv")
        peer.addTransceiver("video", direction="sendrecv")
        await peer.setLocalDescription(await peer.createOffer())
        await leg.pc.setRemoteDescription(peer.localDescription)
        await leg.pc.setLocalDescription(await leg.pc.createAnswer())
        await peer.setRemoteDescription(leg.pc.localDescription)
        for _ in range(200):
            if leg.pc.connectionState == "connected":
                break
            await asyncio.sleep(0.05)
        assert leg.pc.connectionState == "connected"

        aiortcs_own = asyncio.ensure_future(leg.pc.close())  # as aiortc starts it
        await asyncio.sleep(0)
        assert not aiortcs_own.done()  # still stopping its transports
        ours = asyncio.ensure_future(leg.close())
        await asyncio.sleep(0)
        ours.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ours
        await aiortcs_own  # raised InvalidStateError before the fix
        assert leg.pc.connectionState == "closed"
    finally:
        await peer.close()
