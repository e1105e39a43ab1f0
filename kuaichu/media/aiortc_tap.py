"""The one module that reaches into aiortc's internals (aiortc is pinned exactly).

aiortc depayloads and reassembles each frame, then puts ``(codec, JitterFrame)`` on a
``queue.Queue`` read by a decoder thread per receiver. We replace that queue with one that
hands the encoded frame to us on the event loop and forwards only the stop sentinel (and,
while someone asks for decoded frames, the frames) to the decoder thread. Nothing is decoded
while nobody asks. The receiver's jitter buffer is replaced by kuaichu.media.jitter's, which
returns the same frames without rescanning every held packet on each one that arrives.

On the sending side, aiortc turns a PLI/FIR into ``sender._send_keyframe()``, which only
affects its own encoder; in pack mode (we forward encoded frames) that is a no-op, so we
intercept it to forward the request to the driver.

Bandwidth (kuaichu.media.bandwidth decides, this module carries it out): aiortc's receiver runs
a receive-side delay estimator per video packet and sends its REMB; we switch it off and send
our own REMB. The officer leg's RTCP feedback (receiver reports, NACKs, REMB, PLI/FIR) is
observed where aiortc's sender handles it, and the NACKs and PLIs a receiver sends are counted.

Short loop turns (:func:`install_short_turns`, kuaichu.media.short_turns): each DTLS transport
lets the loop run other callbacks after every few packets it receives or sends.

Everything here is checked by ``check_aiortc_internals()`` on first use and by
``tests/media/test_aiortc_tap.py``: if aiortc changes, they fail loudly instead of
silently dropping media.
"""

from __future__ import annotations

import inspect
import logging
import queue
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiortc
from aiortc import RTCRtpReceiver, RTCRtpSender, jitterbuffer
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpreceiver import decoder_worker
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSrPacket,
    pack_remb_fci,
    unpack_remb_fci,
)

from kuaichu.media import short_turns
from kuaichu.media.jitter import GIVE_UP_SECONDS, MAX_MISORDER, FrameBuffer

logger = logging.getLogger(__name__)

EXPECTED_AIORTC_VERSION = "1.16.0"

_QUEUE_ATTR = "_RTCRtpReceiver__decoder_queue"
_JITTER_ATTR = "_RTCRtpReceiver__jitter_buffer"
_RTX_ATTR = "_RTCRtpReceiver__rtx_ssrc"
_CODECS_ATTR = "_RTCRtpReceiver__codecs"
_ESTIMATOR_ATTR = "_RTCRtpReceiver__remote_bitrate_estimator"
_RTCP_SSRC_ATTR = "_RTCRtpReceiver__rtcp_ssrc"
_STREAMS_ATTR = "_RTCRtpReceiver__remote_streams"
_PACKETS_SENT_ATTR = "_RTCRtpSender__packet_count"


class AiortcInternalsChanged(RuntimeError):
    """aiortc no longer looks like the version this module was written against."""


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One encoded access unit as aiortc reassembled it.

    ``timestamp`` is aiortc's mapped RTP timestamp (starts at 0 per receiver, in ``clock_rate``
    units); ``codec`` is the codec name as in SDP ("H264", "VP8", "opus").
    """

    codec: str
    mime_type: str
    clock_rate: int
    data: bytes
    timestamp: int
    # Packets were dropped since the previous frame (a hole given up, an overflow): this
    # frame and the ones after it may reference a picture that never arrived.
    after_loss: bool = False


OnFrame = Callable[[EncodedFrame], None]

_checked = False


def check_aiortc_internals() -> None:
    """Raise AiortcInternalsChanged if anything this module relies on moved."""
    global _checked
    if _checked:
        return
    problems: list[str] = []
    if aiortc.__version__ != EXPECTED_AIORTC_VERSION:
        problems.append(
            f"aiortc {aiortc.__version__} installed, kuaichu.media.aiortc_tap was written "
            f"for {EXPECTED_AIORTC_VERSION}"
        )
    params = list(inspect.signature(decoder_worker).parameters)
    if params != ["loop", "input_q", "output_q", "decode_error"]:
        problems.append(f"decoder_worker signature is now {params}")
    receiver_init = inspect.getsource(RTCRtpReceiver.__init__)
    for needle in ("self.__decoder_queue: queue.Queue", "self.__rtx_ssrc", "self.__codecs"):
        if needle not in receiver_init:
            problems.append(f"RTCRtpReceiver.__init__ no longer sets {needle!r}")
    handle = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    if "self.__decoder_queue.put((codec, encoded_frame))" not in handle:
        problems.append("RTCRtpReceiver._handle_rtp_packet no longer puts (codec, frame)")
    if list(inspect.signature(RTCRtpReceiver._send_rtcp_pli).parameters) != [
        "self",
        "media_ssrc",
    ]:
        problems.append("RTCRtpReceiver._send_rtcp_pli signature changed")
    rtcp = inspect.getsource(RTCRtpSender._handle_rtcp_packet)
    if "self._send_keyframe()" not in rtcp:
        problems.append("RTCRtpSender._handle_rtcp_packet no longer calls _send_keyframe()")
    nxt = inspect.getsource(RTCRtpSender._next_encoded_frame)
    if "self.__encoder.pack(data)" not in nxt:
        problems.append("RTCRtpSender._next_encoded_frame no longer packs non-Frame data")
    problems += _bandwidth_problems(receiver_init, handle)
    problems += _jitter_problems(receiver_init, handle)
    problems += short_turns.problems()
    if problems:
        raise AiortcInternalsChanged(
            "kuaichu.media cannot forward encoded media with this aiortc: " + "; ".join(problems)
        )
    _checked = True


def _bandwidth_problems(receiver_init: str, handle: str) -> list[str]:
    """What the REMB and feedback hooks rely on."""
    problems: list[str] = []
    for needle in (
        "self.__remote_bitrate_estimator = RemoteBitrateEstimator()",
        "self.__rtcp_ssrc",
        "self.__remote_streams: dict[int, StreamStatistics]",
    ):
        if needle not in receiver_init:
            problems.append(f"RTCRtpReceiver.__init__ no longer sets {needle!r}")
    for needle in (
        "if self.__remote_bitrate_estimator is not None:",
        "await self._send_rtcp_nack(",
        "await self._send_rtcp_pli(packet.ssrc)",
    ):
        if needle not in handle:
            problems.append(f"RTCRtpReceiver._handle_rtp_packet no longer has {needle!r}")
    for method, params in (
        (RTCRtpReceiver._send_rtcp, ["self", "packet"]),
        (RTCRtpReceiver._send_rtcp_nack, ["self", "media_ssrc", "lost"]),
        (RTCRtpSender._handle_rtcp_packet, ["self", "packet"]),
    ):
        if list(inspect.signature(method).parameters) != params:
            problems.append(f"{method.__qualname__} signature changed")
    if "await recipient._handle_rtcp_packet(packet)" not in inspect.getsource(
        RTCDtlsTransport._handle_rtcp_data
    ):
        problems.append("RTCDtlsTransport no longer hands RTCP to _handle_rtcp_packet")
    if "self.__packet_count += 1" not in inspect.getsource(RTCRtpSender._run_rtp):
        problems.append("RTCRtpSender._run_rtp no longer counts packets sent")
    return problems


def _jitter_problems(receiver_init: str, handle: str) -> list[str]:
    """What replacing the jitter buffer relies on (its behaviour is checked against aiortc's
    by tests/media/test_jitter.py)."""
    problems: list[str] = []
    for needle in (
        "self.__jitter_buffer = JitterBuffer(capacity=16, prefetch=4)",
        "self.__jitter_buffer = JitterBuffer(capacity=512, is_video=True)",
    ):
        if needle not in receiver_init:
            problems.append(f"RTCRtpReceiver.__init__ no longer sets {needle!r}")
    for needle in (
        "packet._data = depayload(codec, packet.payload)",
        "pli_flag, encoded_frame = self.__jitter_buffer.add(packet)",
    ):
        if needle not in handle:
            problems.append(f"RTCRtpReceiver._handle_rtp_packet no longer has {needle!r}")
    buffer_init = inspect.getsource(jitterbuffer.JitterBuffer.__init__)
    for attr in ("_capacity", "_origin", "_packets", "_prefetch", "_is_video"):
        if f"self.{attr}" not in buffer_init:
            problems.append(f"JitterBuffer no longer keeps self.{attr}")
    if jitterbuffer.MAX_MISORDER != MAX_MISORDER:
        problems.append(f"JitterBuffer's MAX_MISORDER is now {jitterbuffer.MAX_MISORDER}")
    return problems


def install_short_turns() -> None:
    """Short loop turns for every DTLS transport of the process (kuaichu.media.short_turns),
    once aiortc's internals are checked. Idempotent."""
    check_aiortc_internals()
    short_turns.install()


def _install_frame_buffer(receiver: RTCRtpReceiver) -> None:
    """Swap the receiver's jitter buffer for a FrameBuffer carrying on from its state (packets
    may have arrived already). Idempotent."""
    current = getattr(receiver, _JITTER_ATTR)
    if isinstance(current, FrameBuffer):
        return
    if type(current) is not jitterbuffer.JitterBuffer:
        raise AiortcInternalsChanged(f"receiver jitter buffer is a {type(current)!r}")
    setattr(
        receiver,
        _JITTER_ATTR,
        FrameBuffer.taking_over(
            current._capacity,
            current._prefetch,
            current._is_video,
            current._origin,
            current._packets,
            give_up_after=GIVE_UP_SECONDS if current._is_video else None,
        ),
    )


class _TapQueue(queue.Queue[Any]):
    """Stands in for the receiver's decoder queue.

    ``put`` runs on the event loop (from ``_handle_rtp_packet``). ``get`` is delegated to the
    original queue so the decoder thread works whether it was started with the original queue
    (tap installed after ``receive()``) or with this one (tap installed before).
    """

    def __init__(self, inner: queue.Queue[Any], on_frame: OnFrame, frames: FrameBuffer) -> None:
        super().__init__()
        self.inner = inner
        self.on_frame = on_frame
        self.decode = False
        self.frames = frames
        self._losses_seen = frames.losses

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            self.inner.put(None)
            return
        codec, jitter_frame = item
        losses = self.frames.losses
        after_loss, self._losses_seen = losses != self._losses_seen, losses
        try:
            self.on_frame(
                EncodedFrame(
                    codec=codec.name,
                    mime_type=codec.mimeType,
                    clock_rate=codec.clockRate,
                    data=jitter_frame.data,
                    timestamp=jitter_frame.timestamp,
                    after_loss=after_loss,
                )
            )
        except Exception:
            # A bug in a consumer must not kill aiortc's RTP handling for the whole leg.
            logger.exception("encoded frame consumer failed")
        if self.decode:
            self.inner.put(item)

    def put_nowait(self, item: Any) -> None:
        self.put(item, block=False)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        return self.inner.get(block, timeout)

    def get_nowait(self) -> Any:
        return self.inner.get_nowait()

    def qsize(self) -> int:
        return self.inner.qsize()


def tap_receiver(receiver: RTCRtpReceiver, on_frame: OnFrame) -> None:
    """Route the receiver's encoded frames to ``on_frame`` (on the event loop) instead of
    decoding them, reassembled by a FrameBuffer. Idempotent: a second call replaces the
    callback."""
    check_aiortc_internals()
    _install_frame_buffer(receiver)
    current = getattr(receiver, _QUEUE_ATTR)
    if isinstance(current, _TapQueue):
        current.on_frame = on_frame
        return
    if not isinstance(current, queue.Queue):
        raise AiortcInternalsChanged(f"receiver decoder queue is a {type(current)!r}")
    setattr(receiver, _QUEUE_ATTR, _TapQueue(current, on_frame, getattr(receiver, _JITTER_ATTR)))


def set_decoding(receiver: RTCRtpReceiver, enabled: bool) -> None:
    """Also feed frames to aiortc's decoder (receiver.track.recv() then yields decoded
    frames). For evidence capture: switch on, wait for a keyframe, switch off."""
    current = getattr(receiver, _QUEUE_ATTR)
    if not isinstance(current, _TapQueue):
        raise RuntimeError("receiver is not tapped")
    current.decode = enabled


def media_ssrc(receiver: RTCRtpReceiver) -> int | None:
    """The SSRC of the remote media stream (not its RTX stream), if any packet arrived."""
    rtx: dict[int, int] = getattr(receiver, _RTX_ATTR)
    sources = sorted(receiver.getSynchronizationSources(), key=lambda s: s.timestamp)
    for source in reversed(sources):
        if source.source not in rtx:
            return int(source.source)
    return None


def send_pli(receiver: RTCRtpReceiver) -> Coroutine[Any, Any, bool] | None:
    """A coroutine sending an RTCP PLI to the remote sender, or None when the remote SSRC is
    not known yet (no media received)."""
    ssrc = media_ssrc(receiver)
    if ssrc is None:
        return None

    async def _send() -> bool:
        await receiver._send_rtcp_pli(ssrc)
        return True

    return _send()


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call ``callback`` (on the event loop) when the remote peer asks this sender for a
    keyframe (PLI or FIR)."""
    check_aiortc_internals()
    original = sender._send_keyframe

    def _send_keyframe() -> None:
        original()
        try:
            callback()
        except Exception:
            logger.exception("keyframe request callback failed")

    # Instance attribute shadows the method: _handle_rtcp_packet calls self._send_keyframe().
    sender._send_keyframe = _send_keyframe  # type: ignore[method-assign]


# ---- bandwidth: our REMB instead of aiortc's, and the RTCP feedback around it -------------


def disable_receive_estimator(receiver: RTCRtpReceiver) -> None:
    """Stop aiortc's receive-side delay estimator on this (video) receiver: it then sends no
    REMB of its own (and stops costing CPU per packet). kuaichu.media.bandwidth decides."""
    check_aiortc_internals()
    if not hasattr(receiver, _ESTIMATOR_ATTR):
        raise AiortcInternalsChanged("RTCRtpReceiver has no remote bitrate estimator attribute")
    setattr(receiver, _ESTIMATOR_ATTR, None)


def remote_media_ssrcs(receiver: RTCRtpReceiver) -> list[int]:
    """The remote sender's media SSRCs: those its SDP pairs with an RTX stream, else the one
    packets came from; empty before either is known."""
    rtx: dict[int, int] = getattr(receiver, _RTX_ATTR)
    ssrcs = sorted(set(rtx.values()))
    if not ssrcs:
        ssrc = media_ssrc(receiver)
        if ssrc is not None:
            ssrcs = [ssrc]
    return ssrcs


def send_remb(receiver: RTCRtpReceiver, bitrate_bps: int) -> Coroutine[Any, Any, bool] | None:
    """A coroutine sending one REMB (receiver estimated maximum bitrate) to the remote
    sender, or None before the receiver has an RTCP SSRC (no remote description yet). The
    coroutine answers False when the transport is not connected yet."""
    rtcp_ssrc = getattr(receiver, _RTCP_SSRC_ATTR)
    if rtcp_ssrc is None:
        return None
    packet = RtcpPsfbPacket(
        fmt=RTCP_PSFB_APP,
        ssrc=rtcp_ssrc,
        media_ssrc=0,
        fci=pack_remb_fci(int(bitrate_bps), remote_media_ssrcs(receiver)),
    )

    async def _send() -> bool:
        if receiver.transport.state != "connected":
            return False
        await receiver._send_rtcp(packet)
        return True

    return _send()


@dataclass(frozen=True, slots=True)
class InboundCounts:
    """Media packets a receiver got and the ones missing (RTX streams left out)."""

    received: int
    lost: int


def inbound_counts(receiver: RTCRtpReceiver) -> InboundCounts:
    """Packets received and lost (aiortc's RTCP statistics) on the receiver's media SSRCs."""
    streams: dict[int, Any] = getattr(receiver, _STREAMS_ATTR)
    rtx: dict[int, int] = getattr(receiver, _RTX_ATTR)
    received = lost = 0
    for ssrc, stream in list(streams.items()):
        if ssrc in rtx:
            continue
        received += int(stream.packets_received)
        lost += max(0, int(stream.packets_lost))
    return InboundCounts(received, lost)


def packets_sent(sender: RTCRtpSender) -> int:
    """RTP packets the sender sent (retransmissions not counted)."""
    return int(getattr(sender, _PACKETS_SENT_ATTR))


def watch_receiver_feedback(
    receiver: RTCRtpReceiver,
    on_nack: Callable[[int], None] | None,
    on_pli: Callable[[], None],
) -> None:
    """Call ``on_nack(packets)`` for each NACK (unless None) and ``on_pli()`` for each PLI
    the receiver sends (aiortc's own and kuaichu's keyframe requests alike). Watchers chain:
    each call wraps what the receiver sends through now."""
    check_aiortc_internals()
    # Instance attributes shadow the methods: _handle_rtp_packet calls self._send_rtcp_*().
    if on_nack is not None:
        counted: Callable[[int], None] = on_nack
        nack = receiver._send_rtcp_nack

        async def _send_rtcp_nack(media_ssrc: int, lost: list[int]) -> None:
            _safely(counted, len(lost))
            await nack(media_ssrc, lost)

        receiver._send_rtcp_nack = _send_rtcp_nack  # type: ignore[method-assign]
    pli = receiver._send_rtcp_pli

    async def _send_rtcp_pli(media_ssrc: int) -> None:
        _safely(on_pli)
        await pli(media_ssrc)

    receiver._send_rtcp_pli = _send_rtcp_pli  # type: ignore[method-assign]


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    """One report block about our sender's stream, from the remote receiver."""

    fraction_lost: float  # 0..1 since its previous report
    packets_lost: int  # cumulative


class SenderFeedback:
    """What the remote receiver tells one of our senders; subclass or assign the callbacks.
    Each runs on the event loop inside aiortc's RTCP handling: keep them short."""

    def on_report(self, report: ReceiverReport) -> None:
        """A receiver report (RR, or the report blocks of an SR) about our stream."""

    def on_nack(self, packets: int) -> None:
        """A NACK asking for ``packets`` packets again."""

    def on_remb(self, bitrate_bps: int) -> None:
        """The remote receiver's estimate of what it can receive."""

    def on_keyframe_request(self) -> None:
        """A PLI or FIR."""


def watch_sender_feedback(sender: RTCRtpSender, feedback: SenderFeedback) -> None:
    """Hand the RTCP feedback that reaches ``sender`` to ``feedback`` before aiortc handles
    it as usual."""
    check_aiortc_internals()
    handle = sender._handle_rtcp_packet

    async def _handle_rtcp_packet(packet: Any) -> None:
        try:
            _observe(sender, packet, feedback)
        except Exception:
            logger.exception("sender feedback consumer failed")
        await handle(packet)

    # The DTLS transport calls recipient._handle_rtcp_packet(packet): the instance attribute wins.
    sender._handle_rtcp_packet = _handle_rtcp_packet  # type: ignore[method-assign]


def _observe(sender: RTCRtpSender, packet: Any, feedback: SenderFeedback) -> None:
    if isinstance(packet, (RtcpRrPacket, RtcpSrPacket)):
        for block in packet.reports:
            if block.ssrc == sender._ssrc:
                feedback.on_report(ReceiverReport(block.fraction_lost / 256, block.packets_lost))
    elif isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
        feedback.on_nack(len(packet.lost))
    elif isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
        feedback.on_keyframe_request()
    elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
        try:
            bitrate, ssrcs = unpack_remb_fci(packet.fci)
        except ValueError:
            return
        if not ssrcs or sender._ssrc in ssrcs:
            feedback.on_remb(bitrate)


def _safely(callback: Callable[..., None], *args: Any) -> None:
    try:
        callback(*args)
    except Exception:
        logger.exception("RTCP feedback counter failed")
