"""Fails loudly when aiortc's internals that kuaichu.media relies on change."""

from __future__ import annotations

import asyncio
import inspect
import queue
import threading

import aiortc
import av
import pytest
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.codecs import get_capabilities
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import decoder_worker

from kuaichu.media import aiortc_tap
from kuaichu.media.aiortc_tap import EncodedFrame, check_aiortc_internals, tap_receiver
from kuaichu.media.jitter import FrameBuffer
from sim.client import PatternVideoTrack

OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=96)


def test_aiortc_version_is_the_pinned_one() -> None:
    assert aiortc.__version__ == aiortc_tap.EXPECTED_AIORTC_VERSION


def test_internals_check_passes() -> None:
    check_aiortc_internals()


def test_internals_used_exist() -> None:
    src = inspect.getsource(RTCRtpReceiver)
    assert "self.__decoder_queue.put((codec, encoded_frame))" in src
    # the decoder thread is started with the queue attribute we replace
    assert "asyncio.get_event_loop(),\n                    self.__decoder_queue," in src
    assert list(inspect.signature(decoder_worker).parameters) == [
        "loop",
        "input_q",
        "output_q",
        "decode_error",
    ]
    assert callable(RTCRtpReceiver._send_rtcp_pli)
    assert callable(RTCRtpSender._send_keyframe)
    assert set(inspect.signature(JitterFrame).parameters) == {"data", "timestamp"}
    assert get_capabilities("video").codecs


async def _receiver() -> tuple[RTCPeerConnection, RTCRtpReceiver]:
    pc = RTCPeerConnection()
    t = pc.addTransceiver("audio", direction="recvonly")
    return pc, t.receiver


@pytest.mark.parametrize("decode", [False, True])
async def test_tap_diverts_frames_and_passes_stop(decode: bool) -> None:
    pc, receiver = await _receiver()
    original = receiver._RTCRtpReceiver__decoder_queue
    got: list[EncodedFrame] = []
    tap_receiver(receiver, got.append)
    tapped = receiver._RTCRtpReceiver__decoder_queue
    assert isinstance(tapped, queue.Queue) and tapped is not original
    aiortc_tap.set_decoding(receiver, decode)
    # what _handle_rtp_packet does with a reassembled frame
    tapped.put((OPUS, JitterFrame(data=b"\xfc\x00", timestamp=960)))
    assert got == [EncodedFrame("opus", "audio/opus", 48000, b"\xfc\x00", 960)]
    assert original.qsize() == (1 if decode else 0)
    tapped.put(None)  # what __stop_decoder does
    items = [original.get_nowait() for _ in range(original.qsize())]
    assert items[-1] is None
    assert len(items) == (2 if decode else 1)
    await pc.close()


@pytest.mark.parametrize("before_thread", [True, False])
async def test_decoder_thread_stops_through_tap(before_thread: bool) -> None:
    """The decoder thread must end whether it was given the tap or the original queue."""
    loop = asyncio.get_running_loop()
    pc, receiver = await _receiver()
    original = receiver._RTCRtpReceiver__decoder_queue
    if before_thread:
        tap_receiver(receiver, lambda f: None)
    input_q = receiver._RTCRtpReceiver__decoder_queue
    out: asyncio.Queue[object] = asyncio.Queue()
    thread = threading.Thread(target=decoder_worker, args=(loop, input_q, out, threading.Event()))
    thread.start()
    if not before_thread:
        tap_receiver(receiver, lambda f: None)
        assert receiver._RTCRtpReceiver__decoder_queue is not original
    receiver._RTCRtpReceiver__decoder_queue.put((OPUS, JitterFrame(b"\xfc\x00", 0)))
    receiver._RTCRtpReceiver__decoder_queue.put(None)
    await loop.run_in_executor(None, thread.join, 5)
    assert not thread.is_alive()
    assert await asyncio.wait_for(out.get(), 2) is None  # no frame decoded, only the end
    await pc.close()


async def test_keyframe_request_hook() -> None:
    pc = RTCPeerConnection()
    sender = pc.addTransceiver("video").sender
    calls: list[int] = []
    aiortc_tap.on_keyframe_request(sender, lambda: calls.append(1))
    sender._send_keyframe()
    assert calls == [1]
    assert sender._RTCRtpSender__force_keyframe is True
    await pc.close()


# ---- bandwidth hooks ------------------------------------------------------------------------


def test_bandwidth_internals_exist() -> None:
    src = inspect.getsource(RTCRtpReceiver.__init__)
    assert "self.__remote_bitrate_estimator = RemoteBitrateEstimator()" in src
    handle = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    # aiortc's REMB is sent only while the estimator attribute is set
    assert "if self.__remote_bitrate_estimator is not None:" in handle
    assert "await self._send_rtcp_nack(" in handle


async def test_estimator_switched_off_and_remb_needs_an_rtcp_ssrc() -> None:
    pc = RTCPeerConnection()
    receiver = pc.addTransceiver("video").receiver
    assert receiver._RTCRtpReceiver__remote_bitrate_estimator is not None
    aiortc_tap.disable_receive_estimator(receiver)
    assert receiver._RTCRtpReceiver__remote_bitrate_estimator is None
    receiver._set_rtcp_ssrc(None)  # type: ignore[arg-type]
    assert aiortc_tap.send_remb(receiver, 1_000_000) is None  # nothing to send from
    receiver._set_rtcp_ssrc(1234)
    coro = aiortc_tap.send_remb(receiver, 1_000_000)
    assert coro is not None
    assert await coro is False  # the transport is not connected
    await pc.close()


class _Seen(aiortc_tap.SenderFeedback):
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def on_report(self, report: aiortc_tap.ReceiverReport) -> None:
        self.events.append(("report", (report.fraction_lost, report.packets_lost)))

    def on_nack(self, packets: int) -> None:
        self.events.append(("nack", packets))

    def on_remb(self, bitrate_bps: int) -> None:
        self.events.append(("remb", bitrate_bps))

    def on_keyframe_request(self) -> None:
        self.events.append(("keyframe", None))


async def test_sender_feedback_is_observed_and_still_handled() -> None:
    from aiortc.rtp import (
        RTCP_PSFB_APP,
        RTCP_PSFB_PLI,
        RTCP_RTPFB_NACK,
        RtcpPsfbPacket,
        RtcpReceiverInfo,
        RtcpRrPacket,
        RtcpRtpfbPacket,
        pack_remb_fci,
    )

    pc = RTCPeerConnection()
    sender = pc.addTransceiver("video").sender
    seen = _Seen()
    aiortc_tap.watch_sender_feedback(sender, seen)
    ours = sender._ssrc
    info = dict(highest_sequence=0, jitter=0, lsr=0, dlsr=0)
    await sender._handle_rtcp_packet(
        RtcpRrPacket(
            ssrc=9,
            reports=[
                RtcpReceiverInfo(ssrc=ours, fraction_lost=64, packets_lost=7, **info),
                RtcpReceiverInfo(ssrc=ours + 1, fraction_lost=255, packets_lost=99, **info),
            ],
        )
    )
    nack = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=9, media_ssrc=ours)
    nack.lost = [10, 11, 12]
    await sender._handle_rtcp_packet(nack)
    await sender._handle_rtcp_packet(
        RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=9, media_ssrc=0, fci=pack_remb_fci(800_000, [ours]))
    )
    await sender._handle_rtcp_packet(
        RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=9, media_ssrc=0, fci=pack_remb_fci(5, [ours + 1]))
    )
    await sender._handle_rtcp_packet(RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=9, media_ssrc=ours))
    assert seen.events == [
        ("report", (0.25, 7)),
        ("nack", 3),
        ("remb", 800_000),
        ("keyframe", None),
    ]
    # aiortc still handled them: the PLI set its keyframe flag.
    assert sender._RTCRtpSender__force_keyframe is True
    assert aiortc_tap.packets_sent(sender) == 0
    await pc.close()


async def test_receiver_feedback_is_counted() -> None:
    pc = RTCPeerConnection()
    receiver = pc.addTransceiver("video").receiver
    nacks: list[int] = []
    plis: list[int] = []
    aiortc_tap.watch_receiver_feedback(receiver, nacks.append, lambda: plis.append(1))
    await receiver._send_rtcp_nack(5, [1, 2, 3])
    await receiver._send_rtcp_pli(5)
    assert (nacks, plis) == ([3], [1])
    assert aiortc_tap.inbound_counts(receiver) == aiortc_tap.InboundCounts(0, 0)
    assert aiortc_tap.remote_media_ssrcs(receiver) == []
    await pc.close()


# ---- jitter buffer ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["audio", "video"])
async def test_tap_installs_frame_buffer_carrying_on_from_aiortcs(kind: str) -> None:
    from aiortc.rtp import RtpPacket

    pc = RTCPeerConnection()
    receiver = pc.addTransceiver(kind, direction="recvonly").receiver
    theirs = receiver._RTCRtpReceiver__jitter_buffer
    held = RtpPacket(sequence_number=7, timestamp=0)
    held._data = b"a"  # type: ignore[attr-defined]
    theirs.add(held)  # a packet arrived before the tap
    tap_receiver(receiver, lambda f: None)
    ours = receiver._RTCRtpReceiver__jitter_buffer
    assert isinstance(ours, FrameBuffer)
    assert (ours.capacity, ours._prefetch, ours._is_video) == (
        theirs.capacity,
        theirs._prefetch,
        theirs._is_video,
    )
    assert ours._origin == 7 and ours._packets == theirs._packets
    tap_receiver(receiver, lambda f: None)
    assert receiver._RTCRtpReceiver__jitter_buffer is ours
    await pc.close()


@pytest.mark.parametrize("codec", ["H264", "VP8"])
async def test_tapped_receiver_hands_over_whole_decodable_pictures(codec: str) -> None:
    """Real peers over loopback: every frame the FrameBuffer hands over decodes to a picture."""
    sender_pc, receiver_pc = RTCPeerConnection(), RTCPeerConnection()
    transceiver = receiver_pc.addTransceiver("video", direction="recvonly")
    transceiver.setCodecPreferences(
        [c for c in RTCRtpSender.getCapabilities("video").codecs if c.name in (codec, "rtx")]
    )
    got: list[EncodedFrame] = []
    enough = asyncio.Event()

    def on_frame(frame: EncodedFrame) -> None:
        got.append(frame)
        if len(got) >= 40:
            enough.set()

    tap_receiver(transceiver.receiver, on_frame)
    track = PatternVideoTrack(640, 480)
    try:
        await receiver_pc.setLocalDescription(await receiver_pc.createOffer())
        await sender_pc.setRemoteDescription(receiver_pc.localDescription)
        sender_pc.addTrack(track)
        await sender_pc.setLocalDescription(await sender_pc.createAnswer())
        await receiver_pc.setRemoteDescription(sender_pc.localDescription)
        await asyncio.wait_for(enough.wait(), 30)
    finally:
        track.stop()
        await sender_pc.close()
        await receiver_pc.close()
    decoder = av.CodecContext.create(codec.lower(), "r")
    pictures = []
    for frame in got:
        assert frame.codec == codec
        pictures += decoder.decode(av.Packet(frame.data))
    assert len(pictures) >= len(got) - 2  # a decoder may hold the last frames back
    assert {(p.width, p.height) for p in pictures} == {(640, 480)}
    stamps = [f.timestamp for f in got]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)  # one piece a picture
