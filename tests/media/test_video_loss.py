"""A video packet lost for good between the phone and the server (its retransmission lost too,
as on a bad mobile path): the officer's picture comes back within a second, from a keyframe,
instead of freezing until 512 newer packets have arrived (aiortc's buffer alone: ~10 s at the
rate a phone sends after losses). Real aiortc peers on loopback; the loss is made in the
server's receive path, so exactly one packet and every copy of it are lost."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import av
from aiortc import RTCRtpReceiver
from aiortc.rtp import RtpPacket

from kuaichu.media.call_media import CallMedia


class BlackHole:
    """Drops one video packet, chosen when armed, and every retransmission of it (sent
    again as is, or in RTX with its sequence number in front of the payload)."""

    def __init__(self, receiver: RTCRtpReceiver) -> None:
        self.media_ssrc: int | None = None
        self.armed = False
        self.lost: int | None = None
        self.chosen = asyncio.Event()
        self.copies_dropped = 0
        original = receiver._handle_rtp_packet

        async def handle(packet: RtpPacket, arrival_time_ms: int) -> None:
            if self._drops(packet):
                self.copies_dropped += 1
                return
            await original(packet, arrival_time_ms)

        receiver._handle_rtp_packet = handle  # type: ignore[method-assign]

    def _drops(self, packet: RtpPacket) -> bool:
        if self.media_ssrc is None:
            self.media_ssrc = packet.ssrc
        if packet.ssrc == self.media_ssrc:
            if self.armed and self.lost is None:
                self.lost = packet.sequence_number
                self.chosen.set()
            return packet.sequence_number == self.lost
        # RTX: the original sequence number is the payload's first two bytes.
        return self.lost is not None and packet.payload[:2] == self.lost.to_bytes(2, "big")


async def test_a_packet_lost_for_good_freezes_the_officer_briefly_and_resumes_on_a_keyframe(
    tmp_path: Path, answer_as: Any
) -> None:
    media = CallMedia("loss", tmp_path / "recordings")
    driver, sdp = await answer_as("driver", await media.driver_offer(), send_video=True)
    await media.driver_answer(sdp)
    officer, sdp = await answer_as("officer", await media.officer_offer(), send_video=False)
    await media.officer_answer(sdp)
    try:
        officer.start_reading(keep=1000)
        await officer.wait_frames("video", 15)
        leg = media._driver
        assert leg is not None and leg.video is not None
        hole = BlackHole(leg.video.receiver)
        track = media.officer_video_track
        keyframes = media.driver_keyframes
        assert track is not None and keyframes is not None
        asked_before = keyframes.asked
        hole.armed = True
        await asyncio.wait_for(hole.chosen.wait(), 5)
        got = len(officer.frames["video"])
        # Thirty more frames reach the officer: a second of video, ~1 s after the hole here,
        # waited for at most ten (a loaded machine); the hole alone held everything behind it
        # for 512 packets, 20 s here (measured with the give-up switched off).
        await officer.wait_frames("video", got + 30, timeout=10)
        # The retransmission was asked for and lost: the hole was real, not refilled.
        assert hole.copies_dropped >= 2, hole.copies_dropped
        # A keyframe was asked for, and the officer got none of the frames that reference
        # the lost one: they were dropped until the keyframe came.
        assert keyframes.asked > asked_before
        assert track.frames_dropped > 0
    finally:
        await officer.close()
        info = await media.close()
        await driver.close()
    # The recording skipped the same frames and decodes from end to end.
    assert info is not None and media.recorder.dropped > 0
    with av.open(str(info.path)) as container:
        decoded = sum(1 for _ in container.decode(video=0))
    assert decoded > 45
