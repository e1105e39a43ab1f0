"""The one module that reaches into aiortc's internals (aiortc is pinned exactly).

aiortc depayloads and reassembles each frame, then puts ``(codec, JitterFrame)`` on a
``queue.Queue`` read by a decoder thread per receiver. We replace that queue with one that
hands the encoded frame to us on the event loop and forwards only the stop sentinel (and,
while someone asks for decoded frames, the frames) to the decoder thread. Nothing is decoded
while nobody asks.

On the sending side, aiortc turns a PLI/FIR into ``sender._send_keyframe()``, which only
affects its own encoder; in pack mode (we forward encoded frames) that is a no-op, so we
intercept it to forward the request to the driver.

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
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.rtcrtpreceiver import decoder_worker

logger = logging.getLogger(__name__)

EXPECTED_AIORTC_VERSION = "1.16.0"

_QUEUE_ATTR = "_RTCRtpReceiver__decoder_queue"
_RTX_ATTR = "_RTCRtpReceiver__rtx_ssrc"
_CODECS_ATTR = "_RTCRtpReceiver__codecs"


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
    if problems:
        raise AiortcInternalsChanged(
            "kuaichu.media cannot forward encoded media with this aiortc: " + "; ".join(problems)
        )
    _checked = True


class _TapQueue(queue.Queue[Any]):
    """Stands in for the receiver's decoder queue.

    ``put`` runs on the event loop (from ``_handle_rtp_packet``). ``get`` is delegated to the
    original queue so the decoder thread works whether it was started with the original queue
    (tap installed after ``receive()``) or with this one (tap installed before).
    """

    def __init__(self, inner: queue.Queue[Any], on_frame: OnFrame) -> None:
        super().__init__()
        self.inner = inner
        self.on_frame = on_frame
        self.decode = False

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            self.inner.put(None)
            return
        codec, jitter_frame = item
        try:
            self.on_frame(
                EncodedFrame(
                    codec=codec.name,
                    mime_type=codec.mimeType,
                    clock_rate=codec.clockRate,
                    data=jitter_frame.data,
                    timestamp=jitter_frame.timestamp,
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
    decoding them. Idempotent: a second call replaces the callback."""
    check_aiortc_internals()
    current = getattr(receiver, _QUEUE_ATTR)
    if isinstance(current, _TapQueue):
        current.on_frame = on_frame
        return
    if not isinstance(current, queue.Queue):
        raise AiortcInternalsChanged(f"receiver decoder queue is a {type(current)!r}")
    setattr(receiver, _QUEUE_ATTR, _TapQueue(current, on_frame))


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
