"""Fails loudly when aiortc's internals that kuaichu.media relies on change."""

from __future__ import annotations

import asyncio
import fractions
import inspect
import itertools
import queue
import threading

import aiortc
import av
import numpy
import pytest
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.codecs import get_capabilities
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import decoder_worker

from kuaichu.media import aiortc_tap, short_turns
from kuaichu.media.aiortc_tap import EncodedFrame, check_aiortc_internals, tap_receiver
from kuaichu.media.forward import EncodedTrack
from kuaichu.media.jitter import FrameBuffer
from sim.client import PatternVideoTrack
from tests.support.eventually import eventually

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


async def _video_peers(
    codec: str, track: MediaStreamTrack, on_frame: aiortc_tap.OnFrame
) -> tuple[RTCPeerConnection, RTCPeerConnection]:
    """A sender of ``track`` and a tapped receiver handing its frames to ``on_frame``,
    negotiated to ``codec`` over loopback."""
    sender_pc, receiver_pc = RTCPeerConnection(), RTCPeerConnection()
    transceiver = receiver_pc.addTransceiver("video", direction="recvonly")
    transceiver.setCodecPreferences(
        [c for c in RTCRtpSender.getCapabilities("video").codecs if c.name in (codec, "rtx")]
    )
    tap_receiver(transceiver.receiver, on_frame)
    await receiver_pc.setLocalDescription(await receiver_pc.createOffer())
    await sender_pc.setRemoteDescription(receiver_pc.localDescription)
    sender_pc.addTrack(track)
    await sender_pc.setLocalDescription(await sender_pc.createAnswer())
    await receiver_pc.setRemoteDescription(sender_pc.localDescription)
    return sender_pc, receiver_pc


async def _stop(track: MediaStreamTrack, *pcs: RTCPeerConnection) -> None:
    track.stop()
    for pc in pcs:
        await pc.close()


def _decoded(codec: str, frames: list[EncodedFrame]) -> list[av.VideoFrame]:
    """The pictures a fresh decoder makes of ``frames``, flushed."""
    decoder = av.CodecContext.create(codec.lower(), "r")
    pictures = []
    for frame in frames:
        pictures += decoder.decode(av.Packet(frame.data))
    return pictures + decoder.decode(None)


@pytest.mark.parametrize("codec", ["H264", "VP8"])
async def test_tapped_receiver_hands_over_whole_decodable_pictures(codec: str) -> None:
    """Real peers over loopback: every frame the FrameBuffer hands over decodes to a picture."""
    got: list[EncodedFrame] = []
    enough = asyncio.Event()

    def on_frame(frame: EncodedFrame) -> None:
        got.append(frame)
        if len(got) >= 40:
            enough.set()

    track = PatternVideoTrack(640, 480)
    sender_pc, receiver_pc = await _video_peers(codec, track, on_frame)
    try:
        await asyncio.wait_for(enough.wait(), 30)
    finally:
        await _stop(track, sender_pc, receiver_pc)
    assert {frame.codec for frame in got} == {codec}
    pictures = _decoded(codec, got)
    assert len(pictures) >= len(got) - 2  # a decoder may hold the last frames back
    assert {(p.width, p.height) for p in pictures} == {(640, 480)}
    stamps = [f.timestamp for f in got]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)  # one piece a picture


class _Transport:
    """Stands in for an RTCDtlsTransport (the wrappers keep their counts on it)."""


def _longest_run(ticks: list[int], total: int) -> int:
    """The most packets that went by without the ticker running in between."""
    seen = sorted({0, total, *ticks})
    return max(b - a for a, b in itertools.pairwise(seen))


async def _ticking(ticks: list[int], seen: list[bytes]) -> None:
    while True:
        ticks.append(len(seen))
        await asyncio.sleep(0)


async def test_a_transport_sending_a_big_frame_lets_the_loop_run_between_bursts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A keyframe's ~225 packets no longer leave in one step of the sender's task: other
    callbacks (timers, consent checks) run between bursts, and the packets keep their order."""
    sent: list[bytes] = []

    async def send(transport: object, data: bytes) -> None:
        sent.append(data)

    monkeypatch.setattr(short_turns, "_SEND_RTP", send)
    ticks: list[int] = []
    ticker = asyncio.create_task(_ticking(ticks, sent))
    await asyncio.sleep(0)
    transport = _Transport()
    packets = [b"%d" % i for i in range(10 * short_turns.SEND_BURST)]
    for packet in packets:
        await short_turns._send_rtp_in_bursts(transport, packet)  # type: ignore[arg-type]
    ticker.cancel()
    assert sent == packets
    assert _longest_run(ticks, len(packets)) == short_turns.SEND_BURST


async def test_a_transport_handling_a_backlog_lets_the_loop_run_between_bursts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Datagrams already queued are handled a burst per step, not all in one."""
    handled: list[bytes] = []

    async def recv_next(transport: object) -> None:
        handled.append(b"x")

    monkeypatch.setattr(short_turns, "_RECV_NEXT", recv_next)
    ticks: list[int] = []
    ticker = asyncio.create_task(_ticking(ticks, handled))
    await asyncio.sleep(0)
    transport = _Transport()
    for _ in range(10 * short_turns.RECEIVE_BURST):
        await short_turns._recv_next_in_bursts(transport)  # type: ignore[arg-type]
    ticker.cancel()
    assert len(handled) == 10 * short_turns.RECEIVE_BURST
    assert _longest_run(ticks, len(handled)) == short_turns.RECEIVE_BURST


def _big_frames(codec: str, count: int) -> list[bytes]:
    """``count`` encoded 1280x720 frames of blocky noise (a keyframe first): 40-400 packets
    each (aiortc's jitter buffer holds 512)."""
    encoder = av.CodecContext.create("libx264" if codec == "H264" else "libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 1280, 720, "yuv420p"
    encoder.bit_rate = 8_000_000
    encoder.time_base = fractions.Fraction(1, 30)
    if codec == "H264":
        encoder.options = {"profile": "baseline", "tune": "zerolatency", "preset": "ultrafast"}
    rng = numpy.random.default_rng(9)
    frames: list[bytes] = []
    for i in range(count + 10):
        blocks = rng.integers(0, 255, (45, 80, 3), dtype=numpy.uint8)
        picture = av.VideoFrame.from_ndarray(
            blocks.repeat(16, axis=0).repeat(16, axis=1), format="rgb24"
        )
        picture.pts = i
        frames += [bytes(p) for p in encoder.encode(picture.reformat(format="yuv420p"))]
        if len(frames) >= count:
            break
    return frames[:count]


@pytest.mark.parametrize("codec", ["H264", "VP8"])
async def test_big_frames_cross_whole_with_short_turns(codec: str) -> None:
    """Real peers, encoded frames forwarded as the server does (EncodedTrack), each of them
    sent and received in many bursts: every frame arrives whole and decodes, in order."""
    aiortc_tap.install_short_turns()
    frames = _big_frames(codec, 8)
    assert len(frames[0]) > 2 * short_turns.SEND_BURST * 1200  # the keyframe: bursts of it
    got: list[EncodedFrame] = []
    enough = asyncio.Event()

    def on_frame(frame: EncodedFrame) -> None:
        got.append(frame)
        if len(got) >= len(frames) - 1:  # the last one is handed over when another begins
            enough.set()

    track = EncodedTrack("video")
    sender_pc, receiver_pc = await _video_peers(codec, track, on_frame)
    try:
        await eventually(lambda: sender_pc.connectionState == "connected", 20, "no connection")
        for i, data in enumerate(frames):
            track.push(data, i * 3000, keyframe=i == 0)
            await asyncio.sleep(0.1)
        await asyncio.wait_for(enough.wait(), 30)
    finally:
        await _stop(track, sender_pc, receiver_pc)
    pictures = _decoded(codec, got)
    assert len(pictures) == len(got) == len(frames) - 1
    assert {(p.width, p.height) for p in pictures} == {(1280, 720)}
    assert [f.timestamp for f in got] == [i * 3000 for i in range(len(got))]
    if codec == "VP8":  # the payload as it was (H.264 gets its own start codes back)
        assert [f.data for f in got] == frames[: len(got)]
